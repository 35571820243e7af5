"""Every route the chat proxy app serves is an API Gateway method, and every API Gateway method is served by the app.

A route the app serves but API Gateway lacks answers API Gateway's 403 "Missing Authentication Token" once deployed
(`POST /v1/completions` and `GET /v1/models/{model}` did). The app's routes are read from the FastAPI app itself
(the one `make dev` and the Lambda serve), so a route added to the app later fails here until it is routed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tools.architecture import load_app

pytestmark = pytest.mark.xdist_group("synth")

# One synth per auth mode (the same contexts other synth tests use, so the session cache shares them).
AUTH_CONTEXTS = {
    "iam": {},
    "api_key": {"api_auth": "api_key", "reserved_concurrency": "20", "region": "us-east-1"},
}
# FastAPI's own pages; the app must not serve them in production (API Gateway does not route them).
FASTAPI_DOCS = {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}  # Starlette's implicit HEAD for GET; neither is part of the API


def gateway_path(app_path: str) -> str:
    """The API Gateway resource path for a Starlette route path: `{name}` stays, a `{name:path}` parameter (which
    matches the rest of the path, "/" included) is API Gateway's greedy `{name+}`, other converters are dropped."""

    def convert(match: re.Match[str]) -> str:
        name, converter = match.group(1), match.group(2)
        return f"{{{name}+}}" if converter == "path" else f"{{{name}}}"

    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}", convert, app_path)


def app_routes() -> dict[tuple[str, str], bool]:
    """(method, API Gateway path) -> whether the route is public (the static page, tag "page") for every route
    the app serves."""
    app = load_app()
    served: dict[tuple[str, str], bool] = {}
    for route in app.routes:
        methods = set(getattr(route, "methods", None) or ()) - IGNORED_METHODS
        path = getattr(route, "path", "")
        assert path not in FASTAPI_DOCS, f"the app serves FastAPI's {path}; turn it off (API Gateway does not route it)"
        assert methods, f"route {path!r} serves no method this test understands (a mount?): route it explicitly"
        public = "page" in (getattr(route, "tags", None) or [])
        for method in methods:
            served[(method, gateway_path(path))] = public
    return served


def gateway_methods(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, full resource path) -> the method's properties, for every AWS::ApiGateway::Method."""
    resources = template["Resources"]

    def path_of(resource_id: Any) -> str:
        if isinstance(resource_id, dict) and "Fn::GetAtt" in resource_id:
            assert resource_id["Fn::GetAtt"][1] == "RootResourceId"
            return ""
        props = resources[resource_id["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    found = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::ApiGateway::Method":
            props = resource["Properties"]
            found[(props["HttpMethod"], path_of(props["ResourceId"]) or "/")] = props
    return found


@pytest.fixture(scope="module")
def served() -> dict[tuple[str, str], bool]:
    return app_routes()


def test_the_app_serves_the_contract_routes(served: dict[tuple[str, str], bool]) -> None:
    contract = {
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("GET", "/v1/models"),
        ("GET", "/v1/models/{model+}"),
        ("POST", "/generate"),
        ("GET", "/health"),
        ("GET", "/"),
    }
    assert contract <= set(served)
    assert [route for route, public in served.items() if public] == [("GET", "/")]


def test_a_path_converter_maps_to_api_gateways_parameters() -> None:
    assert gateway_path("/v1/models/{model:path}") == "/v1/models/{model+}"
    assert gateway_path("/v1/files/{file_id}") == "/v1/files/{file_id}"
    assert gateway_path("/v1/items/{n:int}/x") == "/v1/items/{n}/x"


@pytest.mark.parametrize("auth", sorted(AUTH_CONTEXTS))
def test_every_served_route_is_routed_with_its_authorization(
    synth: Any, served: dict[tuple[str, str], bool], auth: str
) -> None:
    methods = gateway_methods(synth(**AUTH_CONTEXTS[auth]).template)
    missing = sorted(set(served) - set(methods))
    assert not missing, (
        f"served by the app but not routed by API Gateway (add to constructs/api/chat_api.py): {missing}"
    )
    for route, public in served.items():
        props = methods[route]
        integration = props["Integration"]
        assert (integration["Type"], integration["ResponseTransferMode"]) == ("AWS_PROXY", "STREAM"), route
        if public:
            assert props["AuthorizationType"] == "NONE" and not props.get("ApiKeyRequired"), route
        elif auth == "iam":
            assert props["AuthorizationType"] == "AWS_IAM" and not props.get("ApiKeyRequired"), route
        else:
            assert props["AuthorizationType"] == "NONE" and props["ApiKeyRequired"] is True, route


@pytest.mark.parametrize("auth", sorted(AUTH_CONTEXTS))
def test_every_routed_method_is_served_by_the_app(synth: Any, served: dict[tuple[str, str], bool], auth: str) -> None:
    methods = gateway_methods(synth(**AUTH_CONTEXTS[auth]).template)
    extra = sorted(set(methods) - set(served))
    assert not extra, f"routed by API Gateway but not served by the app (it would answer 404/405): {extra}"
    assert not any("{proxy+}" in path for _, path in methods), json.dumps(sorted(methods))
