"""``-c responses_store=true``: the stored-responses table as the stack wires it (KMS with the API's key, TTL,
point-in-time recovery, only its item actions for the chat Lambda), and the /v1/responses routes in API Gateway."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

STORE = {"responses_store": "true", "responses_retention_days": "14"}


def _env(s: Any) -> dict[str, Any]:
    (fn,) = [r["Properties"] for k, r in s.of_type("AWS::Lambda::Function").items() if k.startswith("ChatFunction")]
    return dict(fn["Environment"]["Variables"])


def _statements(s: Any) -> list[dict[str, Any]]:
    return [st for p in s.of_type("AWS::IAM::Policy").values() for st in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_stateless_by_default(default_synth: Any) -> None:
    assert "RESPONSES_TABLE_NAME" not in _env(default_synth)
    assert default_synth.of_type("AWS::DynamoDB::Table") == {}


def test_store_table_is_kms_encrypted_with_ttl_and_pitr(synth: Any) -> None:
    s = synth(**STORE)
    (table_id,) = s.of_type("AWS::DynamoDB::Table")
    table = s.one("AWS::DynamoDB::Table")
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    (key_id,) = [k for k in s.of_type("AWS::KMS::Key") if k.startswith("ChatLogKey")]
    assert table["SSESpecification"] == {
        "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
    assert "TableName" not in table
    env = _env(s)
    assert (env["RESPONSES_TABLE_NAME"], env["RESPONSES_TTL_DAYS"]) == ({"Ref": table_id}, "14")


def test_lambda_gets_only_the_item_actions_on_that_table(synth: Any) -> None:
    s = synth(**STORE)
    (table_id,) = s.of_type("AWS::DynamoDB::Table")
    dynamo = [st for st in _statements(s) if any(a.startswith("dynamodb:") for a in _actions(st))]
    assert len(dynamo) == 1
    assert sorted(_actions(dynamo[0])) == ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
    assert dynamo[0]["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    (key_id,) = [k for k in s.of_type("AWS::KMS::Key") if k.startswith("ChatLogKey")]
    kms = [st for st in _statements(s) if st.get("Resource") == {"Fn::GetAtt": [key_id, "Arn"]}]
    (statement,) = kms
    assert not [a for a in _actions(statement) if "*" in a]
    assert "kms:Decrypt" in _actions(statement) and "kms:GenerateDataKey" in _actions(statement)
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Join": ["", ["dynamodb.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}
    }


def _methods(s: Any) -> dict[tuple[str, str], dict[str, Any]]:
    resources = s.of_type("AWS::ApiGateway::Resource")

    def path(ref: Any) -> str:
        if not isinstance(ref, dict) or "Ref" not in ref:
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return path(props["ParentId"]) + "/" + props["PathPart"]

    return {(path(m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"]): m["Properties"]
            for m in s.of_type("AWS::ApiGateway::Method").values()}  # fmt: skip


@pytest.mark.parametrize("context", [{}, STORE], ids=["stateless", "store"])
def test_responses_routes_have_the_chat_routes_auth(synth: Any, context: dict[str, str]) -> None:
    methods = _methods(synth(**context))
    chat = methods[("/v1/chat/completions", "POST")]
    for route in [("/v1/responses", "POST"), ("/v1/responses/{response_id}", "GET"),
                  ("/v1/responses/{response_id}", "DELETE")]:  # fmt: skip
        method = methods[route]
        assert method["AuthorizationType"] == chat["AuthorizationType"] == "AWS_IAM"
        assert method["Integration"]["Uri"] == chat["Integration"]["Uri"]
    assert "RequestValidatorId" in methods[("/v1/responses", "POST")]


def test_api_key_mode_requires_a_key_on_responses(synth: Any) -> None:
    methods = _methods(synth(api_auth="api_key", reserved_concurrency="20", region="us-east-1"))
    assert methods[("/v1/responses", "POST")]["ApiKeyRequired"] is True
    assert methods[("/v1/responses/{response_id}", "GET")]["ApiKeyRequired"] is True
