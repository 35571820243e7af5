"""Model presets: the models this app knows by a short name, with the facts sizing and the engines need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    """What the KV cache depends on; from the model's config.json."""

    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> int:
        # K and V (2) for every layer, for every KV head (multi-query/grouped-query models keep few), head_dim
        # values each, stored in the compute dtype (bf16: 2 bytes).
        return int(2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value)


@dataclass(frozen=True)
class ModelPreset:
    name: str
    hf_model_id: str
    params_b: float
    # None: the smallest (cheapest) instance type the sizing code finds for the engine (`default_instance`).
    default_instance_type: str | None
    prompt_family: str
    architecture: Architecture | None = None
    dtype: str = "bfloat16"
    gated: bool = False
    jumpstart_model: str | None = None
    # The engine a plain `-c model=<name>` gets: the Falcon presets keep the original guide's TGI.
    engine: str = "vllm"
    # config.json's max_position_embeddings: the longest max_total_tokens the engine will accept.
    context_length: int | None = None
    # The Hub commit the weights are pinned to (from models.lock.json); None serves the branch head.
    revision: str | None = None
    trust_remote_code: bool = False
    # vLLM's tool-call parser for this model family (`--tool-call-parser`), None: tools need -c tool_call_parser.
    tool_call_parser: str | None = None
    # Whether the tokenizer ships a chat template the engine can render (prompt_family "server").
    chat_template: bool = True
    # "chat" (generates text) or "embedding" (vLLM's pooling runner; served by /v1/embeddings).
    kind: str = "chat"
    # Embedding models: the vector length, and whether a request may ask for fewer (Matryoshka `dimensions`).
    embedding_dimensions: int | None = None


PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in (
        ModelPreset(
            name="falcon-7b-instruct",
            hf_model_id="tiiuae/falcon-7b-instruct",
            params_b=7.22,
            default_instance_type="ml.g5.2xlarge",
            prompt_family="falcon",
            # 71 query heads and one shared KV head (multi-query): TGI cannot shard it over 2, 4 or 8 GPUs.
            architecture=Architecture(layers=32, attention_heads=71, kv_heads=1, head_dim=64),
            jumpstart_model="huggingface-llm-falcon-7b-instruct-bf16",
            engine="tgi",
            chat_template=False,
        ),
        ModelPreset(
            name="falcon-40b-instruct",
            hf_model_id="tiiuae/falcon-40b-instruct",
            params_b=41.84,
            default_instance_type="ml.g5.12xlarge",
            prompt_family="falcon",
            architecture=Architecture(layers=60, attention_heads=128, kv_heads=8, head_dim=64),
            jumpstart_model="huggingface-llm-falcon-40b-instruct-bf16",
            engine="tgi",
            chat_template=False,
            # The default model's Hub commit, so a start fetches the same weights and tokenizer every time. A
            # tiiuae/falcon-40b-instruct main-branch commit: pinned as `revision` in
            # github.com/databricks/databricks-ml-examples llm-models/falcon/falcon-40b/03_serve_driver_proxy.py
            # (vLLM 0.2.0, transformers 4.35, no trust_remote_code) and present as a snapshot of
            # models--tiiuae--falcon-40b-instruct in SAP's AI Core vLLM sample.
            # Whether it is still the branch head only the Hub can say: re-check it against
            # https://huggingface.co/tiiuae/falcon-40b-instruct/commits/main (make model-lock MODEL=...).
            revision="ecb78d97ac356d098e79f0db222c9ce7c5d9ee5f",
        ),
        ModelPreset(
            name="falcon-180b-chat",
            hf_model_id="tiiuae/falcon-180B-chat",
            params_b=179.52,
            default_instance_type="ml.p4de.24xlarge",
            prompt_family="falcon",
            architecture=Architecture(layers=80, attention_heads=232, kv_heads=8, head_dim=64),
            # The Hub asks for the licence to be accepted: deploy with -c hf_token_secret=<secret>.
            gated=True,
            jumpstart_model="huggingface-llm-falcon-180b-chat-bf16",
            engine="tgi",
            chat_template=False,
        ),
        # Current models. Facts from each model's published config.json on the Hugging Face Hub
        # (num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim or hidden_size / heads,
        # max_position_embeddings) and the parameter count from its safetensors index (metadata.total_size / 2
        # for bf16); the same facts are in models.lock.json (`make model-lock`), and a unit test keeps both equal.
        # All four tokenizers ship a chat template, so the engine renders it (prompt_family "server").
        ModelPreset(
            # huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json; 8,030,261,248 parameters
            name="llama-3.1-8b-instruct",
            hf_model_id="meta-llama/Llama-3.1-8B-Instruct",
            params_b=8.03,
            default_instance_type=None,
            prompt_family="server",
            architecture=Architecture(layers=32, attention_heads=32, kv_heads=8, head_dim=128),
            gated=True,
            context_length=131072,
            tool_call_parser="llama3_json",
        ),
        ModelPreset(
            # huggingface.co/meta-llama/Llama-3.3-70B-Instruct/blob/main/config.json; 70,553,706,496 parameters
            name="llama-3.3-70b-instruct",
            hf_model_id="meta-llama/Llama-3.3-70B-Instruct",
            params_b=70.55,
            default_instance_type=None,
            prompt_family="server",
            architecture=Architecture(layers=80, attention_heads=64, kv_heads=8, head_dim=128),
            gated=True,
            context_length=131072,
            tool_call_parser="llama3_json",
        ),
        ModelPreset(
            # huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/config.json; 7,615,616,512 parameters
            name="qwen2.5-7b-instruct",
            hf_model_id="Qwen/Qwen2.5-7B-Instruct",
            params_b=7.62,
            default_instance_type=None,
            prompt_family="server",
            architecture=Architecture(layers=28, attention_heads=28, kv_heads=4, head_dim=128),
            context_length=32768,
            tool_call_parser="hermes",
        ),
        ModelPreset(
            # huggingface.co/mistralai/Mistral-7B-Instruct-v0.3/blob/main/config.json; 7,248,023,552 parameters
            name="mistral-7b-instruct-v0.3",
            hf_model_id="mistralai/Mistral-7B-Instruct-v0.3",
            params_b=7.25,
            default_instance_type=None,
            prompt_family="server",
            architecture=Architecture(layers=32, attention_heads=32, kv_heads=8, head_dim=128),
            # Mistral AI asks for contact details before download (an "auto" gate): a token is required.
            gated=True,
            context_length=32768,
            tool_call_parser="mistral",
        ),
    )
}
# Embedding models for `-c embedding_model=`, served by vLLM's pooling runner (`--runner pooling`). Facts from each
# model's Hugging Face model card and config.json; sizing treats them like any model (weights + one sequence).
EMBEDDING_PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in (
        ModelPreset(
            # huggingface.co/Qwen/Qwen3-Embedding-0.6B (model card: 0.6B parameters, 28 layers, 32k context,
            # embedding dimension up to 1024 with user-defined output dimensions 32-1024 (MRL));
            # config.json: 16 attention heads, 8 KV heads, head_dim 128, max_position_embeddings 32768.
            name="qwen3-embedding-0.6b",
            hf_model_id="Qwen/Qwen3-Embedding-0.6B",
            params_b=0.6,
            default_instance_type=None,
            prompt_family="server",
            architecture=Architecture(layers=28, attention_heads=16, kv_heads=8, head_dim=128),
            context_length=32768,
            kind="embedding",
            embedding_dimensions=1024,
        ),
        ModelPreset(
            # huggingface.co/BAAI/bge-m3 (model card: XLM-RoBERTa-large based, 568M parameters, dense vectors of
            # 1024, inputs up to 8192 tokens); config.json: 24 layers, 16 heads of 64 (hidden 1024), 8194 positions.
            name="bge-m3",
            hf_model_id="BAAI/bge-m3",
            params_b=0.57,
            default_instance_type=None,
            prompt_family="server",
            architecture=Architecture(layers=24, attention_heads=16, kv_heads=16, head_dim=64),
            context_length=8192,
            kind="embedding",
            embedding_dimensions=1024,
        ),
    )
}
DEFAULT_MODEL = "falcon-40b-instruct"
