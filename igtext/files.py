"""Reading user files with errors that name the file."""
from __future__ import annotations

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
