"""Reading a nested YAML mapping while tracking key paths, collecting every problem.

A value parser takes the raw YAML value and returns the typed one, or raises ValueError whose
message says what is wrong; the Section prefixes it with the key path.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
_REQUIRED: Any = object()


class Section:
    def __init__(self, data: Any, path: str, problems: list[str]) -> None:
        if not isinstance(data, dict):
            problems.append(f"{path or '<top level>'}: must be a mapping")
            data = {}
        self._data: dict[Any, Any] = data
        self._path = path
        self._problems = problems
        self._seen: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def problem(self, key: str, message: str) -> None:
        self._problems.append(f"{self.at(key)}: {message}")

    def get(self, key: str, parse: Callable[[Any], T], default: Any = _REQUIRED) -> T:
        """The parsed value; the default when absent or null; None (and a problem) when bad."""
        self._seen.add(key)
        value = self._data.get(key)
        if value is None:
            if default is _REQUIRED:
                self.problem(key, "required")
            return default if default is not _REQUIRED else None  # type: ignore[return-value]
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(key, str(exc))
            return None  # type: ignore[return-value]

    def read(self, cls: Any, **parsers: Callable[[Any], Any]) -> dict[str, Any]:
        """Each key parsed by its parser, in order, for the field of dataclass `cls` of the same
        name; an absent key takes that field's default (none: the key is required)."""
        return {key: self.get(key, parse, default_of(cls, key)) for key, parse in parsers.items()}

    def section(self, key: str) -> Section:
        self._seen.add(key)
        return Section(self._data.get(key) or {}, self.at(key), self._problems)

    def items(self, key: str) -> list[Section]:
        """A list of mappings, each a Section with path `key[i]`."""
        self._seen.add(key)
        value = self._data.get(key) or []
        if not isinstance(value, list):
            self.problem(key, "must be a list")
            return []
        return [
            Section(item, f"{self.at(key)}[{i}]", self._problems) for i, item in enumerate(value)
        ]

    def keys(self) -> list[Any]:
        """For mappings keyed by name (pricing.providers, currency_rates)."""
        return list(self._data)

    def forbid(self, key: str, advice: str) -> None:
        """A key that must never be in the file (a secret)."""
        self._seen.add(key)
        if key in self._data:
            self.problem(key, f"secrets do not belong in the file; {advice}")

    def unique(self, key: str, values: Sequence[Hashable], what: str) -> None:
        for value, count in Counter(v for v in values if v is not None).items():
            if count > 1:
                self.problem(key, f"duplicate {what} {value!r}")

    def finish(self) -> None:
        """Report keys nobody asked for: a typo must not silently fall back to a default."""
        for key in self._data:
            if key not in self._seen:
                self.problem(str(key), "unknown key")


def default_of(cls: Any, name: str) -> Any:
    """The default of dataclass `cls`'s field `name`, or the marker for a required key: the
    dataclasses are the one place a config default is written, so a reader cannot disagree."""
    for field in dataclasses.fields(cls):
        if field.name != name:
            continue
        if field.default is not dataclasses.MISSING:
            return field.default
        if field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
        return _REQUIRED
    raise AttributeError(f"{cls.__name__} has no field {name!r}")


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def decimal(low: Decimal, high: Decimal) -> Callable[[Any], Decimal]:
    def parse(value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise ValueError("must be a number")
        try:
            number = Decimal(str(value).strip())
        except ArithmeticError:
            raise ValueError("must be a number") from None
        if not number.is_finite() or not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    return parse


def url(value: Any) -> str:
    address = text(value)
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not a URL (expected http:// or https://)")
    return address


def matching(pattern: str, problem: str) -> Callable[[Any], str]:
    """Text that matches `pattern` entirely; else `problem` is the message."""
    compiled = re.compile(pattern)

    def parse(value: Any) -> str:
        found = text(value)
        if not compiled.fullmatch(found):
            raise ValueError(problem)
        return found

    return parse


def one_of(options: Collection[str], problem: str) -> Callable[[Any], str]:
    """Text among `options`; `problem` is formatted with the value given."""

    def parse(value: Any) -> str:
        found = text(value)
        if found not in options:
            raise ValueError(problem.format(found))
        return found

    return parse


env_name = matching(r"[A-Za-z_][A-Za-z0-9_]*", "not an environment variable name")


currency = matching(r"[A-Z]{3}", "must be a 3-letter currency code such as USD")
