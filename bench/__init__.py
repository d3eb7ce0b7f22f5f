"""Benchmarks, run with `cloudops bench ...`; each prints JSON with figures and ratios to an in-run baseline."""
