"""Private deployments: what keeps the model, its weights and its traffic inside the user's account.

Weights staged in S3 (model_data.py: an `S3Prefix` source and the offline container environment), VPC placement
with flow logs (network.py), the customer-managed KMS key (keys.py), data capture of requests and responses to an
encrypted bucket (data_capture.py), and `PrivateSettings`/`PrivateHosting` (private_hosting.py), which creates
what the settings ask for and applies it to whichever Model/EndpointConfig shape hosting built. All off by
default. Reads only facts and compliance helpers.
"""
