"""The routes that never call the model: the chat page (``/``, public) and the health check."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from chatapi.page import chat_page
from chatapi.schemas import Health


def meta_router() -> APIRouter:
    router = APIRouter()
    router.add_api_route("/", chat_page, methods=["GET"], response_class=HTMLResponse, tags=["page"])

    @router.get("/health", response_model=Health, tags=["meta"])
    async def health() -> Health:
        """Process health; never calls the model endpoint."""
        return Health()

    return router
