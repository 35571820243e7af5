"""Where the stack can run: the partitions and regions every part of it is published in.

The chat Lambda needs the AWS Lambda Web Adapter layer (arm64). AWS publishes it from account 753240598075 in
the commercial regions of its release pipeline's list (awslabs/aws-lambda-web-adapter
`.github/workflows/prod.json`, every entry `"arm64_supported": true`). China has its own accounts per region and
the adapter's documentation (docs/guide/src/getting-started/zip-packages.md, "AWS China Regions") lists only
the x86_64 layer there; GovCloud and the isolated partitions have none. So only the `aws` partition is
supported, and only the regions below.
"""

from __future__ import annotations

from collections.abc import Iterable

SUPPORTED_PARTITIONS = ("aws",)
LWA_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)


def supported_regions(*region_sets: Iterable[str]) -> list[str]:
    """The Web Adapter's regions intersected with every other set given (image mapping, JumpStart lock...)."""
    regions = set(LWA_REGIONS)
    for other in region_sets:
        regions &= set(other)
    return sorted(regions)
