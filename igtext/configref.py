"""The configuration reference, generated from the pydantic models in `igtext/config.py`.

`python -m igtext.configref > docs/configuration.md` rewrites the committed page;
`tests/test_docs.py` fails while the page and the models disagree. The walk is generic:
a section or field added to a config model shows up here with no edit to this file.
"""
from __future__ import annotations

import inspect
import json
import types
import typing
from typing import Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

COMMAND = "python -m igtext.configref > docs/configuration.md"

_INTRO = f"""\
# Configuration reference

<!-- Generated from the models in igtext/config.py by
`{COMMAND}`.
Do not edit by hand: tests/test_docs.py fails until this file is regenerated. -->

A config is a YAML or JSON file passed with `--config`. `RunConfig` is the file of
`igtext run --config FILE`, saved in every run directory as `config.json`; any other
top-level model below is the `--config` file of the command its description names.
Every key is optional; an unknown key or a bad value is an error that names the file, the
line and the field (exit status 2). Flags on the command line override the file.

Each section is a mapping under its dotted key (`search: {{strategy: beam}}`); `null` is
YAML's and JSON's "none".
"""

# annotated_types / pydantic metadata attributes, in the order they read best.
_CONSTRAINTS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"),
                ("min_length", "length ≥"), ("max_length", "length ≤"),
                ("multiple_of", "multiple of"), ("pattern", "matches"))


def _models_in(module) -> list[type[BaseModel]]:
    """Public pydantic models defined in `module`, in the order they are defined."""
    return [c for n, c in vars(module).items()
            if inspect.isclass(c) and issubclass(c, BaseModel) and c.__module__ == module.__name__
            and not n.startswith("_")]


def _nested(ann) -> list[type[BaseModel]]:
    """Every pydantic model inside an annotation (`X`, `X | None`, `dict[str, X]`, ...)."""
    if inspect.isclass(ann) and issubclass(ann, BaseModel):
        return [ann]
    return [m for a in get_args(ann) for m in _nested(a)]


def roots(module=None) -> list[type[BaseModel]]:
    """The top-level config models: those no other model of the module nests."""
    if module is None:
        from igtext import config as module
    models = _models_in(module)
    inner = {m for c in models for f in c.model_fields.values() for m in _nested(f.annotation)}
    return [m for m in models if m not in inner]


def _doc(cls) -> str:
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if doc else ""


def _slug(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in "-_ ")
    return kept.replace(" ", "-")


def _code(value) -> str:
    return f"`{json.dumps(to_jsonable_python(value), ensure_ascii=False)}`"


class _Walk:
    """One root model's tables; nested models found on the way queue up as sections."""

    def __init__(self, prefix: str):
        self.prefix = prefix              # keeps headings unique across root models
        self.sections: list[tuple[str, type[BaseModel]]] = []

    def title(self, path: str) -> str:
        return f"`{self.prefix}{path}`"

    def anchor(self, path: str) -> str:
        return "#" + _slug(self.title(path))

    def type_name(self, ann, path: str) -> str:
        if ann is type(None):
            return "null"
        if inspect.isclass(ann) and issubclass(ann, BaseModel):
            return f"[section]({self.anchor(path)})"
        origin, args = get_origin(ann), get_args(ann)
        if origin is Literal:
            return " or ".join(f"`{a}`" for a in args)
        if origin is Union or origin is types.UnionType:
            return " or ".join(self.type_name(a, path) for a in args)
        if origin in (list, tuple, set, frozenset):
            inner = self.type_name(args[0], path + ".*") if args else "any"
            return f"list of {inner}"
        if origin is dict:
            k, v = args if args else (typing.Any, typing.Any)
            return f"map from {self.type_name(k, path)} to {self.type_name(v, path + '.*')}"
        if ann is typing.Any:
            return "any"
        return getattr(ann, "__name__", str(ann))

    def table(self, model: type[BaseModel], path: str) -> list[str]:
        rows = ["| key | type | default | constraints | description |",
                "|---|---|---|---|---|"]
        for name, f in model.model_fields.items():
            key = f"{path}.{name}" if path else name
            for m in _nested(f.annotation):
                sub = key if m is f.annotation or _is_optional_of(f.annotation, m) else key + ".*"
                self.sections.append((sub, m))
            default = f.get_default(call_default_factory=True)
            if default is PydanticUndefined:
                shown = "required"
            elif isinstance(default, BaseModel):
                shown = f"[below]({self.anchor(key)})"
            else:
                shown = _code(default)
            limits = ", ".join(f"{sym} {getattr(m, attr)}" for m in f.metadata
                               for attr, sym in _CONSTRAINTS
                               if getattr(m, attr, None) is not None)
            desc = (f.description or "").replace("\n", " ")
            cells = [f"`{name}`", self.type_name(f.annotation, key), shown, limits, desc]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return rows

    def checks(self, model: type[BaseModel]) -> list[str]:
        """Docstrings of the model's validators: the rules that span several fields."""
        decs = model.__pydantic_decorators__
        funcs = [d.func for d in (*decs.model_validators.values(), *decs.field_validators.values())]
        docs = [inspect.cleandoc(getattr(fn, "__func__", fn).__doc__ or "") for fn in funcs]
        return [f"Checked: {d}" for d in docs if d]


def _is_optional_of(ann, model) -> bool:
    return get_origin(ann) in (Union, types.UnionType) and model in get_args(ann)


def _defaults_yaml(model: type[BaseModel]) -> list[str]:
    import yaml
    try:
        data = model().model_dump(mode="json")
    except Exception:                      # a model with required fields has no defaults file
        return []
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return ["Every default, as a file:", "", "```yaml", text.rstrip("\n"), "```", ""]


def render(module=None) -> str:
    """The Markdown reference of every config model in `module` (default `igtext.config`)."""
    out = [_INTRO]
    for i, root in enumerate(roots(module)):
        walk = _Walk("" if i == 0 else root.__name__ + ".")
        out += [f"## {root.__name__}", ""]
        out += _section(walk, root, "")
        done = set()
        while walk.sections:
            path, model = walk.sections.pop(0)
            if path in done:
                continue
            done.add(path)
            queued, walk.sections = walk.sections, []
            out += [f"### {walk.title(path)}", ""] + _section(walk, model, path)
            walk.sections += queued               # depth first: a section's own sections next
        out += _defaults_yaml(root)
    return "\n".join(out).rstrip("\n") + "\n"


def _section(walk: _Walk, model: type[BaseModel], path: str) -> list[str]:
    out = [_doc(model), ""] if _doc(model) else []
    out += walk.table(model, path) + [""]
    checks = walk.checks(model)
    return out + ([*checks, ""] if checks else [])


if __name__ == "__main__":
    print(render(), end="")
