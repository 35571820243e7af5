"""The chat proxy: an OpenAI-compatible and TGI-native HTTP API in front of a SageMaker TGI endpoint."""
