"""Where the public benchmark data are read from (never copied into igtext).

`IGTEXT_DATA_DIR` names a folder holding `instruction_induction/`, `hypobench/` and `cad/`
(each loader also takes an explicit directory); without it, `shared/data` beside the
checkout is used.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from igtext.errors import InputError


def data_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """The directory of dataset `name`: `root` if given, else `$IGTEXT_DATA_DIR/name`, else
    `shared/data/name` beside the checkout."""
    if root:
        return Path(root)
    env = os.environ.get("IGTEXT_DATA_DIR")
    base = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
    return base / name


def read_json(path: Path, missing: str = "no such file"):
    """A data file's JSON; a missing or malformed file is an InputError naming it (and the
    line, for bad JSON)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(missing, file=str(path)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg}", file=str(path), line=e.lineno) from None
