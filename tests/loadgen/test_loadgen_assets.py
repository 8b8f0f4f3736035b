"""The page's files from memory (loadgen/edge/assets.py): cache headers, revalidation, the favicon a browser
asks for without reading the page, and nothing else served."""
import asyncio
from importlib.resources import files

from loadgen.edge.assets import StaticAssets


def get(app, path, method="GET", headers=()):
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    asyncio.run(app({"type": "http", "path": path, "method": method, "headers": list(headers)}, receive, send))
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def test_assets_revalidate_and_the_page_is_never_cached():
    app = StaticAssets(files("loadgen") / "static")
    status, headers, body = get(app, "/static/app.js")
    assert status == 200 and headers[b"cache-control"].startswith(b"public, max-age=") and body
    assert get(app, "/static/app.js", headers=[(b"if-none-match", headers[b"etag"])])[0] == 304
    status, headers, _ = get(app, "/")
    assert status == 200 and headers[b"cache-control"] == b"no-cache"
    assert get(app, "/static/nope.js")[0] == 404 and get(app, "/static/app.js", method="POST")[0] == 405


def test_the_favicon_is_served_where_browsers_ask_for_it():
    app = StaticAssets(files("loadgen") / "static")
    for path in ("/favicon.ico", "/static/favicon.svg"):
        status, headers, body = get(app, path)
        assert status == 200 and headers[b"content-type"].startswith(b"image/svg+xml") and body.startswith(b"<svg"), path
    assert b'rel="icon" href="/static/favicon.svg"' in get(app, "/")[2]
