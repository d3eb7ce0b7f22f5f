"""Alembic revisions, one file per schema change, numbered in order (0001_flags, ...)."""
