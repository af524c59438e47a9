"""SageMaker's container paths for Processing and Training jobs: the stages default to these and
the pipeline maps its inputs and outputs onto the same constants."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

PROCESSING: Final = PurePosixPath("/opt/ml/processing")

#: Processing inputs (where the pipeline's ProcessingInputs are mounted).
RAW_DATA_INPUT: Final = PROCESSING / "input" / "data"
TRAIN_INPUT: Final = PROCESSING / "input" / "train"
VALIDATION_INPUT: Final = PROCESSING / "input" / "validation"
TEST_INPUT: Final = PROCESSING / "input" / "test"
PREPROCESSING_INPUT: Final = PROCESSING / "input" / "preprocessing"
MODEL_INPUT: Final = PROCESSING / "input" / "model"

#: Processing outputs (uploaded as they are: real files, no symlinks).
SPLITS_OUTPUT: Final = PROCESSING / "output"
TRAIN_OUTPUT: Final = SPLITS_OUTPUT / "train"
VALIDATION_OUTPUT: Final = SPLITS_OUTPUT / "validation"
TEST_OUTPUT: Final = SPLITS_OUTPUT / "test"
PREPROCESSING_OUTPUT: Final = SPLITS_OUTPUT / "preprocessing"
MODEL_OUTPUT: Final = SPLITS_OUTPUT / "model"
EVALUATION_OUTPUT: Final = SPLITS_OUTPUT / "evaluation"

#: Processing job config and failure message.
PROCESSING_JOB_CONFIG: Final = PurePosixPath("/opt/ml/config/processingjobconfig.json")
PROCESSING_MESSAGE: Final = PurePosixPath("/opt/ml/output/message")

#: Training job layout.
TRAINING_INPUT: Final = PurePosixPath("/opt/ml/input")
HYPERPARAMETERS: Final = TRAINING_INPUT / "config" / "hyperparameters.json"
INPUT_DATA_CONFIG: Final = TRAINING_INPUT / "config" / "inputdataconfig.json"
CHANNELS: Final = TRAINING_INPUT / "data"
TRAINING_MODEL_DIR: Final = PurePosixPath("/opt/ml/model")
TRAINING_FAILURE: Final = PurePosixPath("/opt/ml/output/failure")
TRAINING_OUTPUT_DATA: Final = PurePosixPath("/opt/ml/output/data")

#: Training job channel names (the pipeline's TrainingInput keys).
TRAIN_CHANNEL: Final = "train"
VALIDATION_CHANNEL: Final = "validation"
PREPROCESSING_CHANNEL: Final = "preprocessing"
