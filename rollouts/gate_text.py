"""How the gates write numbers in their reasons: percentages, rates with their Wilson interval, durations."""

from __future__ import annotations

from rollouts.stats import wilson_interval

__all__ = ["format_duration", "pct", "rate"]


def pct(value: float) -> str:
    return f"{value * 100:.2f}%" if abs(value) < 0.1 else f"{value * 100:.1f}%"


def rate(part: int, whole: int, confidence: float = 0.95) -> str:
    ci = wilson_interval(part, whole, confidence)
    return f"{pct(ci.estimate)} ({part}/{whole}, {confidence:.0%} CI {pct(ci.low)}-{pct(ci.high)})"


def format_duration(seconds: float) -> str:
    """A short human duration: 0s, 850ms, 12.5s, 4m10s, 2h05m."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
