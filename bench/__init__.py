"""Benchmarks, run with `cloudops bench ...`; each prints JSON with figures and ratios to an in-run baseline.

May import: every package of ours but `cloudops` and `console` (the command that runs the benchmarks is in
`cloudops`, which imports this package).
"""

__all__: list[str] = []  # each benchmark is a module, run through `cloudops bench NAME`
