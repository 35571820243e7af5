"""A small Hugging Face Hub on 127.0.0.1 for the real huggingface_hub client: model info with file metadata
(sizes, git blob ids, LFS sha256) and `resolve/<revision>/<file>` downloads, with switches to corrupt a file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(f"blob {len(content)}\0".encode() + content, usedforsecurity=False).hexdigest()


@dataclass
class FakeRepo:
    model: str
    files: dict[str, bytes]
    lfs: set[str]
    commit: str = COMMIT
    corrupt: set[str] = field(default_factory=set)
    downloads: list[str] = field(default_factory=list)

    def info(self) -> dict[str, object]:
        siblings = []
        for name, content in sorted(self.files.items()):
            entry: dict[str, object] = {"rfilename": name, "size": len(content), "blobId": git_blob_id(content)}
            if name in self.lfs:
                # The Hub's shape: blobId is the LFS pointer's id, lfs carries the content's sha256 and size.
                entry["lfs"] = {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": 134}
            siblings.append(entry)
        return {"id": self.model, "modelId": self.model, "sha": self.commit, "siblings": siblings, "private": False}

    def content(self, name: str) -> bytes:
        body = self.files[name]
        return body[:-1] + bytes([body[-1] ^ 0xFF]) if name in self.corrupt else body


def _handler(repo: FakeRepo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str], *, head: bool = False) -> None:
            self.send_response(status)
            for key, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _route(self, head: bool) -> None:
            path = unquote(urlparse(self.path).path)
            info_prefix = f"/api/models/{repo.model}/revision/"
            if path.startswith(info_prefix) and path[len(info_prefix) :] in ("main", repo.commit):
                self._send(200, json.dumps(repo.info()).encode(), {"Content-Type": "application/json"}, head=head)
                return
            resolve_prefix = f"/{repo.model}/resolve/"
            if path.startswith(resolve_prefix):
                revision, _, name = path[len(resolve_prefix) :].partition("/")
                if revision in ("main", repo.commit) and name in repo.files:
                    body = repo.content(name)
                    original = repo.files[name]
                    etag = hashlib.sha256(original).hexdigest() if name in repo.lfs else git_blob_id(original)
                    headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{etag}"'}
                    if not head:
                        repo.downloads.append(name)
                    self._send(200, body, headers, head=head)
                    return
            self._send(404, b'{"error":"not found"}', {"X-Error-Code": "EntryNotFound"}, head=head)

        def do_GET(self) -> None:
            self._route(head=False)

        def do_HEAD(self) -> None:
            self._route(head=True)

    return Handler


@contextlib.contextmanager
def fake_hub(repo: FakeRepo) -> Iterator[str]:
    """Serve `repo` on 127.0.0.1; yields the endpoint URL for HF_ENDPOINT / HfApi(endpoint=...)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repo))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
