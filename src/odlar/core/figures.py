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


def readable(x: object) -> str:
    """A number for documents and prose: counts with thousands separators (`20,631`),
    large values whole (`2,431`), others to 4 significant digits (`15.43`); a number
    MLflow stored as text (parameters) is read back as one. Anything else as it is."""
    if isinstance(x, str):
        digits = x.strip().lstrip("-")
        if len(digits) > 15 or (len(digits) > 1 and digits[0] == "0" and digits[1] != "."):
            return x  # an identifier (a digest, a zero-padded code), not a number
        try:
            x = int(x) if x.strip().lstrip("-").isdigit() else float(x)
        except ValueError:
            return x
        if isinstance(x, float) and not math.isfinite(x):
            return str(x)
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if not math.isfinite(x):
        return str(x)
    if 1000 <= abs(x) < 1e15 or x.is_integer():
        return f"{x:,.0f}"
    return f"{x:.4g}"
