"""How the endpoint's production variant spreads requests over its instances (and copies): `Routing`.

Facts (botocore sagemaker 2017-07-24 service-2.json, shapes ProductionVariantRoutingConfig and
PrefixAwareRoutingConfig; SageMaker API reference "ProductionVariantRoutingConfig" and "PrefixAwareRoutingConfig",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_PrefixAwareRoutingConfig.html; CloudFormation
`AWS::SageMaker::EndpointConfig` ProductionVariant.RoutingConfig, cfn-lint's schema):

- PREFIX_AWARE "routes requests that share the same prompt prefix to the same instance and, when that instance
  hosts more than one copy of the invoked inference component, to the same copy"; it applies "only when two or
  more instances can serve the request".
- PrefixLength (1024-65536): for InvokeEndpoint / InvokeEndpointWithResponseStream "the number of bytes from the
  beginning of the request body" (the chat proxy puts the conversation first: chatapi/backend.py `prefix_first`).
- ConcurrencyThreshold (1-1024): in-flight requests on the selected instance (or copy of the invoked inference
  component) at which the endpoint routes elsewhere; it "applies to every instance and every copy ... so choose a
  value that suits the instance or copy that can serve the fewest concurrent requests".
- KV_AWARE is in botocore's RoutingStrategy enum but not in CloudFormation's (cfn-lint's schema allows
  LEAST_OUTSTANDING_REQUESTS, PREFIX_AWARE, RANDOM), so a template cannot ask for it: not offered here.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_sagemaker as sagemaker

# Context value -> RoutingStrategy (the values CloudFormation's AWS::SageMaker::EndpointConfig RoutingConfig accepts).
STRATEGIES = {
    "least_outstanding_requests": "LEAST_OUTSTANDING_REQUESTS",
    "random": "RANDOM",
    "prefix_aware": "PREFIX_AWARE",
}
PREFIX_LENGTH_RANGE = (1024, 65536)  # PrefixAwareRoutingPrefixLength min/max (botocore)
CONCURRENCY_THRESHOLD_RANGE = (1, 1024)  # PrefixAwareRoutingConcurrencyThreshold min/max (botocore)
# 8 KiB of body: `{"messages":[` plus a system prompt of ~2,000 English tokens (~4 bytes each), and beyond a shorter
# one the first user turn, which tells conversations apart so they spread over the instances ("cover shared content
# (such as system prompts) plus enough unique content to distribute workloads", PrefixAwareRoutingConfig).
DEFAULT_PREFIX_LENGTH = 8192
# Twice the autoscaling target of 4 concurrent requests per instance or copy (stacks/llm_chat_stack.py): a
# conversation stays on the instance that holds its prefix cache through bursts up to twice the load the endpoint
# is sized for, then spills over; far below what vLLM (max_num_seqs) or TGI (max_concurrent_requests) batch.
DEFAULT_CONCURRENCY_THRESHOLD = 8


@dataclass(frozen=True)
class Routing:
    """The variant's RoutingConfig: a strategy, and for prefix_aware its prefix length and concurrency threshold."""

    strategy: str = "least_outstanding_requests"
    prefix_length: int | None = None
    concurrency_threshold: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"routing strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        for name, value, (lo, hi) in (
            ("prefix_length", self.prefix_length, PREFIX_LENGTH_RANGE),
            ("concurrency_threshold", self.concurrency_threshold, CONCURRENCY_THRESHOLD_RANGE),
        ):
            if value is None:
                continue
            if self.strategy != "prefix_aware":
                raise ValueError(f"{name} applies only to the prefix_aware routing strategy, not {self.strategy}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} {value} is out of range; allowed {lo} to {hi}")

    def config(self) -> sagemaker.CfnEndpointConfig.RoutingConfigProperty:
        prefix = None
        if self.strategy == "prefix_aware":
            prefix = sagemaker.CfnEndpointConfig.PrefixAwareRoutingConfigProperty(
                prefix_length=self.prefix_length if self.prefix_length is not None else DEFAULT_PREFIX_LENGTH,
                concurrency_threshold=(
                    self.concurrency_threshold
                    if self.concurrency_threshold is not None
                    else DEFAULT_CONCURRENCY_THRESHOLD
                ),
            )
        return sagemaker.CfnEndpointConfig.RoutingConfigProperty(
            routing_strategy=STRATEGIES[self.strategy], prefix_aware_routing_config=prefix
        )
