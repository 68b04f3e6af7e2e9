"""The checks every value a page sends goes through before it reaches the library: numbers
are finite and inside the bounds a user of that control would expect, strings are short.
Each error is a ConfigError naming the setting, the value and what was expected (400)."""
from __future__ import annotations

import math

from ..errors import ConfigError, GanforgeError

MAX_SEED = 2**32 - 1  # numpy's seeds end here
MAX_TEXT = 200  # characters of a name or an option


class Busy(GanforgeError):
    """The playground is in the middle of something that took too long: try again (409)."""
    status = 409


class Limit(GanforgeError):
    """A cap reached (open streams, saved runs): 429."""
    status = 429


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number(name: str, value, lo: float, hi: float) -> float:
    """A finite number in [lo, hi] (JSON's 1e309 arrives as infinity: refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} = {_show(value)}: expected a number in [{lo:g}, {hi:g}]")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ConfigError(f"{name} = {_show(value)}: expected a finite number in [{lo:g}, {hi:g}]")
    return v


def integer(name: str, value, lo: int, hi: int) -> int:
    """A whole number in lo..hi (2.0 is 2; 2.5, true and "2" are refused)."""
    whole = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if isinstance(value, bool) or not whole or not lo <= value <= hi:
        raise ConfigError(f"{name} = {_show(value)}: expected an integer in {lo}..{hi:,}")
    return int(value)


def text(name: str, value, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ConfigError(f"{name} = {_show(value)}: expected a non-empty string of at most {limit} characters")
    return value


def query_int(params, key: str, default: int, hi: int) -> int:
    """A query parameter that must be a whole number in 0..hi."""
    v = params.get(key)
    if v is None:
        return default
    if not (v.isascii() and v.isdigit() and len(v) <= 12) or int(v) > hi:
        raise ConfigError(f"query parameter {key} = {_show(v)}: expected an integer in 0..{hi:,}")
    return int(v)
