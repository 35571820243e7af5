"""The browser chat page at ``GET /``: one self-contained HTML document, no build step, no third-party origin.

The page is static (it holds no data and no secrets), so API Gateway serves it without auth; it then calls the
authenticated API from the browser with an API key or SigV4 credentials the user types in. Its script and style
are inlined and allowed by their SHA-256 hashes in a strict Content-Security-Policy (no ``unsafe-inline``), and
``connect-src 'self'`` keeps the page talking only to the API it came from (same origin: no CORS needed).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from fastapi.responses import HTMLResponse

STATIC = Path(__file__).resolve().parent / "static"


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


@cache
def page() -> tuple[bytes, dict[str, str]]:
    """The HTML and its security headers, assembled once from static/."""
    script = (STATIC / "sigv4.js").read_text() + "\n" + (STATIC / "chat.js").read_text()
    style = (STATIC / "chat.css").read_text()
    for name, source in (("script", script), ("style", style)):
        # Either would end its element early and turn the rest into markup.
        if f"</{name}" in source.lower():
            raise ValueError(f"static {name} must not contain '</{name}'")
    html = (STATIC / "index.html").read_text().replace("{{style}}", style).replace("{{script}}", script)
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_hash(script)}",
            f"style-src {_hash(style)}",
            "connect-src 'self'",
            "img-src data:",  # the empty favicon only
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }
    return html.encode(), headers


async def chat_page() -> HTMLResponse:
    """The browser chat page. Static, no auth: it calls this API with the user's API key or SigV4 credentials."""
    body, headers = page()
    return HTMLResponse(body, headers=headers)
