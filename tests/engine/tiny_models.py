"""Build a tiny random-weights chat model of one family into a folder (no Hub access).

Run with the engine venv's Python (it has torch and transformers):
``.venv-engine/bin/python tests/engine/tiny_models.py <family> <out dir>``.

Each family has the architecture, chat template and special tokens of the real models the presets deploy, so the
parsers the presets switch on (``--tool-call-parser``, ``--reasoning-parser``) find what they look up:

- ``chatml``: Qwen2 (Qwen2.5's ChatML template with hermes tools: ``<tool_call>``/``</tool_call>``). Like the
  real Qwen2.5 tokenizer it has no ``<think>`` token.
- ``chatml-think``: the same plus ``<think>``/``</think>`` (a DeepSeek-R1 distill's tokens, for ``deepseek_r1``).
- ``llama3``: Llama (Llama 3.1's header tokens, ``<|eot_id|>``, ``<|eom_id|>``, ``<|python_tag|>``).
- ``mistral``: Mistral (v0.3's control tokens ``[INST]``, ``[TOOL_CALLS]``, ``[AVAILABLE_TOOLS]``, ...).

Weights are random (seeded): the text is noise, but grammar-forced output (json_schema, required or named
tool_choice) is valid, and temperature 0 makes every answer reproducible.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Words, punctuation and JSON so byte-level BPE learns merges for what tests send; any byte stays encodable.
CORPUS = [
    "Hello! How can I help you today? The weather is sunny and warm.",
    "Say hi. Tell me a joke. What is the capital of France? Paris is the capital of France.",
    '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}',
    '{"type": "object", "properties": {"answer": {"type": "string"}, "count": {"type": "integer"}}}',
    "The quick brown fox jumps over the lazy dog. 0123456789 + - * / = ( ) [ ] { } < > , . ; : ' \"",
    "You are a helpful assistant. user assistant system tool function call result",
]

QWEN_TEMPLATE = (
    "{%- if tools %}{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
    "{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}"
    "{{- '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": '
    "<args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- else %}{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or "
    "(message.role == 'assistant' and not message.tool_calls) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + (message.content or '') + '<|im_end|>' + '\\n' }}"
    "{%- elif message.role == 'assistant' %}{{- '<|im_start|>' + message.role }}"
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls %}{%- if tool_call.function is defined %}"
    "{%- set tool_call = tool_call.function %}{%- endif %}"
    '{{- \'\\n<tool_call>\\n{"name": "\' }}{{- tool_call.name }}{{- \'", "arguments": \' }}'
    "{%- if tool_call.arguments is string %}{{- tool_call.arguments }}{%- else %}"
    "{{- tool_call.arguments | tojson }}{%- endif %}{{- '}\\n</tool_call>' }}{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != 'tool') %}{{- '<|im_start|>user' }}"
    "{%- endif %}{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}"
    "{%- if loop.last or (messages[loop.index0 + 1].role != 'tool') %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Llama 3.1's template, shortened (no date/knowledge lines): tools as JSON in the user turn, calls as JSON.
LLAMA3_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set messages = messages[1:] %}{%- else %}{%- set system_message = '' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}{%- if tools is not none %}"
    "{{- 'Environment: ipython\\n' }}{%- endif %}{{- system_message }}{{- '<|eot_id|>' }}"
    "{%- if tools is not none and messages | length > 0 %}"
    "{%- set first_user_message = messages[0]['content'] %}{%- set messages = messages[1:] %}"
    "{{- '<|start_header_id|>user<|end_header_id|>\\n\\n' }}"
    "{{- 'Given the following functions, please respond with a JSON for a function call with its proper "
    "arguments that best answers the given prompt.\\n\\n' }}"
    "{%- for t in tools %}{{- t | tojson }}{{- '\\n\\n' }}{%- endfor %}"
    "{{- first_user_message + '<|eot_id|>' }}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + (message['content'] or '') "
    "+ '<|eot_id|>' }}"
    "{%- elif 'tool_calls' in message %}{%- set tool_call = message.tool_calls[0].function %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{{- '{\"name\": \"' + tool_call.name + '\", ' }}{{- '\"parameters\": ' }}"
    "{%- if tool_call.arguments is string %}{{- tool_call.arguments }}{%- else %}"
    "{{- tool_call.arguments | tojson }}{%- endif %}{{- '}' }}{{- '<|eot_id|>' }}"
    "{%- elif message.role == 'tool' or message.role == 'ipython' %}"
    "{{- '<|start_header_id|>ipython<|end_header_id|>\\n\\n' }}"
    "{%- if message.content is mapping or message.content is iterable and message.content is not string %}"
    "{{- message.content | tojson }}{%- else %}{{- message.content }}{%- endif %}{{- '<|eot_id|>' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

# Mistral v0.3's template, shortened: tools before the last user turn, calls after [TOOL_CALLS].
MISTRAL_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{%- set user_messages = loop_messages | selectattr('role', 'equalto', 'user') | list %}"
    "{{- bos_token }}{%- for message in loop_messages %}"
    "{%- if message['role'] == 'user' %}"
    "{%- if tools is not none and (message == user_messages[-1]) %}{{- '[AVAILABLE_TOOLS] [' }}"
    "{%- for tool in tools %}{{- tool | tojson }}{%- if not loop.last %}{{- ', ' }}{%- endif %}{%- endfor %}"
    "{{- '][/AVAILABLE_TOOLS]' }}{%- endif %}"
    "{%- if loop.last and system_message is defined %}"
    "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + '[/INST]' }}"
    "{%- else %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}"
    "{%- elif message.tool_calls is defined and message.tool_calls is not none %}{{- '[TOOL_CALLS] [' }}"
    "{%- for tool_call in message.tool_calls %}{%- set f = tool_call.function %}"
    '{{- \'{"name": "\' + f.name + \'", "arguments": \' }}'
    "{%- if f.arguments is string %}{{- f.arguments }}{%- else %}{{- f.arguments | tojson }}{%- endif %}"
    "{{- ', \"id\": \"' + tool_call.id + '\"}' }}{%- if not loop.last %}{{- ', ' }}{%- endif %}{%- endfor %}"
    "{{- ']' + eos_token }}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + (message['content'] or '') + eos_token }}"
    "{%- elif message['role'] == 'tool' %}"
    '{{- \'[TOOL_RESULTS] {"content": \' + (message.content | string) + \', "call_id": "\' '
    "+ message.tool_call_id + '\"}[/TOOL_RESULTS]' }}"
    "{%- endif %}{%- endfor %}"
)

FAMILIES: dict[str, dict[str, object]] = {
    "chatml": {
        "architecture": "qwen2",
        "special": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"],
        "bos": None,
        "eos": "<|im_end|>",
        "pad": "<|endoftext|>",
        "stop": ["<|im_end|>", "<|endoftext|>"],
        "template": QWEN_TEMPLATE,
    },
    "llama3": {
        "architecture": "llama",
        "special": [
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
            "<|eom_id|>",
            "<|python_tag|>",
            "<|finetune_right_pad_id|>",
        ],
        "bos": "<|begin_of_text|>",
        "eos": "<|eot_id|>",
        "pad": "<|finetune_right_pad_id|>",
        "stop": ["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"],
        "template": LLAMA3_TEMPLATE,
    },
    "mistral": {
        "architecture": "mistral",
        "special": [
            "<unk>",
            "<s>",
            "</s>",
            "[INST]",
            "[/INST]",
            "[TOOL_CALLS]",
            "[AVAILABLE_TOOLS]",
            "[/AVAILABLE_TOOLS]",
            "[TOOL_RESULTS]",
            "[/TOOL_RESULTS]",
        ],
        "bos": "<s>",
        "eos": "</s>",
        "pad": None,
        "unk": "<unk>",
        "stop": ["</s>"],
        "template": MISTRAL_TEMPLATE,
    },
}
FAMILIES["chatml-think"] = {
    **FAMILIES["chatml"],
    "special": [*FAMILIES["chatml"]["special"], "<think>", "</think>"],  # type: ignore[misc]
}


def build(family: str, out: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import (
        AutoModelForCausalLM,
        GenerationConfig,
        LlamaConfig,
        MistralConfig,
        PreTrainedTokenizerFast,
        Qwen2Config,
    )

    spec = FAMILIES[family]
    special = list(spec["special"])  # type: ignore[call-overload]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=1024, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=spec["bos"],
        eos_token=spec["eos"],
        pad_token=spec["pad"],
        unk_token=spec.get("unk"),
        additional_special_tokens=[t for t in special if t not in (spec["bos"], spec["eos"], spec["pad"])],
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = spec["template"]
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out)

    vocab = len(fast)
    common = dict(
        vocab_size=vocab,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,  # a head size vLLM's CPU attention supports (cpu_attn.py get_supported_head_sizes)
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        torch_dtype="bfloat16",
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.convert_tokens_to_ids(spec["eos"]),
        pad_token_id=fast.pad_token_id,
    )
    config_class = {"qwen2": Qwen2Config, "llama": LlamaConfig, "mistral": MistralConfig}[str(spec["architecture"])]
    config = config_class(**common)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    stop_ids = [fast.convert_tokens_to_ids(t) for t in spec["stop"]]  # type: ignore[attr-defined]
    GenerationConfig(
        bos_token_id=fast.bos_token_id, eos_token_id=stop_ids, pad_token_id=fast.pad_token_id
    ).save_pretrained(out)
    (out / "tiny-model.json").write_text(json.dumps({"family": family, "vocab": vocab}))
    return out


if __name__ == "__main__":
    print(build(sys.argv[1], Path(sys.argv[2])))
