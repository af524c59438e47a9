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
MODEL_DIR   ?= $(BUILD)/model-run/model
GATEWAY_PORT ?= 8080
ENDPOINT_PORT ?= 8081
COMPOSE     := IMAGE=$(IMAGE) MODEL_DIR=$(abspath $(MODEL_DIR)) GATEWAY_PORT=$(GATEWAY_PORT) ENDPOINT_PORT=$(ENDPOINT_PORT) docker-compose -p abalone

export IMAGE

.PHONY: help install docker base-image wheels build model evaluate up down invoke run \
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
	bash scripts/build-base-image.sh $(BASE_IMAGE)

$(BUILD)/wheels/.done: requirements/image.txt scripts/wheelhouse.sh
	rm -rf $(BUILD)/wheels
	bash scripts/wheelhouse.sh requirements/image.txt $(BUILD)/wheels
	touch $@

wheels: $(BUILD)/wheels/.done ## download the image's locked wheels on the host

build: base-image wheels ## build the image $(IMAGE) and report its size
	docker build --quiet -f container/Dockerfile --build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(IMAGE) . >/dev/null
	@docker image inspect $(IMAGE) --format 'built {{index .RepoTags 0}}: {{.Size}} bytes' \
	  | awk '{printf "%s %s %.0f MB\n", $$1, $$2, $$3 / 1e6}'

model: install ## train on the real data into $(MODEL_DIR) (preprocess, train, evaluate)
	$(PY) -m training.workflow --data $(DATA) --output-dir $(dir $(MODEL_DIR))

evaluate: install ## 5-fold CV RMSE: this project's recipe vs the AWS template's hyperparameters
	$(PY) -m training.cv --data $(DATA)

up: docker ## start the local endpoint (compose) serving $(MODEL_DIR), wait until healthy
	$(COMPOSE) up -d
	$(PY) -m deploy.invoke wait --url http://127.0.0.1:$(GATEWAY_PORT)/ping --timeout 120

down: ## stop the local endpoint
	$(COMPOSE) down --remove-orphans

invoke: install ## invoke the local endpoint through the SageMaker runtime API (boto3)
	$(PY) -m deploy.invoke invoke --endpoint-url http://127.0.0.1:$(GATEWAY_PORT)

run: install build model up invoke ## the main job: build, train, serve locally, predict
	@echo "The endpoint keeps running on http://127.0.0.1:$(GATEWAY_PORT) (SageMaker runtime API). Stop it with: make down"

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

test: lint install build ## everything CI runs: lint, unit, model and Docker tests
	IMAGE=$(IMAGE) ABALONE_DATA=$(DATA) $(PY) -m pytest -q

lock: ## re-resolve requirements/*.txt from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra serve --extra train --extra dev --generate-hashes \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header --quiet -o requirements/dev.txt
	uv pip compile pyproject.toml --extra serve --extra train --generate-hashes -c requirements/dev.txt \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header --quiet -o requirements/image.txt

clean: ## remove build outputs and the virtual environment
	rm -rf $(BUILD) $(VENV) *.egg-info
