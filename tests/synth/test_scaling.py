"""The hosting shapes on and off: scale to zero (inference component), active hours, always-on autoscaling."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

BERLIN = "MON-FRI 08:00-19:00 Europe/Berlin"
ZERO = {"scale_to_zero": "true", "active_hours": BERLIN, "idle_minutes": "30"}
ZERO_JUMPSTART = {"deployment": "jumpstart", "region": "us-east-1", "scale_to_zero": "true", "max_instances": "2"}
ZERO_SMALL = {
    "model": "falcon-7b-instruct",
    "instance_type": "ml.g5.12xlarge",
    "num_gpus": "1",
    "scale_to_zero": "true",
}
SCALED = {"min_instances": "1", "max_instances": "3", "target_concurrency": "8", "region": "us-east-1"}
SCALED_JUMPSTART = {"deployment": "jumpstart", "region": "us-east-1", "max_instances": "2", "scale_in_cooldown": "900"}
SCALING_TYPES = (
    "AWS::SageMaker::InferenceComponent",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
)


def scaling_alarms(s: Any) -> dict[str, Any]:
    """The wake-from-zero and idle alarms (the operations alarms of every shape are not scaling's)."""
    return {
        k: v
        for k, v in s.of_type("AWS::CloudWatch::Alarm").items()
        if "NoCapacityInvocationFailures" in json.dumps(v) or "Idle" in k or "Wake" in k
    }


def logical_id(s: Any, cfn_type: str, prefix: str = "") -> str:
    (found,) = [k for k in s.of_type(cfn_type) if k.startswith(prefix)]
    return found


def chat_env(s: Any) -> dict[str, str]:
    (function,) = [f for k, f in s.of_type("AWS::Lambda::Function").items() if k.startswith("ChatFunction")]
    return dict(function["Properties"]["Environment"]["Variables"])


def component_name(s: Any) -> str:
    return str(s.one("AWS::SageMaker::InferenceComponent")["InferenceComponentName"])


def test_default_shape_has_no_component_no_scaling_and_no_retained_properties(default_synth: Any) -> None:
    for cfn_type in SCALING_TYPES:
        assert default_synth.of_type(cfn_type) == {}
    assert scaling_alarms(default_synth) == {}
    assert "RetainAllVariantProperties" not in default_synth.one("AWS::SageMaker::Endpoint")
    config = default_synth.one("AWS::SageMaker::EndpointConfig")
    assert "ExecutionRoleArn" not in config
    (variant,) = config["ProductionVariants"]
    assert "ManagedInstanceScaling" not in variant and "ModelName" in variant
    env = chat_env(default_synth)
    assert "INFERENCE_COMPONENT_NAME" not in env
    assert default_synth.stack.llm.inference_component_name is None


def test_scale_to_zero_variant_has_no_model_and_scales_instances_from_zero(synth: Any) -> None:
    s = synth(**ZERO)
    config = s.one("AWS::SageMaker::EndpointConfig")
    role = logical_id(s, "AWS::IAM::Role", "LlmExecutionRole")
    assert config["ExecutionRoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant
    # Room for a second instance: an update of the component starts its new copy beside the old (blue/green).
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.g5.12xlarge", 1)
    assert s.one("AWS::SageMaker::Endpoint")["RetainAllVariantProperties"] is True


def test_component_carries_the_model_with_the_tensor_parallel_gpus(synth: Any) -> None:
    s = synth(**ZERO)
    component = s.one("AWS::SageMaker::InferenceComponent")
    model = logical_id(s, "AWS::SageMaker::Model")
    endpoint = logical_id(s, "AWS::SageMaker::Endpoint")
    assert component["EndpointName"] == {"Fn::GetAtt": [endpoint, "EndpointName"]}
    assert component["VariantName"] == "AllTraffic"
    spec = component["Specification"]
    assert spec["ModelName"] == {"Fn::GetAtt": [model, "ModelName"]}
    # SM_NUM_GPUS=4 on ml.g5.12xlarge (192 GiB host memory): all 4 GPUs and half of the host memory.
    assert spec["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": 4,
        "MinMemoryRequiredInMb": 98304,
    }
    assert spec["StartupParameters"] == {"ContainerStartupHealthCheckTimeoutInSeconds": 600}
    assert component["RuntimeConfig"] == {"CopyCount": 1}
    assert s.resources[logical_id(s, "AWS::SageMaker::InferenceComponent")]["DeletionPolicy"] == "Delete"
    assert len(component_name(s)) <= 63


def test_copy_count_scales_from_zero_and_waits_for_the_component(synth: Any) -> None:
    s = synth(**ZERO)
    name = component_name(s)
    target_id = logical_id(s, "AWS::ApplicationAutoScaling::ScalableTarget")
    target = s.resources[target_id]
    assert target["DependsOn"] == [logical_id(s, "AWS::SageMaker::InferenceComponent")]
    props = target["Properties"]
    assert props["ResourceId"] == f"inference-component/{name}"
    assert props["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (props["ServiceNamespace"], props["MinCapacity"], props["MaxCapacity"]) == ("sagemaker", 0, 1)
    policies = {
        p["Properties"]["PolicyName"]: p["Properties"]
        for p in s.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert set(policies) == {f"{name}-load", f"{name}-wake", f"{name}-idle"}
    for policy in policies.values():
        assert policy["ScalingTargetId"] == {"Ref": target_id}
    load = policies[f"{name}-load"]["TargetTrackingScalingPolicyConfiguration"]
    assert load["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    }
    assert (load["TargetValue"], load["ScaleOutCooldown"], load["DisableScaleIn"]) == (4, 60, True)


def test_no_capacity_alarm_wakes_the_component_from_zero(synth: Any) -> None:
    s = synth(**ZERO)
    name = component_name(s)
    (wake,) = [
        a["Properties"]
        for a in s.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "NoCapacityInvocationFailures"
    ]
    assert (wake["Namespace"], wake["Statistic"], wake["Period"]) == ("AWS/SageMaker", "Maximum", 60)
    assert wake["Dimensions"] == [{"Name": "InferenceComponentName", "Value": name}]
    assert (wake["Threshold"], wake["ComparisonOperator"], wake["EvaluationPeriods"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
        1,
    )
    (action,) = wake["AlarmActions"]
    policy = s.resources[action["Ref"]]["Properties"]
    assert policy["PolicyName"] == f"{name}-wake"
    step = policy["StepScalingPolicyConfiguration"]
    # Exactly one copy, re-invoked every minute while calls keep failing: idempotent, so no cooldown is needed
    # and a wake-up the idle alarm undid comes back a minute later (tests/unit/test_wake_race.py).
    assert step["AdjustmentType"] == "ExactCapacity"
    assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    assert step["Cooldown"] == 0


def test_idle_alarm_takes_it_to_zero_after_idle_minutes(synth: Any) -> None:
    s = synth(**ZERO)
    name = component_name(s)
    (idle,) = [a["Properties"] for a in s.of_type("AWS::CloudWatch::Alarm").values() if "Metrics" in a["Properties"]]
    assert (idle["EvaluationPeriods"], idle["Threshold"], idle["ComparisonOperator"]) == (30, 1, "LessThanThreshold")
    assert idle["TreatMissingData"] == "breaching"
    queries = {q["Id"]: q for q in idle["Metrics"]}
    queried = (
        ("invocations", "Invocations"),
        ("concurrent", "ConcurrentRequestsPerCopy"),
        ("refused", "NoCapacityInvocationFailures"),
    )
    for query_id, metric in queried:
        stat = queries[query_id]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": "AWS/SageMaker",
            "MetricName": metric,
            "Dimensions": [{"Name": "InferenceComponentName", "Value": name}],
        }
        assert stat["Period"] == 60
    assert queries["busy"]["ReturnData"] is True
    # Calls refused while the copy starts count as traffic, so the idle policy never undoes a wake-up.
    assert queries["busy"]["Expression"] == "MAX([FILL(invocations, 0), FILL(concurrent, 0), FILL(refused, 0)])"
    (action,) = idle["AlarmActions"]
    step = s.resources[action["Ref"]]["Properties"]["StepScalingPolicyConfiguration"]
    assert step["AdjustmentType"] == "ExactCapacity"
    assert step["StepAdjustments"] == [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]


def test_active_hours_are_scheduled_actions_in_the_time_zone(synth: Any) -> None:
    s = synth(**ZERO)
    name = component_name(s)
    actions = s.one("AWS::ApplicationAutoScaling::ScalableTarget")["ScheduledActions"]
    assert actions == [
        {
            "ScheduledActionName": f"{name}-start",
            "Schedule": "cron(0 8 ? * MON-FRI *)",
            "Timezone": "Europe/Berlin",
            "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 1},
        },
        {
            "ScheduledActionName": f"{name}-stop",
            "Schedule": "cron(0 19 ? * MON-FRI *)",
            "Timezone": "Europe/Berlin",
            "ScalableTargetAction": {"MinCapacity": 0, "MaxCapacity": 0},
        },
    ]


def test_chat_lambda_names_the_component_and_may_invoke_only_it_and_its_endpoint(synth: Any) -> None:
    s = synth(**ZERO)
    name = component_name(s)
    env = chat_env(s)
    assert env["INFERENCE_COMPONENT_NAME"] == name
    assert s.stack.llm.inference_component_name == name
    component = logical_id(s, "AWS::SageMaker::InferenceComponent")
    endpoint = logical_id(s, "AWS::SageMaker::Endpoint")
    statements = [
        st
        for p in s.of_type("AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:InvokeEndpoint" in st["Action"]
    ]
    (invoke,) = statements
    resources = invoke["Resource"]
    assert sorted(map(str, resources)) == sorted(
        map(str, [{"Ref": endpoint}, {"Fn::GetAtt": [component, "InferenceComponentArn"]}])
    )


def test_execution_role_writes_the_components_logs_and_metrics(synth: Any) -> None:
    s = synth(**ZERO)
    name = component_name(s)
    policy = s.resources[logical_id(s, "AWS::IAM::Policy", "LlmExecutionPolicy")]["Properties"]["PolicyDocument"]
    text = str(policy)
    assert f"log-group:/aws/sagemaker/InferenceComponents/{name}" in text
    assert "/aws/sagemaker/InferenceComponents*" in text


def test_components_log_group_gets_retention_and_goes_with_the_stack(synth: Any) -> None:
    s = synth(**ZERO)
    (retention,) = [
        r
        for r in s.of_type("Custom::LogRetention").values()
        if r["Properties"]["LogGroupName"] == f"/aws/sagemaker/InferenceComponents/{component_name(s)}"
    ]
    assert retention["Properties"]["RetentionInDays"] == 30
    assert retention["Properties"]["RemovalPolicy"] == "destroy"
    assert retention["DependsOn"] == [logical_id(s, "AWS::SageMaker::InferenceComponent")]


def test_accelerators_follow_the_tensor_parallel_degree_and_copies_fill_the_instance(synth: Any) -> None:
    s = synth(**ZERO_SMALL)
    spec = s.one("AWS::SageMaker::InferenceComponent")["Specification"]
    assert spec["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"] == 1
    assert spec["ComputeResourceRequirements"]["MinMemoryRequiredInMb"] == 24576  # 192 GiB / 4 GPUs / 2
    # One GPU per copy on a 4-GPU instance: up to 4 copies on the one instance.
    assert s.one("AWS::ApplicationAutoScaling::ScalableTarget")["MaxCapacity"] == 4
    assert "ScheduledActions" not in s.one("AWS::ApplicationAutoScaling::ScalableTarget")


def test_jumpstart_scale_to_zero_uses_the_specs_gpus(synth: Any) -> None:
    s = synth(**ZERO_JUMPSTART)
    spec = s.one("AWS::SageMaker::InferenceComponent")["Specification"]
    # The spec's SM_NUM_GPUS=8 on ml.g5.48xlarge: one copy per instance, two instances at most.
    assert spec["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"] == 8
    assert spec["StartupParameters"] == {
        "ContainerStartupHealthCheckTimeoutInSeconds": 3600,
        "ModelDataDownloadTimeoutInSeconds": 3600,
    }
    (variant,) = s.one("AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    # Serving is capped by the copy target (2 copies = 2 instances); the variant leaves room for an update's copies.
    assert variant["ManagedInstanceScaling"]["MaxInstanceCount"] == 4
    assert s.one("AWS::ApplicationAutoScaling::ScalableTarget")["MaxCapacity"] == 2
    env = chat_env(s)
    assert env["INFERENCE_COMPONENT_NAME"] == component_name(s)


def test_always_on_autoscaling_tracks_concurrent_requests_per_model(synth: Any) -> None:
    s = synth(**SCALED)
    assert s.of_type("AWS::SageMaker::InferenceComponent") == {}
    assert scaling_alarms(s) == {}
    endpoint = logical_id(s, "AWS::SageMaker::Endpoint")
    assert s.one("AWS::SageMaker::Endpoint")["RetainAllVariantProperties"] is True
    target_id = logical_id(s, "AWS::ApplicationAutoScaling::ScalableTarget")
    target = s.resources[target_id]["Properties"]
    assert target["ResourceId"] == {
        "Fn::Join": ["", ["endpoint/", {"Fn::GetAtt": [endpoint, "EndpointName"]}, "/variant/AllTraffic"]]
    }
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    policy = s.one("AWS::ApplicationAutoScaling::ScalingPolicy")
    assert policy["ScalingTargetId"] == {"Ref": target_id}
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking == {
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"
        },
        "TargetValue": 8,
        "ScaleOutCooldown": 60,
        "ScaleInCooldown": 600,
    }
    (variant,) = s.one("AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert variant["InitialInstanceCount"] == 1 and "ModelName" in variant


def test_jumpstart_autoscaling_takes_the_cooldowns(synth: Any) -> None:
    s = synth(**SCALED_JUMPSTART)
    target = s.one("AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    tracking = s.one("AWS::ApplicationAutoScaling::ScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert (tracking["TargetValue"], tracking["ScaleInCooldown"]) == (4, 900)


def test_hosting_rejects_two_shapes_and_counts_outside_the_range() -> None:
    from constructs.hosting.autoscaling import InstanceScaling
    from constructs.hosting.inference_component import ScaleToZero
    from constructs.hosting.shape import Hosting

    with pytest.raises(ValueError, match="scale_to_zero and instance_scaling exclude each other"):
        Hosting(scale_to_zero=ScaleToZero(), instance_scaling=InstanceScaling())
    with pytest.raises(ValueError, match="instance_count 3 must be at most max_instances 2"):
        Hosting(instance_count=3, scale_to_zero=ScaleToZero(max_instances=2))
    with pytest.raises(ValueError, match="instance_count 4 must lie between min_instances 1 and max_instances 3"):
        Hosting(instance_count=4, instance_scaling=InstanceScaling(max_instances=3))
    with pytest.raises(ValueError, match="idle_minutes 4 is out of range; allowed 5 to 1440"):
        ScaleToZero(idle_minutes=4)
    with pytest.raises(ValueError, match="autoscaling needs 1 <= min_instances < max_instances"):
        InstanceScaling(min_instances=2, max_instances=2)


# Shared with tests/synth/test_validators.py (one cached synth each).
ZERO_VLLM = {"model": "qwen2.5-7b-instruct", "scale_to_zero": "true", "region": "us-east-1"}
ZERO_PRIVATE = {
    "model": "falcon-7b-instruct",
    "scale_to_zero": "true",
    "model_data": "s3://my-weights/models/falcon-7b/",
    "vpc": "create",
    "data_capture": "true",
    "region": "us-east-1",
}


def test_vllm_scales_to_zero_with_its_tensor_parallel_degree_and_host_ami(synth: Any) -> None:
    s = synth(**ZERO_VLLM)
    (component,) = s.of_type("AWS::SageMaker::InferenceComponent").values()
    spec = component["Properties"]["Specification"]
    assert spec["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"] == 1
    (variant,) = s.one("AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert variant["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1" and "ModelName" not in variant
    assert "DeploymentConfig" not in s.one("AWS::SageMaker::Endpoint")
    assert chat_env(s)["ENGINE"] == "vllm" and "INFERENCE_COMPONENT_NAME" in chat_env(s)


def test_private_options_apply_to_the_scale_to_zero_shape(synth: Any) -> None:
    s = synth(**ZERO_PRIVATE)
    model = s.one("AWS::SageMaker::Model")
    config = s.one("AWS::SageMaker::EndpointConfig")
    assert model["EnableNetworkIsolation"] is True and "VpcConfig" in model
    assert config["DataCaptureConfig"]["EnableCapture"] is True
    (component,) = s.of_type("AWS::SageMaker::InferenceComponent").values()
    assert component["Properties"]["Specification"]["ModelName"] == {
        "Fn::GetAtt": [logical_id(s, "AWS::SageMaker::Model"), "ModelName"]
    }


@pytest.mark.parametrize("context", [ZERO_VLLM, ZERO, ZERO_JUMPSTART])
def test_component_takes_no_rolling_update_its_copy_count_cannot_satisfy(synth: Any, context: dict[str, str]) -> None:
    # InferenceComponentRollingUpdatePolicy.MaximumBatchSize must be 5-50 % of the copy count (botocore
    # sagemaker service-2.json): no whole batch exists at the 0 or 1 copy this component usually runs, and every
    # model change reaches the component (PrimaryContainer is create-only: a new Model, a new ModelName).
    s = synth(**context)
    component = s.one("AWS::SageMaker::InferenceComponent")
    assert "DeploymentConfig" not in component
    # SageMaker's default update starts the new copies beside the old: the variant has room for them.
    (variant,) = s.one("AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    copies = s.one("AWS::ApplicationAutoScaling::ScalableTarget")["MaxCapacity"]
    gpus = component["Specification"]["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"]
    per_instance = s.stack.llm.component.copies_per_instance
    assert gpus >= 1 and variant["ManagedInstanceScaling"]["MaxInstanceCount"] * per_instance >= 2 * copies
    # The component's alarms page only: their descriptions promise no rollback.
    alarms = [
        a["Properties"]
        for a in s.of_type("AWS::CloudWatch::Alarm").values()
        if any(d.get("Name") == "InferenceComponentName" for d in a["Properties"].get("Dimensions", []))
        and a["Properties"].get("MetricName") in ("Invocation5XXErrors", "ModelLatency")
    ]
    assert len(alarms) == 2 and all("rolls back" not in a["AlarmDescription"] for a in alarms)


def test_scale_to_zero_refuses_an_update_strategy_it_cannot_apply() -> None:
    from constructs.hosting.inference_component import ScaleToZero
    from constructs.hosting.shape import Hosting

    with pytest.raises(ValueError, match="deployment_strategy 'canary' does not apply with scale_to_zero"):
        Hosting(instance_count=2, scale_to_zero=ScaleToZero(max_instances=2), deployment_strategy="canary")
    assert Hosting(scale_to_zero=ScaleToZero(), deployment_strategy="none").scale_to_zero is not None


def test_scale_to_zero_in_a_vpc_puts_the_endpoint_configs_instances_in_it(synth: Any) -> None:
    # An inference-component endpoint's variant names no model; CreateEndpointConfig has its own VpcConfig and
    # EnableNetworkIsolation (botocore CreateEndpointConfigInput), which the SageMaker SDK sets for such endpoints.
    s = synth(**ZERO_PRIVATE)
    model = s.one("AWS::SageMaker::Model")
    config = s.one("AWS::SageMaker::EndpointConfig")
    assert config["VpcConfig"] == model["VpcConfig"]
    assert set(config["VpcConfig"]) == {"Subnets", "SecurityGroupIds"} and len(config["VpcConfig"]["Subnets"]) == 2
    assert config["EnableNetworkIsolation"] is True


def test_always_on_endpoint_keeps_vpc_and_isolation_on_the_model_only(synth: Any) -> None:
    s = synth(**{k: v for k, v in ZERO_PRIVATE.items() if k != "scale_to_zero"})
    config = s.one("AWS::SageMaker::EndpointConfig")
    assert "VpcConfig" not in config and "EnableNetworkIsolation" not in config
    assert "VpcConfig" in s.one("AWS::SageMaker::Model")


def test_the_chat_lambda_knows_the_schedule_its_component_follows(synth: Any, default_synth: Any) -> None:
    s = synth(**ZERO)
    assert chat_env(s)["ACTIVE_HOURS"] == BERLIN
    schedules = {a["Timezone"] for a in s.one("AWS::ApplicationAutoScaling::ScalableTarget")["ScheduledActions"]}
    assert schedules == {"Europe/Berlin"}
    assert "ACTIVE_HOURS" not in chat_env(synth(**ZERO_SMALL))
    assert "ACTIVE_HOURS" not in chat_env(default_synth)
