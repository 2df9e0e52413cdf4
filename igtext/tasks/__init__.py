"""Tasks: the documented file format, and built-in generated tasks.

`load_task("path/to/task.jsonl" | "path/to/task.yaml" | "builtin:husky")`.
"""
from __future__ import annotations

from pathlib import Path

from igtext.data import Task
from igtext.errors import InputError
from igtext.tasks.taskfile import read_task_file


def builtin_tasks() -> dict:
    from igtext.tasks.husky import husky_task
    return {"husky": husky_task}


def load_task(spec: str | Path) -> Task:
    spec = str(spec)
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        makers = builtin_tasks()
        if name not in makers:
            raise InputError(f"unknown built-in task {name!r}; known: "
                             f"{', '.join('builtin:' + k for k in makers)}", field="task")
        return makers[name]()
    return read_task_file(spec)


__all__ = ["load_task", "read_task_file", "builtin_tasks"]
