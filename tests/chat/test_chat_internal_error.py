"""An unexpected exception is a 500 carrying only the request id: no trace, no exception text."""

from __future__ import annotations

from typing import Any

from chatapi.app import create_app
from chatapi.settings import load_settings
from fastapi.testclient import TestClient


class ExplodingBackend:
    def invoke(self, payload: dict[str, Any]) -> Any:
        raise RuntimeError("secret internal detail")


def test_unexpected_exception_is_500_with_request_id_only() -> None:
    app = create_app(load_settings({"SAGEMAKER_ENDPOINT_NAME": "x"}), ExplodingBackend())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/generate", json={"inputs": "hi"}, headers={"x-request-id": "req-500"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "message": "Internal error; request id req-500.",
            "type": "internal_error",
            "param": None,
            "code": "internal_error",
        }
    }
    assert response.headers["x-request-id"] == "req-500"
    assert "secret" not in response.text
