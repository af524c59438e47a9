"""The SageMaker pipeline that trains, evaluates, gates and registers the abalone model.

`abalone` builds the pipeline (no AWS call), `run` is the CLI (definition, upsert/start/wait),
`local` runs the same definition with the SDK's local mode and records gated models in a local
registry folder (`registry`). Importing anything under `sagemaker.mlops` or `sagemaker.serve`
needs a region, so `sessions.prepare_environment()` runs before the SDK is imported.
"""
