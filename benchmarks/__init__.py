"""Benchmarks of the reference stack and the CLI; `python -m benchmarks --help`."""
