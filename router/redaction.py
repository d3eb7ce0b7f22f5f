"""What a record may keep: secrets redacted by field name, JSON capped in size. Used by every row the router
writes (router/records.py, router/claims.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_JSON_BYTES", "cap_size", "redact"]

_SECRET_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|authorization|user[_-]?data)"
)
MAX_JSON_BYTES = 16 * 1024


def redact(value: Any) -> Any:
    """The value with every field whose name looks secret replaced by "[redacted]", recursively."""
    if isinstance(value, Mapping):
        return {k: "[redacted]" if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def cap_size(value: Any, limit: int = MAX_JSON_BYTES) -> Any:
    """The value itself when its JSON fits in `limit` bytes, else a marker with a preview."""
    text = json.dumps(value, default=str, sort_keys=True)
    if len(text.encode()) <= limit:
        return value
    return {"truncated": True, "bytes": len(text.encode()), "preview": text[: limit // 8]}
