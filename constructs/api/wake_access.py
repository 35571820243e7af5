"""What the chat Lambda needs to wake its scaled-to-zero inference component at once (issue 20; docs/wake-up.md).

- ``WAKE_WAIT_SECONDS`` in its environment (0 turns the wake-up off: 503 + Retry-After at once, as before);
- ``sagemaker:DescribeInferenceComponent`` and ``sagemaker:UpdateInferenceComponentRuntimeConfig`` on the
  endpoint's own inference components only: its first model's and, with several models, each other model's (an
  adapter has no copies of its own: a call to it wakes its base). Both actions take the resource type
  ``inference-component``, ARN
  ``arn:${Partition}:sagemaker:${Region}:${Account}:inference-component/${InferenceComponentName}`` (Service
  Authorization Reference, "Actions, resources, and condition keys for Amazon SageMaker AI"); the component's
  ``attr_inference_component_arn`` is exactly that ARN;
- a Lambda timeout and API Gateway integration timeout that cover the hold plus one SageMaker stream
  (``request_timeout``; constructs/api/time_limits.py bounds the wait so the sum stays within their 15 minutes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from constructs.api import time_limits

if TYPE_CHECKING:
    from aws_cdk import aws_lambda as lambda_

    from constructs.hosting.endpoint import HostedEndpoint

WAKE_ACTIONS = ("sagemaker:DescribeInferenceComponent", "sagemaker:UpdateInferenceComponentRuntimeConfig")


def wake_seconds(inference_component_name: str | None, wake_wait_seconds: int | None) -> int:
    """The hold the chat API gets: none without an inference component, else the setting or the default."""
    if not inference_component_name:
        return 0
    seconds = time_limits.WAKE_WAIT_DEFAULT_SECONDS if wake_wait_seconds is None else wake_wait_seconds
    if not 0 <= seconds <= time_limits.WAKE_WAIT_MAX_SECONDS:
        raise ValueError(
            f"wake_wait_seconds {seconds} is out of range; allowed 0 to {time_limits.WAKE_WAIT_MAX_SECONDS}"
        )
    return seconds


def request_timeout(inference_component_name: str | None, wake_wait_seconds: int | None) -> cdk.Duration:
    """The Lambda's and the integration's timeout: one SageMaker stream plus margin, plus the hold."""
    return cdk.Duration.seconds(time_limits.REQUEST_SECONDS + wake_seconds(inference_component_name, wake_wait_seconds))


def allow_wake(
    function: lambda_.Function,
    endpoint: HostedEndpoint,
    inference_component_name: str | None,
    wake_wait_seconds: int | None,
) -> None:
    """Set WAKE_WAIT_SECONDS and grant the two wake actions on the endpoint's model components (nothing without)."""
    if not inference_component_name or endpoint.component is None:
        return
    seconds = wake_seconds(inference_component_name, wake_wait_seconds)
    function.add_environment("WAKE_WAIT_SECONDS", str(seconds))
    if seconds > 0:
        components = [endpoint.component.arn, *endpoint.scaled_component_arns]
        function.add_to_role_policy(iam.PolicyStatement(actions=list(WAKE_ACTIONS), resources=components))
