"""Reading and validating task files (JSONL or YAML). The format is in docs/tasks.md.

JSONL: the first line is the header `{"name": ..., "labels": [...]?, "initial_hypothesis": ...?,
"description": ...?, "world": ...?}`; every other line is one example
`{"split": "train"|"test", "id": ..., "input": ..., "label": ...}`.
YAML: one mapping with the header keys plus `train:` and `test:` lists of examples.
CSV/TSV: a header row naming the columns `split`, `input`, `label` (and `id`, else the line
number); the task is named after the file, its labels are the distinct labels in it.

Every problem is reported as `FILE:LINE: field 'F': what is wrong`.
"""
from __future__ import annotations

import json
from pathlib import Path

from igtext.data import Example, Task
from igtext.errors import InputError
from igtext.files import check_depth, json_value, read_bytes, yaml_loader

MAX_LINE_BYTES = 1 << 20          # one example line; a 10 MB line is an error, not a hang
MAX_FILE_BYTES = 256 << 20
HEADER_KEYS = {"name", "labels", "initial_hypothesis", "description", "world"}
EXAMPLE_KEYS = {"split", "id", "input", "label"}


def read_task_file(path: str | Path) -> Task:
    p = Path(path)
    raw = read_bytes(p, "task file", MAX_FILE_BYTES)
    if p.suffix.lower() in (".yaml", ".yml"):
        return _read_yaml(p, raw)
    from igtext.tasks.table import TABLE_SUFFIXES
    if p.suffix.lower() in TABLE_SUFFIXES:
        return _read_table(p)
    return _read_jsonl(p, raw)


def _read_table(p: Path) -> Task:
    from igtext.tasks.table import read_rows
    rows = read_rows(p, required=("split", "input", "label"))
    labels = sorted({r["label"] for _, r in rows if r.get("label")})
    header = {"name": p.stem, **({"labels": labels} if len(labels) >= 2 else {})}
    return _build(p, header, 1, [(n, {**{k: v for k, v in r.items() if v is not None},
                                      "id": r.get("id") or str(n)}) for n, r in rows])


def _decode_lines(p: Path, raw: bytes) -> list[str]:
    lines = []
    for n, chunk in enumerate(raw.split(b"\n"), start=1):
        if len(chunk) > MAX_LINE_BYTES:
            raise InputError(f"line is {len(chunk)} bytes, longer than the limit of "
                             f"{MAX_LINE_BYTES} bytes", file=str(p), line=n)
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise InputError(f"not valid UTF-8 (byte {e.start} of the line)",
                             file=str(p), line=n) from None
    return lines


def _read_jsonl(p: Path, raw: bytes) -> Task:
    header, header_line = None, 0
    rows: list[tuple[int, dict]] = []
    for n, line in enumerate(_decode_lines(p, raw), start=1):
        if not line.strip():
            continue
        obj = json_value(line, str(p), n)
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", file=str(p), line=n)
        if header is None:
            if "name" not in obj:
                raise InputError("the first line must be the task header with a name",
                                 file=str(p), line=n, field="name")
            header, header_line = obj, n
        else:
            rows.append((n, obj))
    if header is None:
        raise InputError("file is empty", file=str(p))
    return _build(p, header, header_line, rows)


class _LineLoader:
    """A YAML SafeLoader that records the line of each mapping under '__line__'."""

    @staticmethod
    def make():
        import yaml

        class Loader(yaml_loader()):
            pass

        def construct_mapping(loader, node, deep=False):
            mapping = Loader.construct_mapping(loader, node, deep=deep)
            mapping["__line__"] = node.start_mark.line + 1
            return mapping

        Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
        return Loader


def _read_yaml(p: Path, raw: bytes) -> Task:
    import yaml

    _decode_lines(p, raw)  # UTF-8 and line-length checks with line numbers
    check_depth(raw.decode("utf-8"), str(p), quotes="\"'")
    try:
        doc = yaml.load(raw.decode("utf-8"), Loader=_LineLoader.make())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(e, 'problem', e)}", file=str(p),
                         line=mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict):
        raise InputError("the file must hold one mapping with name, train and test", file=str(p))
    rows = []
    for split in ("train", "test"):
        items = doc.pop(split, [])
        if not isinstance(items, list):
            raise InputError(f"'{split}' must be a list of examples", file=str(p),
                             line=doc.get("__line__"), field=split)
        for item in items:
            if not isinstance(item, dict):
                raise InputError("each example must be a mapping", file=str(p), field=split)
            rows.append((item.pop("__line__", None), {"split": split, **item}))
    line = doc.pop("__line__", 1)
    return _build(p, doc, line, rows)


def _err(p: Path, line, field: str, msg: str) -> InputError:
    return InputError(msg, file=str(p), line=line, field=field)


def _build(p: Path, header: dict, header_line: int, rows) -> Task:
    unknown = sorted(set(header) - HEADER_KEYS)
    if unknown:
        raise _err(p, header_line, unknown[0], f"unknown header field (known: "
                   f"{', '.join(sorted(HEADER_KEYS))})")
    name = header.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _err(p, header_line, "name", "must be a non-empty string")
    labels = header.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or not labels or \
                not all(isinstance(x, str) and x.strip() for x in labels):
            raise _err(p, header_line, "labels", "must be a non-empty list of non-empty strings")
        if len(set(labels)) != len(labels):
            raise _err(p, header_line, "labels", "has duplicates")
        if len(labels) < 2:
            raise _err(p, header_line, "labels", "needs at least two labels (with one, every "
                       "z explains D perfectly); leave it out for open-ended outputs")
        labels = tuple(labels)
    init = header.get("initial_hypothesis")
    if init is not None and (not isinstance(init, str) or not init.strip()):
        raise _err(p, header_line, "initial_hypothesis", "must be a non-empty string")
    desc = header.get("description", "")
    if not isinstance(desc, str):
        raise _err(p, header_line, "description", "must be a string")
    world = header.get("world")
    if world is not None:
        from igtext.judgments.annotators import simulated_worlds
        if world not in simulated_worlds():
            raise _err(p, header_line, "world", f"unknown simulated world {world!r} (known: "
                       f"{', '.join(simulated_worlds())})")

    seen: dict[str, int | None] = {}
    train, test = [], []
    for line, row in rows:
        extra = sorted(set(row) - EXAMPLE_KEYS)
        if extra:
            raise _err(p, line, extra[0], f"unknown example field (known: "
                       f"{', '.join(sorted(EXAMPLE_KEYS))})")
        split = row.get("split")
        if split not in ("train", "test"):
            raise _err(p, line, "split", f"must be 'train' or 'test', got {split!r}")
        ex_id = row.get("id")
        if isinstance(ex_id, bool) or not isinstance(ex_id, (str, int)) or str(ex_id) == "":
            raise _err(p, line, "id", f"must be a non-empty string or an integer, got {ex_id!r}")
        ex_id = str(ex_id)
        if ex_id in seen:
            where = f" (first at line {seen[ex_id]})" if seen[ex_id] else ""
            raise _err(p, line, "id", f"duplicate id {ex_id!r}{where}")
        seen[ex_id] = line
        text = row.get("input")
        if not isinstance(text, str) or not text.strip():
            raise _err(p, line, "input", "must be a non-empty string")
        label = row.get("label")
        if label is None and split == "train":
            raise _err(p, line, "label", "missing: every train example needs a label")
        if label is not None:
            if not isinstance(label, str) or not label.strip():
                raise _err(p, line, "label", f"must be a non-empty string, got {label!r}")
            if labels is not None and label not in labels:
                raise _err(p, line, "label", f"unknown label {label!r} (labels: "
                           f"{', '.join(labels)})")
        (train if split == "train" else test).append(Example(ex_id, text, label))
    if not train:
        raise InputError("no train examples: D is empty", file=str(p), field="train")
    return Task(name=name.strip(), train=tuple(train), test=tuple(test), labels=labels,
                initial_hypothesis=init, description=desc, world=world)


def write_task_jsonl(task: Task, path: str | Path) -> None:
    """Write `task` in the JSONL task format."""
    with open(path, "w", encoding="utf-8") as f:
        head = {"name": task.name}
        if task.description:
            head["description"] = task.description
        if task.labels is not None:
            head["labels"] = list(task.labels)
        if task.initial_hypothesis:
            head["initial_hypothesis"] = task.initial_hypothesis
        if task.world:
            head["world"] = task.world
        f.write(json.dumps(head, ensure_ascii=False) + "\n")
        for split, rows in (("train", task.train), ("test", task.test)):
            for e in rows:
                d = {"split": split, "id": e.id, "input": e.input}
                if e.label is not None:
                    d["label"] = e.label
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
