"""Tasks: the documented file format, and built-in generated tasks.

`load_task("path/to/task.jsonl" | "path/to/task.yaml" | "builtin:husky")`, the public
benchmarks: `ii:NAME` (Instruction Induction), `hypobench:NAME[@ind]`, `cad:sentiment`,
and generated worlds: `world:DOMAIN[@SEED][?shift=SHIFT]` (see `world_spec_task`).
"""
from __future__ import annotations

from pathlib import Path

from igtext.data import Task
from igtext.errors import InputError
from igtext.tasks.taskfile import read_task_file


def builtin_tasks() -> dict:
    from igtext.tasks.husky import husky_task
    return {"husky": husky_task}


def public_task(spec: str) -> Task:
    """`ii:NAME`, `hypobench:NAME[@ind]` or `cad:sentiment`, read from the data directory
    (`igtext.tasks.datadir`; never copied into igtext)."""
    kind, _, name = spec.partition(":")
    if kind == "ii":
        from igtext.tasks.instruction_induction import ii_task, task_names
        if name not in task_names():
            raise InputError(f"unknown Instruction Induction task {name!r}; known: "
                             f"{', '.join(task_names())}", field="task")
        return ii_task(name)
    if kind == "hypobench":
        from igtext.tasks.hypobench import hypobench_task
        name, _, shift = name.partition("@")
        return hypobench_task(name, shift=shift or "ood")
    if name != "sentiment":
        raise InputError(f"unknown CAD task {name!r}; known: cad:sentiment", field="task")
    from igtext.tasks.cad import cad_task
    return cad_task()


def world_spec_task(spec: str) -> Task:
    """`world:SOURCE[@SEED][?shift=SHIFT]`: the task `igtext.worlds.generate.world_task`
    makes from a world. SOURCE is a shipped domain (`world:birds`) or a world file
    (`world:path/to/birds.yaml`); SEED defaults to 0 and SHIFT (both, context, wording) to
    both. Examples: `world:dogs`, `world:dogs@3`, `world:my/birds.yaml@1?shift=wording`.
    """
    from igtext.worlds import load_world
    from igtext.worlds.generate import world_task
    source = spec.split(":", 1)[1]
    shift = "both"
    if "?" in source:
        source, _, query = source.rpartition("?")
        key, _, shift = query.partition("=")
        if key != "shift" or not shift:
            raise InputError(f"expected ?shift=SHIFT after the world, got ?{query}", field="task")
    seed = 0
    name, at, tail = source.rpartition("@")
    if at and tail.isdigit():
        source, seed = name, int(tail)
    elif at and not source.endswith((".yaml", ".yml")):
        raise InputError(f"the seed after @ must be a non-negative integer, got {tail!r}",
                         field="task")
    if not source:
        raise InputError("expected world:DOMAIN or world:FILE.yaml", field="task")
    return world_task(load_world(source), seed=seed, shift=shift)


def load_task(spec: str | Path) -> Task:
    spec = str(spec)
    if spec.startswith("world:"):
        return world_spec_task(spec)
    if spec.split(":", 1)[0] in ("ii", "hypobench", "cad") and ":" in spec:
        return public_task(spec)
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        makers = builtin_tasks()
        if name not in makers:
            raise InputError(f"unknown built-in task {name!r}; known: "
                             f"{', '.join('builtin:' + k for k in makers)}", field="task")
        return makers[name]()
    return read_task_file(spec)


__all__ = ["load_task", "read_task_file", "builtin_tasks"]
