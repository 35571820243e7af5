"""Hosting: the SageMaker resources that run a container, whatever engine built it.

`HostedEndpoint` (endpoint.py) adds the execution role, EndpointConfig, Endpoint and log retention to an engine's
Model; `Hosting` (shape.py) is its frozen shape (instance type and count, timeouts, volume, AMI, scaling). Beside
it: scale to zero with an inference component (inference_component.py), always-on autoscaling (autoscaling.py),
active hours (scheduled capacity), deployment guardrails (deployment.py: blue/green or rolling with rollback
alarms) and the alarms and dashboard (monitoring.py). Hosting applies the private options (constructs.private)
and never knows an engine.
"""
