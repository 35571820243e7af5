"""How long a scale-to-zero endpoint takes to answer again, estimated from published figures (docs/cold-start.md).

No figure here is measured by this project. The reference is the one published breakdown of a GPU scale-out we
know of: AWS ML blog, "Introducing container caching in Amazon SageMaker AI for faster model scaling" (2026-06-16,
https://aws.amazon.com/blogs/machine-learning/introducing-container-caching-in-amazon-sagemaker-ai-for-faster-model-scaling/):
Qwen3-8B on ml.g6.2xlarge with the LMI (vLLM) container, 17.7 GB compressed image, weights from S3. Before
container caching: 525 s end to end, the image pull 333 s and the S3 download 168 s (the two compete for the
instance's bandwidth). With it: 258 s, no pull, the S3 download 77 s. The rest, 258 - 77 = 181 s, is instance
provisioning, container start and the engine's own start (load, compile, CUDA graphs); the blog does not split it
further, so neither do we. Container caching is automatic on accelerator instances in every commercial region
(same post): the estimate assumes a cache hit and says what a miss costs.

What scales with the model, honestly: only the weights download, which is bandwidth-bound (bytes / the same
bandwidth). The 181 s is kept as published: engine start grows with the model too, but no source gives the curve.
A Hub download has no published figure at all: it is left out of the total and named instead.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOG = "AWS ML blog, container caching in SageMaker AI (2026-06-16)"
# The reference model's weights: Qwen3-8B, 8.19 B parameters (Qwen/Qwen3-8B model card: "Number of Parameters:
# 8.2B"; config.json), bf16 = 2 bytes each.
REFERENCE_WEIGHTS_GIB = 8.19e9 * 2 / 2**30
REFERENCE_S3_SECONDS_CACHED = 77.0
REFERENCE_S3_SECONDS_UNCACHED = 168.0
REFERENCE_IMAGE_PULL_SECONDS = 333.0
REFERENCE_TOTAL_CACHED = 258.0
REFERENCE_TOTAL_UNCACHED = 525.0
# Instance provisioning + container start + engine start: what is left of the cached total after the download.
REFERENCE_START_SECONDS = REFERENCE_TOTAL_CACHED - REFERENCE_S3_SECONDS_CACHED


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float | None  # None: no published figure
    note: str


@dataclass(frozen=True)
class WakeEstimate:
    steps: tuple[Step, ...]

    @property
    def known_seconds(self) -> float:
        return sum(s.seconds for s in self.steps if s.seconds is not None)

    @property
    def complete(self) -> bool:
        return all(s.seconds is not None for s in self.steps)

    def lines(self) -> list[str]:
        """The summary's rows: one per step, then the total (a lower bound when a step has no figure)."""
        rows = [f"{s.name:<8}{_seconds(s.seconds):>10}  {s.note}" for s in self.steps]
        total = f"~{_minutes(self.known_seconds)}" if self.complete else f"> {_minutes(self.known_seconds)}"
        missing = [s.name for s in self.steps if s.seconds is None]
        rows.append(f"{'total':<8}{total:>10}" + (f"  plus the {', '.join(missing)}" if missing else ""))
        return rows


def estimate(
    *,
    alarm_period_seconds: int,
    alarm_evaluation_periods: int,
    weights_gib: float | None,
    weights_from_s3: bool,
) -> WakeEstimate:
    """The wake-up from zero copies, step by step. `weights_gib` None: the model's size is unknown."""
    if alarm_period_seconds <= 0 or alarm_evaluation_periods <= 0:
        raise ValueError("the wake alarm needs a positive period and evaluation count")
    if weights_gib is not None and weights_gib <= 0:
        raise ValueError(f"weights_gib {weights_gib} must be positive")
    alarm = alarm_period_seconds * alarm_evaluation_periods
    steps = [
        Step(
            "alarm",
            alarm,
            f"wake alarm: {alarm_evaluation_periods} x {alarm_period_seconds} s of NoCapacityInvocationFailures",
        ),
        Step(
            "start",
            REFERENCE_START_SECONDS,
            "instance + container + engine start (reference: Qwen3-8B on ml.g6.2xlarge)",
        ),
        Step(
            "image",
            0.0,
            f"container cache hit (automatic on GPU instances); a miss: ~{REFERENCE_IMAGE_PULL_SECONDS:g} s",
        ),
    ]
    if not weights_from_s3:
        steps.append(Step("weights", None, "Hugging Face Hub download: no published figure"))
    elif weights_gib is None:
        steps.append(Step("weights", None, "S3 download, model size unknown"))
    else:
        seconds = REFERENCE_S3_SECONDS_CACHED * weights_gib / REFERENCE_WEIGHTS_GIB
        steps.append(
            Step(
                "weights",
                seconds,
                f"S3 download of {weights_gib:.1f} GiB at the reference's "
                f"{REFERENCE_WEIGHTS_GIB:.1f} GiB / {REFERENCE_S3_SECONDS_CACHED:g} s",
            )
        )
    return WakeEstimate(tuple(steps))


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} s"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"
