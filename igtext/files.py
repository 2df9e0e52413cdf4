"""Reading user files with errors that name the file."""
from __future__ import annotations

import json
import re
from pathlib import Path

from igtext.errors import InputError


def read_text(path: str | Path, what: str = "file", error=InputError) -> str:
    """The file's text as UTF-8, or `error` naming the file (missing, a folder, bad bytes)."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} not found", file=str(p)) from None
    except IsADirectoryError:
        raise error(f"is a directory, expected a {what}", file=str(p)) from None
    except UnicodeDecodeError as e:
        raise error(f"not valid UTF-8 (byte {e.start})", file=str(p)) from None


def read_bytes(path: str | Path, what: str = "file", max_bytes: int = 256 << 20) -> bytes:
    """The file's bytes, or an `InputError` naming it (missing, a folder, over `max_bytes`)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found", file=str(p))
    if p.is_dir():
        raise InputError(f"is a directory, expected a {what}", file=str(p))
    if p.stat().st_size > max_bytes:
        raise InputError(f"file larger than {max_bytes >> 20} MiB", file=str(p))
    return p.read_bytes()


MAX_DEPTH = 64          # tasks, configs and judgments nest 4 deep; parsers recurse per level
_STRINGS = {'"': re.compile(r'"(?:[^"\\\n]|\\.)*"'),
            "'": re.compile(r"'(?:[^'\n]|'')*'")}
_BRACKETS = re.compile(r"[\[\]{}]")


def check_depth(text: str, file: str | None = None, line: int | None = None,
                quotes: str = '"') -> None:
    """Refuse text nested more than MAX_DEPTH brackets deep (quoted strings skipped) before
    a parser recurses through it (200,000 `[` would otherwise end in a RecursionError)."""
    for q in quotes:
        text = _STRINGS[q].sub("", text)
    depth = 0
    for b in _BRACKETS.findall(text):
        depth += 1 if b in "[{" else -1
        if depth > MAX_DEPTH:
            raise InputError(f"nested more than {MAX_DEPTH} levels deep", file=file, line=line)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def json_value(text: str, file: str | None = None, line: int | None = None):
    """One JSON value from user input: its depth bounded before parsing, Infinity and NaN
    refused, and every failure one `InputError` naming the file and line."""
    check_depth(text, file, line)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg} (column {e.colno})", file=file,
                         line=line) from None
    except (ValueError, RecursionError) as e:    # a 5000-digit number; Infinity; NaN
        raise InputError(f"not usable JSON: {e}", file=file, line=line) from None


def yaml_loader(base=None):
    """A safe YAML loader that refuses duplicate keys (YAML lets the last one win silently),
    naming the line of the second."""
    import yaml

    class Strict(base or yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (first on line {seen[key]})",
                            key_node.start_mark)
                    seen[key] = key_node.start_mark.line + 1
                except TypeError:        # an unhashable key: the base loader says so
                    continue
            return super().construct_mapping(node, deep=deep)
    return Strict
