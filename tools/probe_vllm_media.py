"""Check, with vLLM's own MediaConnector, the media-fetch settings the vLLM container gets (docs/security.md, 1).

Run it with the Python of an environment where vLLM is installed (it is not a dependency of this project):

    VLLM_MEDIA_URL_ALLOW_REDIRECTS=0 /path/to/vllm-venv/bin/python tools/probe_vllm_media.py

A local HTTP server answers ``/redirect`` with a 302 to ``/final``. Expected, as the stack configures vLLM:
a URL to a host other than the allowed one is refused before any request, and a redirect from the allowed host
is not followed (the server logs ``GET /redirect`` and never ``GET /final``). Exits 1 otherwise.
"""

from __future__ import annotations

import http.server
import sys
import threading

from vllm.multimodal.media.connector import MediaConnector
from vllm.multimodal.media.image import ImageMediaIO

seen: list[str] = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        seen.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/final")
            self.end_headers()
        else:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"internal secret")

    def log_message(self, *_: object) -> None:
        pass


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    ok = True
    # No host allowed: the stack passes media.invalid (never resolves), so every http(s) fetch is refused.
    try:
        MediaConnector(allowed_media_domains=["media.invalid"]).load_from_url(
            f"http://127.0.0.1:{port}/final", ImageMediaIO()
        )
        ok = False
    except ValueError as exc:
        print("other host refused:", exc)
    ok = ok and seen == []
    # The allowed host redirects elsewhere: with VLLM_MEDIA_URL_ALLOW_REDIRECTS=0 the redirect is not followed.
    try:
        MediaConnector(allowed_media_domains=["localhost"]).load_from_url(
            f"http://localhost:{port}/redirect", ImageMediaIO()
        )
    except Exception as exc:  # noqa: BLE001 - any failure is fine, what matters is what was fetched
        print("redirect not loaded:", type(exc).__name__)
    print("requests the server saw:", seen)
    ok = ok and seen == ["/redirect"]
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
