"""Numbers as people read them in a table: `2431`, not `2.43e+03`."""

from __future__ import annotations

import math


def figure(x: float, digits: int = 4) -> str:
    """`digits` significant digits; a number with more digits before the point than that is
    shown whole (rounded to a unit) rather than in exponent notation, up to 1e15."""
    if not math.isfinite(x):
        return str(x)
    if 10 ** (digits - 1) <= abs(x) < 1e15:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"
