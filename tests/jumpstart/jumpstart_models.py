"""Names shared by the JumpStart tests: fixture folders and the fixture model ids."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OVERRIDES = {
    "AWS_JUMPSTART_MANIFEST_LOCAL_ROOT_DIR_OVERRIDE": str(FIXTURES / "manifest"),
    "AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE": str(FIXTURES / "specs"),
}
FALCON_40B = "huggingface-llm-falcon-40b-instruct-bf16"
FALCON_180B = "huggingface-llm-falcon-180b-bf16"
FALCON_7B = "huggingface-llm-falcon-7b-instruct-bf16"
EULA_MODEL = "fixture-synthetic-eula-falcon-7b"
PACKAGE_MODEL = "fixture-synthetic-model-package-falcon-7b"
