"""container/contract.py is the one place SageMaker's names are spelled: a leaf module that
imports no numpy, and the files that cannot import it (compose) agree with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from container import contract

REPO = Path(__file__).resolve().parents[2]


def test_the_contract_is_a_leaf_module_without_numpy():
    code = (
        "import sys, container.contract; "
        "assert 'numpy' not in sys.modules, 'numpy'; "
        "assert not [m for m in sys.modules if m.startswith(('container.', 'training'))"
        " and m != 'container.contract'], sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_compose_mounts_the_model_where_the_contract_says():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    volumes = services["endpoint"]["volumes"]
    assert [volume.split(":")[-2] for volume in volumes] == [contract.MODEL_DIR.default]


def test_the_job_layout_is_built_from_the_output_names():
    outputs = (contract.TRAIN_SPLIT, contract.VALIDATION_SPLIT, contract.TEST_SPLIT)
    assert [
        contract.TRAIN_OUTPUT.name,
        contract.VALIDATION_OUTPUT.name,
        contract.TEST_OUTPUT.name,
    ] == list(outputs)
    assert contract.PREPROCESSING_INPUT.name == contract.PREPROCESSING_CHANNEL
    assert str(contract.TRAINING_MODEL_DIR) == contract.MODEL_DIR.default
