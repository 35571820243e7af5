"""SageMaker instance facts that both hosting and private deployments check: the type's shape and its storage."""

from __future__ import annotations

import re

# Instance families without local NVMe storage; only they accept an EBS VolumeSizeInGB.
EBS_VOLUME_FAMILIES = ("ml.p2.", "ml.p3.", "ml.c5.", "ml.m5.", "ml.r5.", "ml.inf1.")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


def accepts_volume_size(instance_type: str) -> bool:
    return instance_type.startswith(EBS_VOLUME_FAMILIES) and not instance_type.startswith("ml.p3dn.")
