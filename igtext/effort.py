"""Search presets: how much search a run does, by name (`igtext run --preset NAME`,
`igtext.search(preset=NAME)`). Each is a small YAML file of config settings shipped in
`igtext/efforts/`; a preset fills only what the run's config does not set (a config file's
keys, flags, fields given in Python win), and comes before a model preset (`igtext.presets`),
which fills what is still unset. Their measured times on 2 cores are in the README.
"""
from __future__ import annotations

from importlib import resources

from igtext.config import RunConfig, parse_config
from igtext.errors import InputError

EFFORTS = ("quick", "default", "thorough")


def settings(name: str) -> dict:
    """The preset's settings, as config sections."""
    import yaml
    if name not in EFFORTS:
        raise InputError(f"unknown preset {name!r} (known: {', '.join(EFFORTS)})",
                         field="preset")
    text = (resources.files("igtext") / "efforts" / f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def apply(config: RunConfig, name: str | None) -> RunConfig:
    """`config` with the preset's settings where it sets nothing itself (None: unchanged).
    What the result counts as set is what `config` set plus the preset's settings."""
    if name is None:
        return config
    data = config.model_dump(mode="json", exclude_unset=True)
    for section, values in settings(name).items():
        mine = data.setdefault(section, {})
        for key, value in values.items():
            mine.setdefault(key, value)
    return parse_config(data, f"--preset {name}")
