"""The HTTP routes, one ``APIRouter`` per concern: OpenAI (``openai``), TGI-native ``/generate`` (``tgi``), OpenAI
Responses (``responses``), and the page and health check (``meta``). A model route checks the model name, asks the
engine seam (``chatapi.dialects``) for a call and runs it the same way on every engine (``calls``)."""

from fastapi import APIRouter


def include_flat(parent: APIRouter, router: APIRouter) -> None:
    """``parent.include_router(router)`` for routers without prefix or dependencies, keeping each route a plain
    ``APIRoute`` of ``parent``: FastAPI 0.165 keeps an included router as one nested node in ``app.routes``, which
    the walkers of the route table (tests/synth/test_api_routes.py, tools/architecture.py) cannot see into."""
    parent.routes.extend(router.routes)
