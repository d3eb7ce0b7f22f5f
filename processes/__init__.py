"""Local subprocesses for the embedded stack and the benchmarks: start one with a log, wait until it is ready, stop
it (SIGTERM, then SIGKILL) or kill it (a crash), and find a free port.

    child = launch("sim-cloud", module_argv("cloudops", "sim-cloud", "--port", str(port)), log_path)
    child.wait_ready(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), timeout_s=60)   # ProcessFailed if not
    child.stop(timeout_s=15)

`cloudops.devstack` (`cloudops dev`, the demo) and `bench` both start their services with it. It is a leaf of its
own because `cloudops` imports `bench` (so `bench` may not import `cloudops`), and neither `bench` nor the
deployable `durable_runner` is the place for the dev stack's plumbing.

May import: nothing of ours.
"""

from processes.child import (
    ChildProcess,
    ProcessFailed,
    child_environment,
    free_port,
    http_ok,
    launch,
    module_argv,
    port_open,
)

__all__ = [
    "ChildProcess",
    "ProcessFailed",
    "child_environment",
    "free_port",
    "http_ok",
    "launch",
    "module_argv",
    "port_open",
]
