"""The SageMaker container: one dispatcher for serving, training jobs and processing jobs."""
