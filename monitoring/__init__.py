"""Drift monitoring: captured endpoint traffic against the training baseline (a job of the image)."""
