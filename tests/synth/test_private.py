"""Private deployments on synth output: each option on and off, combined, for TGI and JumpStart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.summary import summary

pytestmark = pytest.mark.xdist_group("synth")

WEIGHTS = "s3://my-weights/models/falcon-7b/"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# Shapes shared with tests/synth/test_validators.py (same context → one cached synth).
S3_WEIGHTS = {"model": "falcon-7b-instruct", "model_data": WEIGHTS, "region": "us-east-1"}
ALL_ON = {
    "model": "falcon-7b-instruct",
    "instance_type": "ml.p3.8xlarge",
    "model_data": WEIGHTS,
    "model_data_kms_key": KEY,
    "vpc": "create",
    "kms_key": "create",
    "data_capture": "true",
    "data_capture_days": "7",
}
EXISTING_VPC = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "kms_key": KEY,
    "data_capture": "true",
    "region": "us-east-1",
}
JUMPSTART_PRIVATE = {"deployment": "jumpstart", "region": "us-east-1", "vpc": "create", "data_capture": "true"}


def _statements(s: Any) -> list[dict[str, Any]]:
    (policy,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for k, r in s.of_type("AWS::IAM::Policy").items()
        if k.startswith("LlmExecutionPolicy")
    ]
    return list(policy)


def test_everything_is_off_by_default(default_synth: Any) -> None:
    model = default_synth.one("AWS::SageMaker::Model")
    config = default_synth.one("AWS::SageMaker::EndpointConfig")
    assert "EnableNetworkIsolation" not in model and "VpcConfig" not in model
    assert "ModelDataSource" not in model["PrimaryContainer"]
    assert model["PrimaryContainer"]["Environment"]["HF_MODEL_ID"] == "tiiuae/falcon-40b-instruct"
    assert "KmsKeyId" not in config and "DataCaptureConfig" not in config
    assert not default_synth.of_type("AWS::EC2::VPC") and not default_synth.of_type("AWS::S3::Bucket")
    assert "weights      Hugging Face Hub download of tiiuae/falcon-40b-instruct" in summary(default_synth.stack)


def test_s3_weights_load_an_uncompressed_prefix_with_network_isolation(synth: Any) -> None:
    s = synth(**S3_WEIGHTS)
    model = s.one("AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"]["ModelDataSource"] == {
        "S3DataSource": {"S3Uri": WEIGHTS, "S3DataType": "S3Prefix", "CompressionType": "None"}
    }
    env = model["PrimaryContainer"]["Environment"]
    assert env["HF_MODEL_ID"] == "/opt/ml/model" and env["HF_HUB_OFFLINE"] == "1"
    assert not {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} & set(env)
    assert "weights      s3://my-weights/models/falcon-7b/ (S3, network isolation on" in summary(s.stack)


def test_s3_weights_role_reads_only_that_prefix(synth: Any) -> None:
    statements = _statements(synth(**S3_WEIGHTS))
    s3 = [st for st in statements if any(str(a).startswith("s3:") for a in _list(st["Action"]))]
    assert {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::my-weights/models/falcon-7b/*"} in s3
    listing = next(st for st in s3 if st["Action"] == "s3:ListBucket")
    assert listing["Resource"] == "arn:aws:s3:::my-weights"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/falcon-7b/*"]}}
    assert len(s3) == 2


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_all_options_combined(synth: Any) -> None:
    s = synth(**ALL_ON)
    model = s.one("AWS::SageMaker::Model")
    config = s.one("AWS::SageMaker::EndpointConfig")
    subnets = model["VpcConfig"]["Subnets"]
    assert len(subnets) == 2 and all(set(ref) == {"Ref"} for ref in subnets)
    (group,) = model["VpcConfig"]["SecurityGroupIds"]
    assert group["Fn::GetAtt"][0].startswith("LlmPrivateNetworkModelSecurityGroup")
    (key_id,) = [k for k in s.of_type("AWS::KMS::Key") if k.startswith("LlmPrivateKey")]
    assert config["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert s.resources[key_id]["Properties"]["EnableKeyRotation"] is True
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 100
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert capture["CaptureContentTypeHeader"] == {"JsonContentTypes": ["application/json"]}
    assert capture["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    text = summary(s.stack)
    assert "network      new isolated VPC (2 AZs, no NAT)" in text
    assert "kms key      volume + data capture" in text
    assert "capture      prompts and answers kept 7 days" in text


def test_created_vpc_is_isolated_with_the_endpoints_sagemaker_needs(synth: Any) -> None:
    s = synth(**ALL_ON)
    assert not s.of_type("AWS::EC2::NatGateway") and not s.of_type("AWS::EC2::InternetGateway")
    assert len(s.of_type("AWS::EC2::Subnet")) == 2
    services = sorted(str(e["Properties"]["ServiceName"]) for e in s.of_type("AWS::EC2::VPCEndpoint").values())
    for name in ("ecr.api", "ecr.dkr", "logs", ".s3"):
        assert sum(name in svc for svc in services) == 1, (name, services)
    (flow,) = s.of_type("AWS::EC2::FlowLog").values()
    groups = s.of_type("AWS::Logs::LogGroup")
    (group,) = [g for k, g in groups.items() if k.startswith("LlmPrivateNetworkFlowLogs")]
    assert "KmsKeyId" in group["Properties"]
    assert flow["Properties"]["LogDestinationType"] == "cloud-watch-logs"


def test_model_security_group_has_no_ingress_and_only_https_egress(synth: Any) -> None:
    s = synth(**ALL_ON)
    groups = s.of_type("AWS::EC2::SecurityGroup")
    (model_group,) = [g["Properties"] for k, g in groups.items() if k.startswith("LlmPrivateNetworkModelSecurityGroup")]
    assert "SecurityGroupIngress" not in model_group
    egress = model_group["SecurityGroupEgress"]
    assert all((e["IpProtocol"], e["FromPort"], e["ToPort"]) == ("tcp", 443, 443) for e in egress)
    separate = [r["Properties"] for r in s.of_type("AWS::EC2::SecurityGroupEgress").values()]
    assert all((e["FromPort"], e["ToPort"]) == (443, 443) for e in separate)
    ingress = [r["Properties"] for r in s.of_type("AWS::EC2::SecurityGroupIngress").values()]
    assert ingress and all((i["FromPort"], "SourceSecurityGroupId" in i) == (443, True) for i in ingress)


def test_capture_bucket_is_encrypted_private_tls_only_and_expires(synth: Any) -> None:
    s = synth(**ALL_ON)
    (bucket,) = [b["Properties"] for k, b in s.of_type("AWS::S3::Bucket").items() if "DataCaptureBucket" in k]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 7
    assert "LoggingConfiguration" in bucket
    policies = [p["Properties"]["PolicyDocument"] for p in s.of_type("AWS::S3::BucketPolicy").values()]
    assert any(
        st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for doc in policies
        for st in doc["Statement"]
    )


def test_role_writes_only_the_capture_prefix_and_uses_keys_only_via_s3(synth: Any) -> None:
    statements = _statements(synth(**ALL_ON))
    put = next(st for st in statements if st["Action"] == "s3:PutObject")
    assert put["Resource"]["Fn::Join"][1][-1] == "/capture/*"
    kms = [st for st in statements if any(str(a).startswith("kms:") for a in _list(st["Action"]))]
    assert len(kms) == 2
    for st in kms:
        via = json.dumps(st["Condition"]["StringEquals"]["kms:ViaService"])
        assert '"s3."' in via and "sagemaker" not in via
        assert st["Condition"]["StringEquals"]["kms:CallerAccount"] == {"Ref": "AWS::AccountId"}
    assert any(st["Resource"] == KEY and st["Action"] == "kms:Decrypt" for st in kms)


def test_existing_vpc_by_ids_with_an_imported_key_on_an_nvme_instance(synth: Any) -> None:
    s = synth(**EXISTING_VPC)
    model = s.one("AWS::SageMaker::Model")
    assert model["VpcConfig"]["Subnets"] == ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    (group,) = s.of_type("AWS::EC2::SecurityGroup").values()
    assert group["Properties"]["VpcId"] == "vpc-0123456789abcdef0"
    assert "SecurityGroupIngress" not in group["Properties"]
    assert not s.of_type("AWS::EC2::VPC")
    assert not [k for k in s.of_type("AWS::KMS::Key") if k.startswith("LlmPrivate")]
    config = s.one("AWS::SageMaker::EndpointConfig")
    # ml.g5.12xlarge has NVMe instance storage: no volume key, the imported key encrypts the capture only.
    assert "KmsKeyId" not in config and config["DataCaptureConfig"]["KmsKeyId"] == KEY
    assert "EnableNetworkIsolation" not in model  # Hub weights through the user's VPC (NAT) are allowed
    assert "kms key      (NVMe volume: hardware-encrypted) data capture" in summary(s.stack)


def test_given_security_groups_are_used_as_is(synth: Any) -> None:
    s = synth(
        vpc_id="vpc-0123456789abcdef0", subnet_ids="subnet-0123456789abcdef0", security_group_ids="sg-0123456789abcdef0"
    )
    assert s.one("AWS::SageMaker::Model")["VpcConfig"]["SecurityGroupIds"] == ["sg-0123456789abcdef0"]
    assert not s.of_type("AWS::EC2::SecurityGroup")


def test_jumpstart_in_a_created_vpc_with_data_capture(synth: Any) -> None:
    s = synth(**JUMPSTART_PRIVATE)
    model = s.one("AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True and "VpcConfig" in model
    config = s.one("AWS::SageMaker::EndpointConfig")
    assert "DataCaptureConfig" in config and "KmsKeyId" not in config  # ml.g5.48xlarge: NVMe
    assert "weights      JumpStart artifacts in S3" in summary(s.stack)


def test_kms_key_on_an_nvme_instance_without_capture_fails_synth() -> None:
    import aws_cdk as cdk

    import app as app_module
    from tests.conftest import cdk_json_context

    app = cdk.App(context={**cdk_json_context(), "kms_key": "create"})
    with pytest.raises(ValueError, match=r"kms_key: ml.g5.12xlarge has local NVMe instance storage"):
        app_module.build(app)


def test_jumpstart_construct_refuses_model_data() -> None:
    import aws_cdk as cdk

    from constructs.engines.jumpstart_endpoint import JumpStartEndpoint
    from constructs.private.model_data import S3ModelData
    from constructs.private.private_hosting import PrivateSettings

    stack = cdk.Stack(cdk.App(), "Test")
    with pytest.raises(ValueError, match="model_data is not for JumpStart: its artifacts already come from S3"):
        JumpStartEndpoint(stack, "Llm", private=PrivateSettings(model_data=S3ModelData(WEIGHTS)))


def test_vllm_serves_s3_weights_from_opt_ml_model_with_network_isolation(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct", model_data="s3://my-weights/models/qwen/", region="us-east-1")
    model = s.one("AWS::SageMaker::Model")
    env = model["PrimaryContainer"]["Environment"]
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri"] == "s3://my-weights/models/qwen/"
    # Without SM_VLLM_MODEL the DLC serves the non-empty /opt/ml/model; nothing may point it at the Hub.
    assert "SM_VLLM_MODEL" not in env and "SM_VLLM_REVISION" not in env and "HF_TOKEN" not in env
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["SM_VLLM_SERVED_MODEL_NAME"] == "Qwen/Qwen2.5-7B-Instruct"


def test_a_created_key_is_administered_by_the_account_but_used_only_through_the_stacks_services(synth: Any) -> None:
    s = synth(**ALL_ON)
    keys = [k["Properties"] for k in s.of_type("AWS::KMS::Key").values() if "SageMaker endpoint" in str(k)]
    (statements,) = [k["KeyPolicy"]["Statement"] for k in keys]
    by_sid = {st["Sid"]: st for st in statements}
    assert set(by_sid) == {"Administer", "UseThroughTheStacksServices"}
    assert not any(
        a.startswith(("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")) for a in by_sid["Administer"]["Action"]
    )
    use = by_sid["UseThroughTheStacksServices"]
    assert "kms:Decrypt" in use["Action"] and "kms:*" not in use["Action"]
    services = json.dumps(use["Condition"]["StringEquals"]["kms:ViaService"])
    assert all(f'"{s}.' in services or f"{s}." in services for s in ("sagemaker", "ec2", "s3"))
    assert "kms:CallerAccount" in use["Condition"]["StringEquals"]


def _key_policy(s: Any, description: str) -> list[dict[str, Any]]:
    (key,) = [
        k["Properties"] for k in s.of_type("AWS::KMS::Key").values() if description in k["Properties"]["Description"]
    ]
    return list(key["KeyPolicy"]["Statement"])


def _via_services(s: Any) -> list[str]:
    (use,) = [st for st in _key_policy(s, "SageMaker") if st.get("Sid") == "UseThroughTheStacksServices"]
    return [json.dumps(v) for v in use["Condition"]["StringEquals"]["kms:ViaService"]]


def test_a_created_key_names_ec2_only_when_it_encrypts_an_ebs_volume(synth: Any) -> None:
    # ml.p3.8xlarge has an EBS volume (KmsKeyId on the EndpointConfig); JumpStart's ml.g5 has NVMe storage, so
    # its key (created for data capture) is used by SageMaker and S3 only.
    assert any('"ec2.' in v for v in _via_services(synth(**ALL_ON)))
    nvme = synth(**JUMPSTART_PRIVATE)
    assert "KmsKeyId" not in nvme.one("AWS::SageMaker::EndpointConfig")
    services = _via_services(nvme)
    assert len(services) == 2 and not any("ec2" in v for v in services)


def test_the_flow_log_key_serves_only_the_flow_log_group(synth: Any) -> None:
    s = synth(**ALL_ON)
    statements = _key_policy(s, "flow logs")
    (logs_use,) = [st for st in statements if "Service" in st.get("Principal", {})]
    arn = json.dumps(logs_use["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    assert arn.endswith('":log-group:/llm-chat/", {"Ref": "AWS::StackName"}, "/vpc-flow-logs"]]}') and "*" not in arn
    (group,) = [g["Properties"] for k, g in s.of_type("AWS::Logs::LogGroup").items() if "FlowLogs" in k]
    assert group["LogGroupName"] == {"Fn::Join": ["", ["/llm-chat/", {"Ref": "AWS::StackName"}, "/vpc-flow-logs"]]}


def _capture_read_denials(s: Any) -> list[dict[str, Any]]:
    (bucket_id,) = [k for k in s.of_type("AWS::S3::Bucket") if "DataCaptureBucket" in k]
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in s.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return [st for st in policy["Statement"] if st["Effect"] == "Deny" and "s3:GetObject" in st["Action"]]


def test_nobody_reads_captured_prompts_unless_named(synth: Any) -> None:
    (deny,) = _capture_read_denials(synth(**ALL_ON))
    assert deny["Principal"] == {"AWS": "*"} and "Condition" not in deny
    assert sorted(deny["Action"]) == ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectVersionForReplication"]


def test_named_capture_readers_are_the_only_ones_who_read_captured_prompts(synth: Any) -> None:
    readers = "arn:aws:iam::123456789012:role/prompt-auditors,arn:aws:iam::123456789012:role/aws-reserved/*/Sec_*"
    (deny,) = _capture_read_denials(synth(**JUMPSTART_PRIVATE, capture_readers=readers))
    assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": readers.split(",")}}
