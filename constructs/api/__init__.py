"""The chat API in front of the endpoint: API Gateway (streaming REST API), the chat Lambda and what they use.

`ChatApi` (chat_api.py), told by `ChatSettings` and `ApiLimits` (settings.py), builds the Lambda from
lambda/chat_proxy (packaged reproducibly by lambda_asset.py), the REST API with its routes, auth, throttling and
logs, and the DynamoDB tables for usage limits (usage_table.py) and stored responses (responses_table.py).
time_limits.py holds SageMaker's invocation limits and the timeouts derived from them (plain numbers: the proxy's
copy is tested against them). The API reads a hosted endpoint's name and grants; it never knows an engine.
"""
