"""The application shell: the `cloudops` command, the embedded dev stack, the demo, reports and benchmarks.

May import: everything.
"""
