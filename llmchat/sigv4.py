"""SigV4 signing for the `openai` client (and any httpx client) against the chat API's default AWS_IAM auth.

    import httpx
    from openai import OpenAI
    from llmchat.sigv4 import SigV4

    client = OpenAI(
        base_url="https://<api-id>.execute-api.us-east-1.amazonaws.com/prod/v1",
        api_key="unused",  # the openai client insists on one; SigV4 replaces its Authorization header
        http_client=httpx.Client(auth=SigV4(region="us-east-1"), timeout=900),
    )

Credentials come from the standard AWS chain (environment, ~/.aws, SSO, instance role) through botocore.
"""

from __future__ import annotations

from collections.abc import Generator

import botocore.session
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

# Headers that hops may change, or that the openai client adds per retry: never part of the signature.
_UNSIGNED = {"authorization", "connection", "user-agent", "x-stainless-retry-count", "x-stainless-read-timeout"}


class SigV4(httpx.Auth):
    """Signs each request for API Gateway (`execute-api`) with the caller's AWS credentials."""

    requires_request_body = True

    def __init__(self, region: str, *, service: str = "execute-api", session: botocore.session.Session | None = None):
        self.region = region
        self.service = service
        self.session = session or botocore.session.get_session()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = self.session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials found (environment, ~/.aws, SSO or instance role)")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _UNSIGNED}
        aws_request = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), self.service, self.region).add_auth(aws_request)
        request.headers.pop("authorization", None)
        request.headers.update(dict(aws_request.headers.items()))
        yield request
