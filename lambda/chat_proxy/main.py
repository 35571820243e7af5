"""The ASGI entry point: ``uvicorn --app-dir lambda/chat_proxy main:app`` locally, ``run.sh`` in Lambda."""

from chatapi.app import create_app
from chatapi.settings import load_settings

app = create_app(load_settings())
