"""pipelines.local's options for the train mode and the training instance count, and where it
finds the Train step's model archive in either mode (no Docker)."""

from __future__ import annotations

import pytest

from pipelines.local import LocalSettings, model_data_of


def test_the_defaults_keep_one_processing_instance():
    settings = LocalSettings.from_argv(["--data", "abalone.data"], {})
    assert (settings.train_mode, settings.training_instance_count) == ("processing", 1)


def test_a_training_job_on_two_instances_sets_the_count_parameter(offline_env):
    from pipelines import parameters as p
    from pipelines.local import _local_parameters

    argv = ["--data", "a", "--train-mode", "training", "--training-instance-count", "2"]
    settings = LocalSettings.from_argv(argv, {})
    assert (settings.train_mode, settings.training_instance_count) == ("training", 2)
    values = _local_parameters(settings)
    assert values[p.TRAINING_INSTANCE_COUNT] == 2
    assert values[p.TRAINING_INSTANCE_TYPE] == "local"


@pytest.mark.parametrize("argv", [["--training-instance-count", "0"], ["--train-mode", "batch"]])
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        LocalSettings.from_argv(["--data", "a", *argv], {})
    assert "error:" in capsys.readouterr().err


def test_the_model_archive_of_either_train_mode(offline_env):
    processing = model_data_of({"model": "file:///w/e/Train/model"}, {})
    assert processing == "file:///w/e/Train/model/model.tar.gz"
    artifacts = {"ModelArtifacts": {"S3ModelArtifacts": "file:///w/e/Train/model/model.tar.gz"}}
    assert model_data_of({}, artifacts) == "file:///w/e/Train/model/model.tar.gz"
    assert model_data_of({}, {}) is None
