"""The chat proxy: an OpenAI-compatible and TGI-native HTTP API in front of a SageMaker endpoint that runs TGI or
vLLM; ``app.create_app`` builds it, ``dialects`` is the one place that knows which engine it talks to."""
