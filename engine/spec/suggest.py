"""Did-you-mean suggestions, shared by every place that rejects an unknown name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or '' when nothing is close."""
    pool = sorted({str(c) for c in candidates})
    match = difflib.get_close_matches(str(word), pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        if str(word).lower() in lowered:
            match = [lowered[str(word).lower()]]
    return f" (did you mean '{match[0]}'?)" if match else ""
