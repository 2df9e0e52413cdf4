"""Model presets: a model name that stands for a base model and the parts fitted for it
that ship inside the package, with the settings that use them.

    smollm2-135m-person   SmolLM2-135M and the learned person (`igtext/adapters/`): the
                          follower M_L read rule by rule, the world prior and the describe
                          proposer, each fitted once on the training worlds' simulated
                          people (`igtext fit-follower`, `make adapters`); the default model

The preset's settings (`igtext/adapters/PRESET.yaml`) fill only what the run's own config
does not set (a config file's keys, flags, fields given in Python): a config that names
another adapter, reading or operator mix, even one equal to the default, keeps it. `--model smollm2-135m` is the bare model, with none of this; so is the preset on an
open-ended task (its parts read and write rules that give labels). The resolved config (with
the adapters' paths) is what a run records in config.json, and the run log's `run_start`
names each adapter with its hash.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from igtext.config import RunConfig, parse_config  # noqa: F401 (RunConfig: the type)

PRESETS = ("smollm2-135m-person",)


def adapters_dir() -> Path:
    """Where the shipped adapters and preset files are (package data)."""
    return Path(str(resources.files("igtext") / "adapters"))


def settings(name: str) -> dict:
    """The preset's settings, with adapter names made paths into the package."""
    import yaml
    data = yaml.safe_load((adapters_dir() / f"{name}.yaml").read_text(encoding="utf-8"))
    for section in data.values():
        if isinstance(section, dict) and isinstance(section.get("adapter"), str):
            section["adapter"] = str(adapters_dir() / section["adapter"])
    return data


def resolve(config: RunConfig, task=None) -> RunConfig:
    """`config` with its preset's settings where it sets nothing itself (unchanged for a
    model that is no preset, and for an open-ended `task`: the learned person reads and
    writes rules that give labels, so there the preset is its bare base model)."""
    if config.model not in PRESETS or (task is not None and not task.labels):
        return config
    data = config.model_dump(mode="json")
    given = config.model_dump(mode="json", exclude_unset=True)
    for section, values in settings(config.model).items():
        for key, value in values.items():
            if key not in given.get(section, {}):
                data[section][key] = value
    return parse_config(data)
