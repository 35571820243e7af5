"""Facts read at synth: plain Python and data, no aws_cdk, so tools and tests can read them cheaply.

Model presets (presets.py), GPU sizing and price estimates (catalog.py), the SageMaker SDK's bundled image and GPU data
(sdk_data.py) and the GPU facts it lacks (gpu_facts.py), instance-type facts such as which types take an EBS
volume (instances.py), the committed locks (jumpstart_lock.py, model_lock.py) and the regions the chat Lambda's
layer exists in (regions.py). Every other package may read facts; facts import nothing of ours but facts.
"""
