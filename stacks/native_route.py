"""The endpoint's own OpenAI route (SageMaker, since 2026-05), printed beside the chat API's as a stack output.

SageMaker developer guide, "Invoke endpoints with OpenAI-compatible APIs"
(https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html) and the sample notebook
it cites (aws-samples/sagemaker-genai-hosting-examples, 03-features/openai/sagemaker-inference-openai-api.ipynb):
``https://runtime.sagemaker.<REGION>.amazonaws.com/endpoints/<ENDPOINT>/openai/v1``, and for an inference component
``.../endpoints/<ENDPOINT>/inference-components/<IC_NAME>/openai/v1``. The host's DNS suffix is the partition's
(botocore sagemaker-runtime endpoint-rule-set-1.json: ``https://runtime.sagemaker.{Region}.{dnsSuffix}``), which is
what ``AWS::URLSuffix`` resolves to. docs/native-route.md compares the two routes.
"""

from __future__ import annotations

import aws_cdk as cdk

OUTPUT_ID = "NativeOpenAiBaseUrl"  # llmchat/native.py reads it (make chat CHAT_ARGS=--direct)


def native_openai_base_url(endpoint_name: str, inference_component_name: str | None) -> str:
    """The route's base URL from the endpoint's (and component's) name and the stack's region tokens."""
    component = f"/inference-components/{inference_component_name}" if inference_component_name else ""
    return (
        f"https://runtime.sagemaker.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"
        f"/endpoints/{endpoint_name}{component}/openai/v1"
    )


def add_native_route_output(stack: cdk.Stack, *, endpoint_name: str, inference_component_name: str | None) -> None:
    cdk.CfnOutput(
        stack,
        OUTPUT_ID,
        value=native_openai_base_url(endpoint_name, inference_component_name),
        description="SageMaker's own OpenAI route to the same model: AWS identities only, no budgets or metering "
        "(docs/native-route.md; make chat CHAT_ARGS=--direct)",
    )
