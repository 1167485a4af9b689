"""Reproducible speed runs; each module is runnable with ``python -m benchmarks.<name>``."""
