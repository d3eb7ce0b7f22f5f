"""The flag console: staged rollout in the browser, with explain, audit and the rollout dashboard.

May import: `flags`, `router`.
"""
