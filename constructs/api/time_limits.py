"""How long one chat request may take, from SageMaker's limits: the one place the stack's timeouts come from.

No aws_cdk import: tools/architecture.py and the tests read these numbers without a jsii start-up.
Sources (docs/limits.md has the quotes):
- InvokeEndpoint: "A customer's model containers must respond to requests within 60 seconds" (SageMaker API
  reference, InvokeEndpoint; botocore's sagemaker-runtime model carries the same text).
- InvokeEndpointWithResponseStream: 8 minutes for the whole stream (SageMaker FAQ; developer guide, "Use your own
  inference code with hosting services"); past it SageMaker ends the stream with ModelStreamError
  ErrorCode ModelInvocationTimeExceeded (botocore shape ModelStreamError).
- API Gateway REST response streaming: "the maximum duration of a streamed response is 15 minutes" and the
  integration timeout may be raised to 15 minutes (API Gateway developer guide, "Stream the integration response
  for your proxy integrations"); Lambda's timeout is at most 900 s.
"""

from __future__ import annotations

SAGEMAKER_INVOKE_SECONDS = 60
SAGEMAKER_STREAM_SECONDS = 8 * 60
# The proxy streams every generation (non-streamed answers are assembled from the stream), so a request lasts at
# most one SageMaker stream; the margin covers opening it (connect timeouts, retries with back-off) and the
# Lambda's cold start. Both stay well inside API Gateway's and Lambda's 15-minute ceilings.
REQUEST_MARGIN_SECONDS = 60
REQUEST_SECONDS = SAGEMAKER_STREAM_SECONDS + REQUEST_MARGIN_SECONDS
# botocore's read timeout is per socket read: no read can wait longer than the whole stream SageMaker allows.
BACKEND_READ_TIMEOUT_SECONDS = SAGEMAKER_STREAM_SECONDS + 20
APIGATEWAY_STREAM_MAX_SECONDS = 15 * 60
LAMBDA_MAX_TIMEOUT_SECONDS = 15 * 60

if not BACKEND_READ_TIMEOUT_SECONDS < REQUEST_SECONDS <= min(APIGATEWAY_STREAM_MAX_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS):
    raise ValueError("the request budget must cover one SageMaker stream and fit API Gateway's and Lambda's limits")

# Scale to zero, waking at once and holding the request (lambda/chat_proxy/chatapi/wake.py, docs/wake-up.md).
# A held stream waits, then runs one SageMaker stream: both inside Lambda's and API Gateway's 15 minutes, so the wait
# is at most what REQUEST_SECONDS leaves of them. The default is the measured start-up of a copy at zero instances
# (about 9.5 minutes: AWS samples, small model on ml.g5.xlarge; chatapi/backend.py), cut to that bound.
WAKE_WAIT_MAX_SECONDS = min(APIGATEWAY_STREAM_MAX_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS) - REQUEST_SECONDS
MEASURED_WAKE_SECONDS = 570
WAKE_WAIT_DEFAULT_SECONDS = min(MEASURED_WAKE_SECONDS, WAKE_WAIT_MAX_SECONDS)
# A non-streamed request sends no byte while held: API Gateway's idle timeout for a streamed response on a Regional
# (or private) REST API is 5 minutes, 30 s on an edge-optimized one (API Gateway developer guide, "Stream the
# integration response for your proxy integrations"); the chat API is Regional (constructs/api/chat_api.py). One
# SageMaker invocation's 60 s stays for the answer after the wake.
APIGATEWAY_REGIONAL_IDLE_SECONDS = 5 * 60
WAKE_NONSTREAM_MAX_SECONDS = APIGATEWAY_REGIONAL_IDLE_SECONDS - SAGEMAKER_INVOKE_SECONDS
