"""Validators and parsers for values from users: widgets, API calls, command lines, state files.

Each returns the clean value or raises InputError with a message that says what
is wrong. They exist once, here: the studio, the API and the CLI call the same
ones, so a value is accepted or refused the same way everywhere. Nothing is
silently corrected: 1.5 is not a whole number, NaN is not a number.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

from .errors import InputError

SEED_MAX = 2 ** 32 - 1
MAX_SEEDS = 256          # seeds one command or list may name


def check_finite(name: str, value, lo: float | None = None, hi: float | None = None) -> float:
    """A finite real number, optionally in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InputError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def check_whole(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """A whole number (an int, or a float with no fraction), optionally in [lo, hi]; 1.5 is an
    error, not rounded."""
    v = check_finite(name, value, lo, hi)
    if v != int(v):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    return int(v)


def check_seed(seed) -> int:
    """A seed is a whole number in 0 .. 2**32-1; anything else is an error (no wrapping)."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        raise InputError(f"the seed is empty: type a whole number from 0 to {SEED_MAX}")
    if isinstance(seed, bool) or not isinstance(seed, Real) or (
            not isinstance(seed, Integral) and (not math.isfinite(seed) or seed != int(seed))):
        raise InputError(f"seed must be a whole number in 0..{SEED_MAX}, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed <= SEED_MAX:
        raise InputError(f"seed must be in 0..{SEED_MAX}, got {seed}")
    return seed


def parse_seeds(text) -> list[int]:
    """'0-15', '3, 7, 9', '1-4, 10' or '3; 8' -> a list of seeds (at most MAX_SEEDS)."""
    seeds: list[int] = []
    example = "seeds must look like 0-15 or 1, 5, 9 (whole numbers in 0..2**32-1)"
    for part in str(text).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part[1:].partition("-")          # a leading "-" is a sign, not a range
        try:
            if sep:
                first, last = check_seed(int(part[0] + lo)), check_seed(int(hi))
                if last < first:
                    raise InputError(f"{example}: the range {part} runs backwards")
                if last - first >= MAX_SEEDS:
                    raise InputError(f"at most {MAX_SEEDS} seeds at a time, got the range {part}")
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(check_seed(int(part)))
        except ValueError:
            raise InputError(f"{example}, got {text!r}") from None
        if len(seeds) > MAX_SEEDS:
            raise InputError(f"at most {MAX_SEEDS} seeds at a time")
    return seeds


def parse_numbers(name: str, text) -> tuple[float, ...]:
    """'1.5, 0, -2' -> (1.5, 0.0, -2.0); empty or None -> (). Each must be finite."""
    if text is None or not str(text).strip():
        return ()
    try:
        values = tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise InputError(f"{name} must be comma-separated numbers, got {text!r}") from None
    return tuple(check_finite(name, v) for v in values)


def parse_head(text) -> int | None:
    """'mean' (or empty) -> None, the mean over heads; '2' or 2 -> head 2. The model checks the range."""
    if text in (None, "", "mean"):
        return None
    if isinstance(text, bool):
        raise InputError(f"head must be 'mean' or a head index, got {text!r}")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(f"head must be 'mean' or a head index, got {text!r}") from None
    return check_whole("head", value, 0)


def check_scale(scale) -> int:
    """An integer upscale factor in 1..32."""
    if isinstance(scale, bool) or not isinstance(scale, Integral) or not 1 <= scale <= 32:
        raise InputError(f"scale must be an integer in 1..32, got {scale!r}")
    return int(scale)


def check_size(size) -> tuple[int, int]:
    """(width, height) of a picture, whole pixels in 1..8192."""
    try:
        w, h = size
    except (TypeError, ValueError):
        raise InputError(f"size must be (width, height), got {size!r}") from None
    try:
        return check_whole("size", w, 1, 8192), check_whole("size", h, 1, 8192)
    except InputError:
        raise InputError(f"size must be whole pixels in 1..8192, got {size!r}") from None
