"""Fast-Properties-style scoped dynamic flags.

A pure evaluator over an in-memory snapshot (most specific scope wins, LaunchDarkly-compatible sticky buckets),
stores that push changes (SQL through SQLAlchemy, Redis pub/sub), an audit trail with restore, kill switches, and
LaunchDarkly as an alternative backend.

May import: nothing of ours.
"""
