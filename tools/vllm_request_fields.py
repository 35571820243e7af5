"""Print the request fields of the deployed vLLM's OpenAI chat and completions request models, as JSON.

Run it with a Python that has that vLLM installed (``<venv>/bin/python tools/vllm_request_fields.py``); the chat
proxy's field policy (``lambda/chat_proxy/chatapi/policy.py``, ``VLLM_CHAT_FIELDS`` / ``VLLM_COMPLETION_FIELDS``)
is this output, and ``make test-engine`` compares the two (``tests/engine/test_vllm_fields.py``).
"""

from __future__ import annotations

import json


def main() -> None:
    import vllm
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.entrypoints.openai.completion.protocol import CompletionRequest

    print(
        json.dumps(
            {
                "version": vllm.__version__,
                "chat": sorted(ChatCompletionRequest.model_fields),
                "completions": sorted(CompletionRequest.model_fields),
            }
        )
    )


if __name__ == "__main__":
    main()
