"""Which TGI quantize modes a checkpoint can be served with, decided at synth instead of at endpoint start-up.

TGI's documentation (huggingface/text-generation-inference, docs/source/conceptual/quantization.md): "To
leverage GPTQ, AWQ, Marlin and EXL2 quants, you must provide pre-quantized weights. Whereas for bits-and-bytes,
EETQ and fp8, weights are quantized by TGI on the fly." A bf16 checkpoint started with `--quantize gptq` fails
while loading the weights, after the instance has started billing.
"""

from __future__ import annotations

# quantize mode → the `quantization_config.quant_method` values (config.json) of checkpoints it can load.
NEEDS_PRE_QUANTIZED: dict[str, tuple[str, ...]] = {
    "gptq": ("gptq",),
    "awq": ("awq",),
    "marlin": ("marlin", "gptq"),
    "exl2": ("exl2",),
}
ON_THE_FLY = ("bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "eetq", "fp8")


def quantize_problem(
    quantize: str | None, *, model_id: str, checkpoint_quantization: str | None, checkpoint_known: bool
) -> str | None:
    """Why `quantize` cannot load `model_id`'s checkpoint, or None when it can (or synth cannot tell).

    `checkpoint_quantization` is the checkpoint's own `quantization_config.quant_method` (None: plain
    bf16/fp16 weights); `checkpoint_known` says whether synth has the checkpoint's facts at all (a preset, or
    a model in a lock). For an unknown Hub model synth reads no network, so it cannot tell and lets it pass.
    """
    if quantize is None or not checkpoint_known or quantize not in NEEDS_PRE_QUANTIZED:
        return None
    accepted = NEEDS_PRE_QUANTIZED[quantize]
    if checkpoint_quantization in accepted:
        return None
    have = f"a {checkpoint_quantization}-quantized" if checkpoint_quantization else "an unquantized (bf16/fp16)"
    return (
        f"{model_id} has {have} checkpoint; TGI's quantize={quantize} needs weights already quantized with "
        f"{' or '.join(accepted)} (TGI quantizes only {', '.join(ON_THE_FLY)} on the fly). Use a pre-quantized "
        f"checkpoint of the model as -c model=<org/name-{quantize.upper()}>, or an on-the-fly mode such as "
        "-c quantize=bitsandbytes-nf4"
    )
