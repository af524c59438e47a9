"""Drift monitoring: captured endpoint traffic against the training baseline (an image job)."""
