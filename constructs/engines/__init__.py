"""Engines: each turns a model choice into what a SageMaker container needs to serve it.

`TgiEndpoint` (Hugging Face's TGI DLC), `VllmEndpoint` (the vLLM DLC) and `JumpStartEndpoint` (a model pinned in
jumpstart.lock.json) each pick the image, the container environment, the weights' source and the GPUs the model
uses, then hand the Model to `constructs.hosting.endpoint.HostedEndpoint`, which builds the rest. `quantization`
says at synth which TGI quantize modes a checkpoint can load. Engines read facts, hosting and private settings;
nothing below imports an engine.
"""
