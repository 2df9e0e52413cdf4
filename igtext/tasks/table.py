"""Examples from a table or a list: CSV and TSV files with a header row, JSONL with one
object a line, or plain text with one input a line. Used for CSV task files and for
`igtext label RUNDIR --input FILE` (any file to label with z*).

Columns are found by name in the header (`input`, `label`, `id`, `split`; case does not
matter), or named by the caller (`--input-column text`). Every problem is reported as
`FILE:LINE: field 'F': what is wrong`.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Mapping

from igtext.data import Example
from igtext.errors import InputError
from igtext.files import read_bytes

TABLE_SUFFIXES = (".csv", ".tsv")
MAX_FILE_BYTES = 256 << 20


def _text(p: Path) -> str:
    raw = read_bytes(p, "file", MAX_FILE_BYTES)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise InputError("not valid UTF-8", file=str(p), line=line) from None


def read_rows(path: str | Path, columns: Mapping[str, str | None] | None = None,
              required: tuple[str, ...] = ("input",)) -> list[tuple[int, dict]]:
    """(line, {"input": ..., "label": ..., "id": ..., "split": ...}) per row of a CSV/TSV
    file; `columns` maps a field to the header name holding it (default: the field's own
    name). Fields in `required` must have a column; a row missing a value is left for the
    caller to judge."""
    p = Path(path)
    text = _text(p)
    dialect = "excel-tab" if p.suffix.lower() == ".tsv" else "excel"
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("file is empty: expected a header row", file=str(p)) from None
    except csv.Error as e:
        raise InputError(f"not valid CSV: {e}", file=str(p), line=1) from None
    names = {h.strip().lower(): i for i, h in enumerate(header)}
    at: dict[str, int] = {}
    for field in ("input", "label", "id", "split"):
        want = ((columns or {}).get(field) or field).strip().lower()
        if want in names:
            at[field] = names[want]
        elif field in required or (columns or {}).get(field):
            raise InputError(f"no column {want!r} in the header (columns: "
                             f"{', '.join(h.strip() for h in header)})", file=str(p), line=1,
                             field=field)
    rows = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InputError(f"{len(cells)} cells, the header has {len(header)}",
                                 file=str(p), line=line)
            rows.append((line, {f: cells[i].strip() or None for f, i in at.items()}))
    except csv.Error as e:
        raise InputError(f"not valid CSV: {e}", file=str(p), line=reader.line_num) from None
    return rows


def read_inputs(path: str | Path, columns: Mapping[str, str | None] | None = None
                ) -> list[Example]:
    """The inputs of any file to label: CSV/TSV (an `input` column, or the one `columns`
    names; `id` and `label` columns if there are), JSONL (objects with `input`, optional `id`
    and `label`) or text (one input a line). Ids default to the line number."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        rows = read_rows(p, columns)
    elif suffix == ".jsonl":
        rows = _jsonl_rows(p, (columns or {}).get("input") or "input")
    else:
        rows = [(n, {"input": line.strip()}) for n, line in
                enumerate(_text(p).splitlines(), start=1) if line.strip()]
    out, seen = [], {}
    for line, row in rows:
        if not row.get("input"):
            raise InputError("empty input", file=str(p), line=line, field="input")
        ex_id = str(row.get("id") or line)
        if ex_id in seen:
            raise InputError(f"duplicate id {ex_id!r} (first at line {seen[ex_id]})",
                             file=str(p), line=line, field="id")
        seen[ex_id] = line
        out.append(Example(ex_id, row["input"], row.get("label")))
    if not out:
        raise InputError("no inputs in the file", file=str(p))
    return out


def _jsonl_rows(p: Path, key: str) -> list[tuple[int, dict]]:
    rows = []
    for n, line in enumerate(_text(p).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise InputError(f"not valid JSON: {e}", file=str(p), line=n) from None
        if not isinstance(obj, dict) or not isinstance(obj.get(key), str):
            raise InputError(f"each line must be an object with a string {key!r}",
                             file=str(p), line=n, field=key)
        label = obj.get("label")
        rows.append((n, {"input": obj[key].strip(), "id": obj.get("id"),
                         "label": label if isinstance(label, str) else None}))
    return rows
