"""`cloudops demo`: a staged migration from the legacy path to the durable path, on the embedded stack, under faults.

`workload` builds the deployment pipelines from a seed; `pipelines` runs them through a router as an orchestrator
would; `rollouts` starts and ticks a guarded rollout per scope; `chaos` kills the worker now and then; `progress`
shows how far it got; `summary` and `render` say what happened (every number from the run); `run.Demo` puts
them together.

May import: everything (it is part of the application shell).
"""

from cloudops.demo.render import render_text
from cloudops.demo.run import DEFAULT_OPS, Demo, DemoError, DemoOptions, Ports
from cloudops.demo.summary import DemoSummary
from cloudops.demo.workload import Workload, build_workload

__all__ = [
    "DEFAULT_OPS",
    "Demo",
    "DemoError",
    "DemoOptions",
    "DemoSummary",
    "Ports",
    "Workload",
    "build_workload",
    "render_text",
]
