"""Clients of the deployed chat API: ``python -m llmchat`` (``make chat``) and the SigV4 signer for httpx/openai."""
