"""The booth page's files, read into memory once and served with cache headers.

Before, each asset was a StaticFiles read from disk through a worker thread, inside the request pool:
200 clients that never read the 210 KB chart library held every anonymous slot. Now an asset costs no
slot, no thread and no disk read; the browser revalidates with its ETag (304, no body), and the page
itself is never cached so a new deployment shows at once.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib.resources.abc import Traversable

ASSET_MAX_AGE_S = 300  # names carry no content hash: five minutes, then an ETag revalidation


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str
    cache_control: str


def _walk(folder: Traversable, prefix: str = ""):
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{entry.name}/")
        elif entry.is_file():
            yield f"{prefix}{entry.name}", entry.read_bytes()


class StaticAssets:
    """ASGI app for `/` (the page), `/favicon.ico` and `/static/<path>`; anything else under it is a 404."""

    def __init__(self, folder: Traversable, index: str = "index.html") -> None:
        self.assets: dict[str, Asset] = {}
        for name, body in _walk(folder):
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype in ("application/javascript", "text/javascript"):
                ctype += "; charset=utf-8"
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            page = name == index
            self.assets["/" if page else f"/static/{name}"] = Asset(
                body, ctype, etag, "no-cache" if page else f"public, max-age={ASSET_MAX_AGE_S}")
        if "/static/favicon.svg" in self.assets:  # what browsers and crawlers ask for without reading the page
            self.assets["/favicon.ico"] = self.assets["/static/favicon.svg"]

    async def __call__(self, scope, receive, send) -> None:
        asset = self.assets.get(scope["path"])
        method = scope.get("method", "GET")
        if asset is None or method not in ("GET", "HEAD"):
            status, body, headers = (404, b"not found", [(b"content-type", b"text/plain")]) if asset is None else \
                (405, b"method not allowed", [(b"content-type", b"text/plain"), (b"allow", b"GET, HEAD")])
            await send({"type": "http.response.start", "status": status,
                        "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        headers = [(b"etag", asset.etag.encode()), (b"cache-control", asset.cache_control.encode())]
        matches = any(k == b"if-none-match" and asset.etag.encode() in v for k, v in scope.get("headers", []))
        if matches:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [(b"content-type", asset.content_type.encode()), (b"content-length", str(len(asset.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else asset.body})
