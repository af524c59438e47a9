"""Deployment tooling: stacks, configs, image push, and clients for real and local endpoints."""
