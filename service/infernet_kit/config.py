"""The one place configuration is read: JSON files (as users write them) and JSON environment values."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

# A `//` comment outside a string, and a comma right before a closing bracket: the seeds' params.json
# has both, and users copy it as written.
_JSON_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])', re.DOTALL)


class ConfigError(ValueError):
    """Configuration that cannot be used; the message names the file, key or variable at fault."""


def strip_json_extras(text: str) -> str:
    """Drop `//` and `/* */` comments and trailing commas, leaving strings untouched."""
    keep_strings = lambda m: m.group(0) if m.group(0).startswith('"') else ""  # noqa: E731
    # Twice: a trailing comma followed by a comment (`"a": 1, // note` then `}`) is seen only once the comment is gone.
    return _JSON_TOKENS.sub(keep_strings, _JSON_TOKENS.sub(keep_strings, text))


def parse_json(text: str, *, source: str) -> Any:
    """Parse lenient JSON; errors name `source` and the position."""
    try:
        return json.loads(strip_json_extras(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc


def load_json_file(path: str | Path, *, what: str = "file") -> Any:
    """Read a JSON file, tolerating comments and trailing commas; errors name the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} not found: {file}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {file}: {exc.strerror}") from exc
    return parse_json(text, source=str(file))


def env_json(name: str, default: Any = None, *, environ: dict[str, str] | None = None) -> Any:
    """The JSON value of environment variable `name`, or `default` when unset or empty."""
    raw = (os.environ if environ is None else environ).get(name, "")
    if not raw.strip():
        return default
    return parse_json(raw, source=f"environment variable {name}")
