"""Values checked against the types and bounds of dataclass fields, with errors that name the key.

A config section declares `lr: Annotated[float, POSITIVE]`; `conform(value, hint, "optim.lr")`
returns the value as that type (a list as a tuple, an int as a float, a string as a Path) or raises
one `JevalError` such as `optim.lr: expected a number > 0, got the string 'fast'`. `check_fields`
walks a built config the same way, so presets and command-line overrides meet the same bounds.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import yaml

from jeval.errors import JevalError


@dataclass(frozen=True)
class Bound:
    """A numeric range: `low` and `high` are included unless `open_low` / `open_high`."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def holds(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.open_high else value > self.high))

    def describe(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.high is None:
            return f"{'>' if self.open_low else '>='} {low}"
        if self.low is None:
            return f"{'<' if self.open_high else '<='} {high}"
        if self.open_high:
            return f"from {low} up to, not including, {high}"
        return f"from {low} to {high}"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else f"{value:.0f}"


POSITIVE = Bound(0, open_low=True)
NON_NEGATIVE = Bound(0)
AT_LEAST_ONE = Bound(1)
FRACTION = Bound(0, 1)
BELOW_ONE = Bound(0, 1, open_high=True)
SEED = Bound(0, 2**32 - 1)


def shown(value: Any) -> str:
    """A value as the YAML that gave it reads, for error messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def expected(hint: Any) -> str:
    """What a value of type `hint` is, in words."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        bounds = [b.describe() for b in args[1:] if isinstance(b, Bound)]
        return " ".join([expected(args[0]), *bounds])
    if origin is Literal:
        return "one of " + ", ".join(shown(a) if isinstance(a, bool) else str(a) for a in args)
    if origin is tuple:
        return f"a list of {_plural(args[0])}"
    if origin is dict:
        return f"a mapping of {_plural(args[0])} to {_plural(args[1])}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            Path: "a path (a string)"}.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(hint: Any) -> str:
    words = expected(hint)
    for article in ("an ", "a "):
        if words.startswith(article):
            first, _, rest = words[len(article):].partition(" ")
            return f"{first}s {rest}".strip()
    return words


def conform(value: Any, hint: Any, key: str) -> Any:
    """`value` as type `hint` (with its bounds), or a JevalError naming `key`."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        value = _conform(value, args[0], key, hint)
        for bound in args[1:]:
            if isinstance(bound, Bound) and not bound.holds(value):
                raise JevalError(f"{key}: expected {expected(hint)}, got {shown(value)}")
        return value
    return _conform(value, hint, key, hint)


def _conform(value: Any, hint: Any, key: str, described: Any) -> Any:
    """`conform` without bounds; an error says what `described` (the hint with its bounds) expects."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        if any(type(value) is type(a) and value == a for a in args):
            return value
    elif origin is tuple:
        if isinstance(value, list | tuple):
            return tuple(conform(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
    elif origin is dict:
        if isinstance(value, dict):
            return {conform(k, args[0], key): conform(v, args[1], f"{key}.{k}") for k, v in value.items()}
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            check_fields(value, f"{key}.")
            return value
    else:
        converted = _scalar(value, hint)
        if converted is not None:
            return converted
    raise JevalError(f"{key}: expected {expected(described)}, got {shown(value)}")


def _scalar(value: Any, hint: Any) -> Any:
    """`value` as the scalar type `hint`, None when it is not one."""
    if hint is bool:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):  # true is not the integer 1 here
        return None
    if hint is int:
        return value if isinstance(value, int) else None
    if hint is float:
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None
    if hint is str:
        return value if isinstance(value, str) else None
    if hint is Path:
        return Path(value) if isinstance(value, str | Path) and str(value) else None
    return value if isinstance(value, hint) else None


def hints(cls: type) -> dict[str, Any]:
    """Field name -> type (Annotated kept) of a config dataclass."""
    return get_type_hints(cls, include_extras=True)


def check_fields(section: Any, prefix: str = "") -> None:
    """Every field of a built config dataclass (nested ones too) against its type and bounds."""
    types = hints(type(section))
    for f in dataclasses.fields(section):
        conform(getattr(section, f.name), types[f.name], f"{prefix}{f.name}")


YAML12_EXPONENT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$")


class Yaml12Floats(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `3e-3` and `1.0e5` (no dot, or no exponent sign) are strings;
    YAML 1.2, and what anyone writing `lr: 3e-3` means, reads numbers. A quoted "3e-3" stays a string."""


Yaml12Floats.add_implicit_resolver("tag:yaml.org,2002:float", YAML12_EXPONENT, list("-+.0123456789"))
