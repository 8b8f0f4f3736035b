"""A FAKE of exactly the DigitalOcean API calls `pulumi preview -s dev|prod` makes, on loopback.

The real DigitalOcean provider (built from source, localcluster/tools.py) answers the program's
look-ups at preview by calling the API. Offline, this server answers them, shaped like the documented
API (docs.digitalocean.com/reference/api: `GET /v2/domains/{name}`, `GET /v2/kubernetes/options`,
and the S3 `HeadBucket` Spaces serves), and refuses everything else with a 599 that names the request,
which the test then reports: a new look-up in the program is noticed, never answered by accident.

It is one HTTP server in two roles:
- the API endpoint: the provider's `digitalocean:apiEndpoint` points at `http://127.0.0.1:<port>`;
- the Spaces endpoint, as an HTTP proxy: `digitalocean:spacesEndpoint` is `http://{{.Region}}.<SPACES_DOMAIN>`,
  and the S3 client puts the bucket in the host name (`<bucket>.atl1.spaces.invalid`), which no resolver
  knows, so the CLI runs with `HTTP_PROXY` naming this server and the request arrives here in proxy
  form. Go never proxies a loopback address, so the API calls come straight in.

Credentials are checked as the real services check them: a bearer token on the API, a SigV4
`Authorization` naming the access key on Spaces (the signature itself is not verified).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SPACES_DOMAIN = "spaces.invalid"  # RFC 2606: never resolves, so nothing can reach a real host by mistake
REFUSED = 599  # not an HTTP status the real API uses, so a refused call is unmistakable in the provider's error

# GET /v2/kubernetes/options, as documented (regions, versions newest first, sizes); the slugs are DOKS's.
KUBERNETES_OPTIONS = {"options": {
    "regions": [{"name": name, "slug": slug} for slug, name in (
        ("ams3", "Amsterdam 3"), ("atl1", "Atlanta 1"), ("blr1", "Bangalore 1"), ("fra1", "Frankfurt 1"),
        ("lon1", "London 1"), ("nyc1", "New York 1"), ("nyc3", "New York 3"), ("sfo3", "San Francisco 3"),
        ("sgp1", "Singapore 1"), ("syd1", "Sydney 1"), ("tor1", "Toronto 1"))],
    "versions": [
        {"slug": "1.34.1-do.0", "kubernetes_version": "1.34.1", "supported_features": ["cluster-autoscaler"]},
        {"slug": "1.33.5-do.0", "kubernetes_version": "1.33.5", "supported_features": ["cluster-autoscaler"]},
        {"slug": "1.32.9-do.0", "kubernetes_version": "1.32.9", "supported_features": ["cluster-autoscaler"]},
    ],
    "sizes": [{"name": slug, "slug": slug} for slug in (
        "s-2vcpu-4gb", "s-4vcpu-8gb", "gpu-h100x1-80gb", "gpu-h100x8-640gb", "gpu-h200x8-1128gb-contracted")],
}}
NOT_FOUND = {"id": "not_found", "message": "The resource you were accessing could not be found."}
UNAUTHORIZED = {"id": "unauthorized", "message": "Unable to authenticate you"}


@dataclass
class Call:
    method: str
    url: str
    status: int


@dataclass
class FakeDigitalOcean:
    """Answers for one account: its API token, its domains, and its Spaces buckets (name -> region)."""

    token: str
    spaces_access_id: str
    domains: tuple[str, ...]
    buckets: dict[str, str]
    calls: list[Call] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.server_address[1]

    @property
    def api_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def spaces_endpoint(self) -> str:
        return "http://{{.Region}}." + SPACES_DOMAIN

    def refused(self) -> list[Call]:
        return [c for c in self.calls if c.status == REFUSED]

    def start(self) -> "FakeDigitalOcean":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # the calls list is the log
                pass

            def _handle(self) -> None:
                url = urlsplit(self.path)
                host = (url.hostname or self.headers.get("Host", "").split(":")[0]).lower()
                full = f"http://{host}{url.path}" + (f"?{url.query}" if url.query else "")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(min(length, 1 << 20))
                status, body = fake.answer(self.command, host, url.path, dict(self.headers))
                fake.calls.append(Call(self.command, full, status))
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status, "Refused by fake" if status == REFUSED else None)
                self.send_header("Content-Type", "application/json" if body is not None else "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_CONNECT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-digitalocean", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeDigitalOcean":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the answers ---------------------------------------------------------------------------

    def answer(self, method: str, host: str, path: str, headers: dict[str, str]) -> tuple[int, dict | None]:
        if host in ("127.0.0.1", "localhost"):
            return self._api(method, path, headers)
        spaces = re.fullmatch(rf"(?P<bucket>[a-z0-9.-]+)\.(?P<region>[a-z0-9]+)\.{re.escape(SPACES_DOMAIN)}", host)
        if spaces and method == "HEAD" and path in ("", "/"):
            return self._head_bucket(spaces["bucket"], spaces["region"], headers)
        return REFUSED, {"refused": f"{method} {host}{path}: not a call the program is known to make"}

    def _api(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict | None]:
        if method != "GET":
            return REFUSED, {"refused": f"{method} {path}: a preview must not change anything"}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return HTTPStatus.UNAUTHORIZED, UNAUTHORIZED
        if path == "/v2/kubernetes/options":
            return HTTPStatus.OK, KUBERNETES_OPTIONS
        domain = re.fullmatch(r"/v2/domains/(?P<name>[^/]+)", path)
        if domain:
            name = domain["name"]
            if name not in self.domains:
                return HTTPStatus.NOT_FOUND, NOT_FOUND
            return HTTPStatus.OK, {"domain": {"name": name, "ttl": 1800,
                                              "zone_file": f"$ORIGIN {name}.\n$TTL 1800\n"}}
        return REFUSED, {"refused": f"GET {path}: not a call the program is known to make"}

    def _head_bucket(self, bucket: str, region: str, headers: dict[str, str]) -> tuple[int, None]:
        credential = re.search(r"Credential=([^/]+)/", headers.get("Authorization", ""))
        if not credential or credential.group(1) != self.spaces_access_id:
            return HTTPStatus.FORBIDDEN, None
        if self.buckets.get(bucket) != region:
            return HTTPStatus.NOT_FOUND, None
        return HTTPStatus.OK, None
