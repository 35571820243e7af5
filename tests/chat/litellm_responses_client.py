"""litellm.responses against a Responses API: ``python litellm_responses_client.py <base url /v1> <model>``, run by
test_responses_litellm.py in a venv of its own (litellm 1.110.2 needs importlib-metadata>=8, this repo's
sagemaker-core <7, so it cannot share .venv). Prints one JSON object: create, stream and tool-call outcomes."""

import json
import sys

import litellm

base, model = sys.argv[1], sys.argv[2]
out = {}
r = litellm.responses(model=f"openai/{model}", input="Hi", api_base=base, api_key="unused")
out["create"] = r.output[0].content[0].text
text = ""
for event in litellm.responses(model=f"openai/{model}", input="Hi", api_base=base, api_key="unused", stream=True):
    if getattr(event, "type", "") == "response.output_text.delta":
        text += event.delta
out["stream"] = text
tools = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
r = litellm.responses(model=f"openai/{model}", input="Weather in Paris?", tools=tools, api_base=base, api_key="unused")
out["tool"] = [(i.type, getattr(i, "name", None), getattr(i, "arguments", None)) for i in r.output]
print(json.dumps(out))
