"""A local stand-in for the Hugging Face Hub's HTTP API, serving fixtures of published files.

Real HTTP on 127.0.0.1, so ``tools/model_lock.py`` runs the real ``huggingface_hub`` client against it through
``HF_ENDPOINT``. It answers what that client asks for, the way huggingface.co does:
- ``GET /api/models/{org}/{name}[/revision/{rev}]``: the model info JSON (sha, gated, cardData, safetensors, ...);
- ``HEAD``/``GET /{org}/{name}/resolve/{rev}/{file}``: the file, with ``X-Repo-Commit`` and ``ETag`` headers;
- 401 with ``X-Error-Code: GatedRepo`` for a gated model's files without a bearer token, 404 with
  ``X-Error-Code: RepoNotFound`` / ``EntryNotFound`` for unknown repos and files.

``python -m tests.models.fake_hub`` serves the fixtures until interrupted (used to regenerate models.lock.json).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_INFO = re.compile(r"^/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?$")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


class _Handler(BaseHTTPRequestHandler):
    server: _FakeHub

    def log_message(self, format: str, *args: Any) -> None:
        self.server.requests.append(f"{self.command} {self.path.split('?')[0]}")

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, *, head: bool = False) -> None:
        self.send_response(status)
        for key, value in {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            **(headers or {}),
        }.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, *, head: bool = False) -> None:
        self._send(
            status,
            json.dumps({"error": message}).encode(),
            {"X-Error-Code": code, "X-Error-Message": message},
            head=head,
        )

    def _info(self, repo: str) -> dict[str, Any] | None:
        path = FIXTURES / repo / "model_info.json"
        return dict(json.loads(path.read_text())) if path.is_file() else None

    def _serve(self, head: bool) -> None:
        path = self.path.split("?")[0]
        if (m := _INFO.match(path)) is not None:
            info = self._info(m.group(1))
            if info is None:
                return self._error(404, "RepoNotFound", "Repository not found", head=head)
            return self._send(200, json.dumps(info).encode(), head=head)
        if (m := _RESOLVE.match(path)) is not None:
            repo, revision, filename = m.groups()
            info = self._info(repo)
            if info is None:
                return self._error(404, "RepoNotFound", "Repository not found", head=head)
            if revision not in (info["sha"], "main"):
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head=head)
            if info["gated"] and not self.headers.get("authorization", "").startswith("Bearer "):
                return self._error(
                    401,
                    "GatedRepo",
                    "Access to model is restricted. You must have access to it and be authenticated to access it.",
                    head=head,
                )
            file = FIXTURES / repo / filename
            if not file.is_file():
                return self._error(404, "EntryNotFound", f"{filename} does not exist on {revision}", head=head)
            body = file.read_bytes()
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'  # noqa: S324 - git blob-style id, not security
            return self._send(200, body, {"X-Repo-Commit": info["sha"], "ETag": etag}, head=head)
        return self._error(404, "EntryNotFound", f"no route {path}", head=head)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)


class _FakeHub(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]


@contextmanager
def fake_hub() -> Iterator[_FakeHub]:
    """A running fake Hub on a free port; `.server_address` gives it, `.requests` lists what was asked."""
    server = _FakeHub(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def endpoint(server: _FakeHub) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


if __name__ == "__main__":
    with fake_hub() as hub:
        print(f"HF_ENDPOINT={endpoint(hub)}", flush=True)
        threading.Event().wait()
