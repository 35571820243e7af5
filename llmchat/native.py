"""``make chat CHAT_ARGS="--direct"``: chat with SageMaker's own OpenAI route, skipping this app's API, to compare.

Since 2026-05 every SageMaker real-time endpoint and inference component answers OpenAI's Chat Completions at
(SageMaker developer guide, "Invoke endpoints with OpenAI-compatible APIs",
https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html, and the sample notebook it
cites, aws-samples/sagemaker-genai-hosting-examples 03-features/openai/sagemaker-inference-openai-api.ipynb):

    https://runtime.sagemaker.<REGION>.amazonaws.com/endpoints/<ENDPOINT>/openai/v1
    https://runtime.sagemaker.<REGION>.amazonaws.com/endpoints/<ENDPOINT>/inference-components/<IC>/openai/v1

The stack prints this base URL as its ``NativeOpenAiBaseUrl`` output. Only ``/chat/completions`` is documented
under it (no ``/models``), the body is passed to the container as is (``model`` may be empty) and the answer
comes back as the container wrote it, SSE included.

Authentication (``--direct-auth``):
- ``bearer`` (default): what the page documents. The token is a SigV4 *pre-signed* URL for the ``sagemaker``
  service's ``CallWithBearerToken`` action on ``sagemaker.amazonaws.com``, base64-encoded behind the prefix
  ``sagemaker-api-key-``, made locally from the caller's AWS credentials (no network call), valid up to 12 h;
  the caller needs ``sagemaker:InvokeEndpoint`` and ``sagemaker:CallWithBearerToken``. Built here exactly as
  ``sagemaker.core.token_generator`` (sagemaker-core 2.27.0) builds it, fresh for every request as the page's
  "auto-refresh" ``httpx.Auth`` pattern does; a test compares both byte for byte.
- ``sigv4``: the request itself signed with SigV4 for service ``sagemaker`` (the signing name of botocore's
  ``sagemaker-runtime`` model, whose host this is). NOT documented for this route: the page describes bearer
  tokens only, and the stdapi.ai gateway reports plain SigV4 refused there (stdapi-ai/stdapi.ai,
  stdapi/aws_sagemaker.py). Kept so a user can see for themselves.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

if TYPE_CHECKING:
    import botocore.session
    import openai

# sagemaker-core 2.27.0, sagemaker/core/token_generator/token_generator.py: DEFAULT_HOST, SERVICE_NAME, AUTH_PREFIX,
# TOKEN_VERSION, TOKEN_DURATION.
TOKEN_HOST = "sagemaker.amazonaws.com"  # noqa: S105 (names, not secrets)
TOKEN_SERVICE = "sagemaker"  # noqa: S105
TOKEN_PREFIX = "sagemaker-api-key-"  # noqa: S105
TOKEN_VERSION = "&Version=1"  # noqa: S105
TOKEN_MAX_SECONDS = 12 * 3600
# A token per request: short is enough, and the page asks for "the shortest duration your workload requires".
TOKEN_SECONDS = 900
# botocore sagemaker-runtime 2017-05-13 service-2.json: metadata.signingName (endpointPrefix runtime.sagemaker).
SIGV4_SERVICE = "sagemaker"
# The stack output holding the route's base URL (stacks/native_route.py).
OUTPUT_KEY = "NativeOpenAiBaseUrl"
REGION_IN_HOST = re.compile(r"^runtime\.sagemaker\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


def base_url(region: str, endpoint: str, component: str | None = None, *, dns_suffix: str = "amazonaws.com") -> str:
    """The route's base URL as the docs spell it; names are path-escaped so a name cannot re-target the call."""
    path = f"/endpoints/{quote(endpoint, safe='')}"
    if component:
        path += f"/inference-components/{quote(component, safe='')}"
    return f"https://runtime.sagemaker.{region}.{dns_suffix}{path}/openai/v1"


def bearer_token(credentials: Any, region: str, expires: int = TOKEN_SECONDS) -> str:
    """A SageMaker bearer token, made as ``sagemaker.core.token_generator._generate_token`` makes it."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    if not 0 < expires <= TOKEN_MAX_SECONDS:
        raise ValueError(f"a bearer token lives 1 to {TOKEN_MAX_SECONDS} seconds, not {expires}")
    request = AWSRequest(
        method="POST",
        url=f"https://{TOKEN_HOST}/",
        headers={"host": TOKEN_HOST},
        params={"Action": "CallWithBearerToken"},
    )
    # One snapshot: refreshable credentials could otherwise change between the key and the secret being read.
    frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
    SigV4QueryAuth(frozen, TOKEN_SERVICE, region, expires=expires).add_auth(request)
    presigned = str(request.url).replace("https://", "") + TOKEN_VERSION
    return TOKEN_PREFIX + base64.b64encode(presigned.encode()).decode()


class BearerToken(httpx.Auth):
    """A fresh bearer token on every request (the docs' auto-refresh pattern); it is never stored or logged."""

    def __init__(self, region: str, session: botocore.session.Session) -> None:
        self.region = region
        self.session = session

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = self.session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials found (environment, ~/.aws, SSO or instance role)")
        request.headers["Authorization"] = f"Bearer {bearer_token(credentials, self.region)}"
        yield request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--direct",
        action="store_true",
        help="skip this app's API: talk to SageMaker's own OpenAI route (the stack's NativeOpenAiBaseUrl output)",
    )
    parser.add_argument(
        "--direct-auth",
        choices=("bearer", "sigv4"),
        default="bearer",
        help="--direct: a SageMaker bearer token (documented, default) or a SigV4-signed request (undocumented)",
    )


def region_of(url: str) -> str | None:
    match = REGION_IN_HOST.match(httpx.URL(url).host)
    return match.group(1) if match else None


def stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    """The stack's outputs, read with boto3 (the same credential and region resolution as ``cli.stack_url``)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from llmchat.cli import ChatError

    try:
        cfn = boto3.client("cloudformation", region_name=region or os.environ.get("AWS_REGION") or None)
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise ChatError(f"cannot read stack {stack!r}: {message} (pass --region, --stack or --url)") from None
    except BotoCoreError as exc:
        raise ChatError(f"cannot read stack {stack!r}: {exc} (pass --region, --stack or --url)") from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def connect(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> tuple[openai.OpenAI, str]:
    """An openai client on the native route, and the model name to send (the stack's ModelId, else empty)."""
    import botocore.session
    import openai

    from llmchat.cli import READ_TIMEOUT, ChatError
    from llmchat.sigv4 import SigV4

    environ = os.environ if environ is None else environ
    model = args.model
    url = args.url
    if not url:
        outputs = stack_outputs(args.stack, args.region)
        if OUTPUT_KEY not in outputs:
            raise ChatError(f"stack {args.stack!r} has no {OUTPUT_KEY} output (deployed before it existed?): --url")
        url = outputs[OUTPUT_KEY]
        model = model if model is not None else outputs.get("ModelId")
    region = args.region or region_of(url) or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ChatError("no AWS region to sign for: pass --region (the endpoint's region)")
    session = botocore.session.get_session()
    if session.get_credentials() is None:
        raise ChatError(
            "no AWS credentials found (environment, ~/.aws, SSO, instance role): the native route takes only AWS "
            "identities (set AWS_PROFILE or run `aws sso login`)"
        )
    auth: httpx.Auth = (
        SigV4(region=region, service=SIGV4_SERVICE, session=session)
        if args.direct_auth == "sigv4"
        else BearerToken(region, session)
    )
    client = openai.OpenAI(
        base_url=url.rstrip("/"),
        api_key="unused",  # replaced by the Authorization header the auth flow sets
        # openai accepts an httpx.Client (it converts it); its annotation names only its own httpx2 fork.
        http_client=httpx.Client(auth=auth, timeout=httpx.Timeout(READ_TIMEOUT, connect=10.0)),  # type: ignore[arg-type]
        max_retries=0,
    )
    # The route documents /chat/completions only (no /models): the body's model is passed through as is.
    return client, model or ""
