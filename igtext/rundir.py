"""A run directory: every path in it, and how it is made, checked and read.

RUNDIR/
    config.json        the full RunConfig (the API base URL left out)
    task.json          the task as loaded (built-in tasks are frozen here)
    events.jsonl       one event per proposal, score, selection, checkpoint (`records`)
    checkpoint.json    search state + usage + log offset, rewritten atomically
    result.json        written once, at the end
    judgments.sqlite   judgments collected on this run (`igtext judge`, step 3)
    adapters/          models refitted during step 3, one directory per kind and generation
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from igtext.config import RunConfig
from igtext.data import Task
from igtext.errors import RunDirError


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path: return self.root / "config.json"
    @property
    def task(self) -> Path: return self.root / "task.json"
    @property
    def events(self) -> Path: return self.root / "events.jsonl"
    @property
    def checkpoint(self) -> Path: return self.root / "checkpoint.json"
    @property
    def result(self) -> Path: return self.root / "result.json"
    @property
    def judgments(self) -> Path: return self.root / "judgments.sqlite"

    def adapter(self, kind: str, generation: int) -> Path:
        """Where step 3 saves the `kind` model it refits after `generation`."""
        return self.root / "adapters" / f"{kind}-g{generation}"

    def relative(self, path: Path) -> str:
        """`path` as the run's records name it: relative to the run directory."""
        return str(Path(path).relative_to(self.root))

    def resolve(self, relative: str | os.PathLike) -> Path:
        return self.root / relative


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_run_dir_free(out: str | os.PathLike) -> RunDir:
    """Refuse a run directory that already holds something."""
    rd = RunDir(Path(out))
    if rd.root.exists() and any(rd.root.iterdir()):
        hint = " (use `igtext resume`)" if rd.config.exists() else ""
        raise RunDirError(f"run directory is not empty{hint}", file=str(rd.root))
    return rd


def prepare_run_dir(out: str | os.PathLike, task: Task, config: RunConfig) -> RunDir:
    rd = check_run_dir_free(out)
    rd.root.mkdir(parents=True, exist_ok=True)
    saved = json.loads(config.to_json())
    saved["api"]["base_url"] = None      # never stored: `resume --base-url` or OPENAI_BASE_URL
    write_json_atomic(rd.config, saved)
    write_json_atomic(rd.task, task.to_dict())
    return rd


def read_run_dir(out: str | os.PathLike) -> tuple[RunDir, Task, RunConfig]:
    rd = RunDir(Path(out))
    if not rd.root.is_dir():
        raise RunDirError("no such run directory", file=str(rd.root))
    for p in (rd.config, rd.task):
        if not p.exists():
            raise RunDirError(f"incomplete run directory: {p.name} missing", file=str(rd.root))
    try:
        config = RunConfig.model_validate(json.loads(rd.config.read_text()))
        task = Task.from_dict(json.loads(rd.task.read_text()))
    except (ValueError, KeyError) as e:
        raise RunDirError(f"unreadable run files: {e}", file=str(rd.root)) from None
    return rd, task, config


def read_result(rd: RunDir):
    """The run's `RunResult`; a run without one has not finished."""
    from igtext.records import RunResult, read_record
    if not rd.result.exists():
        raise RunDirError("the run has not finished (no result.json); resume it first",
                          file=str(rd.root))
    return read_record(RunResult, rd.result)
