"""JSON that is always valid: NaN and infinities become null, numpy scalars become plain numbers.

Why: Python's json writes ``NaN`` and ``Infinity`` by default, which no strict JSON reader accepts; one
implausible header value once made a whole results file unreadable. Every JSON BrainScan writes goes through
``dumps`` (``allow_nan=False`` as the last guard).
"""

from __future__ import annotations

import json
import math

import numpy as np


def finite(value):
    """``value`` with every non-finite float replaced by None (recursively through dicts, lists and tuples)."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value, **kwargs) -> str:
    """``json.dumps`` of ``finite(value)`` with ``allow_nan=False``."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)
