"""Model weights staged in the user's S3 bucket: the URI, the ModelDataSource and the container env any engine needs.

Engines share this: TGI sets `HF_MODEL_ID` to the local directory; vLLM's DLC serves a non-empty
`/opt/ml/model` when `SM_VLLM_MODEL` is unset. SageMaker copies an uncompressed `S3Prefix` source into
`/opt/ml/model` before the container starts, so the container needs no network (`EnableNetworkIsolation`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import aws_sagemaker as sagemaker

# Where SageMaker puts ModelDataSource objects inside the container (SageMaker developer guide, "How SageMaker
# loads your model artifacts"; the SageMaker SDK's HuggingFaceModel sets HF_MODEL_ID to this path for model_data).
LOCAL_MODEL_DIR = "/opt/ml/model"
# Bucket naming rules (S3 user guide, "General purpose bucket naming rules"): 3-63 chars, lower case, digits,
# dots and hyphens, starting and ending with a letter or digit. The prefix must name a folder (trailing slash).
S3_PREFIX_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<prefix>(?:[^/\s]+/)*)$")
KMS_KEY_ARN = re.compile(r"^arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")


@dataclass(frozen=True)
class S3ModelData:
    """An uncompressed model folder in S3 (`s3://bucket/prefix/`), optionally SSE-KMS encrypted with `kms_key_arn`."""

    uri: str
    kms_key_arn: str | None = None

    def __post_init__(self) -> None:
        if not S3_PREFIX_URI.fullmatch(self.uri):
            raise ValueError(
                f"model_data {self.uri!r} is not an S3 folder URI like s3://my-bucket/models/falcon-40b/ "
                "(a valid bucket name and a prefix ending with '/')"
            )
        if self.kms_key_arn is not None and not KMS_KEY_ARN.fullmatch(self.kms_key_arn):
            raise ValueError(f"model_data_kms_key {self.kms_key_arn!r} is not a KMS key ARN (arn:aws:kms:…:key/…)")

    @property
    def bucket(self) -> str:
        match = S3_PREFIX_URI.fullmatch(self.uri)
        assert match is not None
        return match["bucket"]

    @property
    def prefix(self) -> str:
        match = S3_PREFIX_URI.fullmatch(self.uri)
        assert match is not None
        return match["prefix"]

    @property
    def s3_read(self) -> tuple[str, str]:
        """(bucket, prefix) for `HostedEndpoint._execution_role(s3_read=[...])`: only this folder is readable."""
        return self.bucket, self.prefix

    def model_data_source(self) -> sagemaker.CfnModel.ModelDataSourceProperty:
        # CompressionType None + S3Prefix: SageMaker copies every object under the prefix as-is, no tarball to
        # unpack, which is what makes S3 start-up faster than a Hub download (CreateModel API, S3ModelDataSource).
        return sagemaker.CfnModel.ModelDataSourceProperty(
            s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                s3_uri=self.uri, s3_data_type="S3Prefix", compression_type="None"
            )
        )


# Variables that make a container reach the Hugging Face Hub; none of them may be set when weights come from S3.
HUB_ENV = frozenset({"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_MODEL_REVISION", "HF_MODEL_ID"})


def offline_environment(
    env: dict[str, str], *, model_id_key: str | None, drop: frozenset[str] = frozenset()
) -> dict[str, str]:
    """`env` for a container that loads `LOCAL_MODEL_DIR`: no token, no revision, the Hub client offline.

    `model_id_key` names the variable that must point at the local folder (TGI: `HF_MODEL_ID`, whose value the
    DLC's sagemaker-entrypoint.sh passes to text-generation-launcher as the model id, and a path is loaded
    locally); `None` for engines that find `/opt/ml/model` themselves (vLLM's DLC with `SM_VLLM_MODEL` unset:
    pass `drop=frozenset({"SM_VLLM_MODEL"})`).
    """
    offline = {k: v for k, v in env.items() if k not in HUB_ENV | drop}
    if model_id_key is not None:
        offline[model_id_key] = LOCAL_MODEL_DIR
    # huggingface_hub's documented switch: never call the Hub, use local files only.
    offline["HF_HUB_OFFLINE"] = "1"
    return offline
