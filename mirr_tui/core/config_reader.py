"""Typed reads of the raw manifest YAML for mirr_tui.core.config, with errors that name the key's path."""

from __future__ import annotations

import difflib
from typing import Any


class ConfigError(ValueError):
    """The manifest is missing a key or holds a value the rules cannot use."""


class Reader:
    """Typed access to raw YAML with errors that name the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def _get(self, raw: dict[str, Any], key: str, prefix: str) -> Any:
        if key not in raw:
            raise ConfigError(f"{self.source}: {prefix}{key}: required key is missing")
        return raw[key]

    def known(self, raw: dict[Any, Any], allowed: tuple[str, ...], prefix: str) -> None:
        """Refuse a key the rules do not read (a typo would otherwise be ignored silently)."""
        for key in raw:
            if str(key) in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            if not close:  # `confirm_window` for `confirm_steps`: the one known key sharing a word
                words = set(str(key).split("_"))
                close = [k for k in allowed if words & set(k.split("_"))]
                close = close if len(close) == 1 else []
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(allowed)}"
            raise ConfigError(f"{self.source}: {prefix}{key}: unknown key ({hint})")

    def mapping(self, raw: dict[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
        value = self._get(raw, key, prefix)
        if not isinstance(value, dict):
            raise ConfigError(f"{self.source}: {prefix}{key}: must be a mapping, got {type(value).__name__}")
        return value

    def number(
        self, raw: dict[str, Any], key: str, prefix: str = "", low: float | None = None, high: float | None = None
    ) -> float:
        value = self._get(raw, key, prefix)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.source}: {prefix}{key}: must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{self.source}: {prefix}{key}: {value} is outside [{low}, {high}]")
        return float(value)

    def boolean(self, raw: dict[str, Any], key: str, prefix: str = "") -> bool:
        value = self._get(raw, key, prefix)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.source}: {prefix}{key}: must be true or false, got {value!r}")
        return value

    def integer(self, raw: dict[str, Any], key: str, prefix: str = "", low: int | None = None) -> int:
        value = self._get(raw, key, prefix)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.source}: {prefix}{key}: must be a whole number, got {value!r}")
        if low is not None and value < low:
            raise ConfigError(f"{self.source}: {prefix}{key}: {value} is below {low}")
        return value

    def _pair(self, raw: dict[str, Any], key: str, prefix: str) -> list[Any]:
        value = self._get(raw, key, prefix)
        if not isinstance(value, list) or len(value) != 2:
            raise ConfigError(f"{self.source}: {prefix}{key}: must be a [low, high] pair, got {value!r}")
        return value

    def int_range(self, raw: dict[str, Any], key: str, prefix: str = "", low: int = 0) -> tuple[int, int]:
        pair = self._pair(raw, key, prefix)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in pair) or pair[0] > pair[1]:
            raise ConfigError(
                f"{self.source}: {prefix}{key}: must be whole numbers low <= high (>= {low}), got {pair!r}"
            )
        return (pair[0], pair[1])

    def float_range(
        self, raw: dict[str, Any], key: str, prefix: str = "", low: float = 0, high: float = 1
    ) -> tuple[float, float]:
        pair = self._pair(raw, key, prefix)
        if (
            not all(isinstance(v, int | float) and not isinstance(v, bool) and low <= v <= high for v in pair)
            or pair[0] > pair[1]
        ):
            raise ConfigError(
                f"{self.source}: {prefix}{key}: must be numbers in [{low}, {high}], low <= high, got {pair!r}"
            )
        return (float(pair[0]), float(pair[1]))

    def str_list(self, raw: dict[str, Any], key: str, prefix: str = "") -> list[str]:
        value = raw.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.source}: {prefix}{key}: must be a list of service names, got {value!r}")
        return value
