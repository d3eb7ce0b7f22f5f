"""One module per `cloudops` subcommand; each exposes `command` (see cloudops/cli.py)."""
