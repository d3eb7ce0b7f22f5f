"""The application shell: the `cloudops` command, the embedded dev stack, the demo, reports and benchmarks.

May import: everything.
"""

__all__: list[str] = []  # the shell exports nothing: run `cloudops`, or import cloudops.cli
