"""Where the embedded defaults keep their state: `.cloudops/` under the current directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_database_url", "state_dir"]


def state_dir() -> Path:
    """The directory for embedded state (SQLite files, logs); CLOUDOPS_STATE_DIR overrides `./.cloudops`."""
    path = Path(os.environ.get("CLOUDOPS_STATE_DIR", ".cloudops")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    """CLOUDOPS_DATABASE_URL, else a SQLite file in the state directory."""
    return os.environ.get("CLOUDOPS_DATABASE_URL") or f"sqlite:///{state_dir() / 'cloudops.db'}"
