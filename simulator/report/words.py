"""How counts are said in every line shiftsim prints: a count with its noun, singular for one,
thousands grouped (`1 version`, `1,376 contacts`)."""

from __future__ import annotations


def counted(n: int | float, noun: str, plural: str | None = None) -> str:
    whole = int(n) if float(n).is_integer() else n
    return f"{whole:,} {noun if whole == 1 else plural or noun + 's'}"
