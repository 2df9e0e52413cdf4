"""Prompt templates: files under `igtext/templates/`, rendered strictly with jinja2.

Each kind of prompt declares the placeholders it may use. Loading a template that uses
any other name is an error naming it (a typo never renders silently as empty), and so is
rendering without a value for one. Every template carries the sha256 of its text; the
run log records it with each event that used the template.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from igtext.errors import TemplateError
from igtext.files import read_text

# kind -> (default file, placeholders it may use)
KINDS: dict[str, tuple[str, frozenset[str]]] = {
    "likelihood": ("likelihood.j2", frozenset({"z", "input", "labels"})),
    # read rule by rule (`igtext.rulewise`): z is one rule of z, labels end with "none"
    "likelihood_rule": ("likelihood_rule.j2", frozenset({"z", "input", "labels"})),
    "prior_judge": ("prior_judge.j2", frozenset({"z", "labels", "task_description"})),
    "prior_text": ("prior_text.j2", frozenset({"labels", "task_description"})),
    "initial": ("propose_initial.j2", frozenset({"examples", "labels", "task_description"})),
    "refine": ("propose_refine.j2",
               frozenset({"z", "errors", "examples", "labels", "task_description"})),
    "crossover": ("propose_crossover.j2", frozenset({"z_a", "z_b", "labels", "task_description"})),
    "simplify": ("propose_simplify.j2", frozenset({"z", "labels", "task_description"})),
    # one label's description, from D's examples of that label; z joins one per label
    "describe": ("propose_describe.j2",
                 frozenset({"label", "examples", "labels", "task_description"})),
    "judge_compare": ("judge_compare.j2", frozenset({"z_a", "z_b"})),
    "judge_label": ("judge_label.j2", frozenset({"z", "input", "labels"})),
    # chat servers (`igtext.choice`): a scorer's prompt as one chat message, with its options
    # (or option keys A, B, ... beside them) or, open-ended, none
    "chat_choice": ("chat_choice.j2", frozenset({"prompt", "options", "keys"})),
}
OPERATORS = ("initial", "refine", "crossover", "simplify", "describe")
MAX_TEMPLATE_CHARS = 64 * 1024        # no model's context holds a longer prompt
# What every template is rendered with once, when it is loaded: an error that only a render
# finds (a division by zero, an `{% include %}`, a filter on the wrong type) is found before
# anything is written.
SAMPLE_VALUES = {
    "z": "Name the breed.", "z_a": "Name the breed.", "z_b": "Say which breed it is.",
    "input": "A dog with pale blue eyes.", "labels": ["husky", "poodle"], "label": "husky",
    "task_description": "name the breed of the dog described",
    "prompt": "Input: A dog with pale blue eyes.\nAnswer:", "options": ["husky", "poodle"],
    "keys": ["A", "B"],
    "examples": [{"input": "A dog with pale blue eyes.", "label": "husky"}],
    "errors": [{"input": "A dog with curly fur.", "label": "poodle", "predicted": "husky"}],
}


def _environment():
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Template:
    kind: str
    text: str
    source: str
    _compiled: object = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        # Compiled once: a search renders each template thousands of times.
        object.__setattr__(self, "_compiled", _environment().from_string(self.text))

    def __reduce__(self):
        # A compiled jinja2 template neither pickles nor copies; compile again from the text.
        return (Template, (self.kind, self.text, self.source))

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]

    def render(self, **values) -> str:
        import jinja2

        try:
            return self._compiled.render(**values)
        except jinja2.UndefinedError as e:
            raise TemplateError(f"placeholder has no value: {e.message}", file=self.source) from None


def load_template(kind: str, path: str | Path | None = None) -> Template:
    """Load the template of `kind` from `path`, or the default file under `igtext/templates/`."""
    import jinja2
    from jinja2 import meta

    if kind not in KINDS:
        raise TemplateError(f"unknown template kind {kind!r}; known: {', '.join(KINDS)}")
    default_file, allowed = KINDS[kind]
    if path:
        p = Path(path)
        text = read_text(p, "template file", TemplateError)
    else:
        # Package data, so that a non-editable install (even a zipped one) finds it.
        p = resources.files("igtext") / "templates" / default_file
        text = p.read_text(encoding="utf-8")
    if not text.strip():
        raise TemplateError("the template is empty", file=str(p))
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"the template has {len(text)} characters; at most "
                            f"{MAX_TEMPLATE_CHARS} fit a model's context", file=str(p))
    try:
        ast = jinja2.Environment().parse(text)
        unknown = sorted(meta.find_undeclared_variables(ast) - allowed)
    except jinja2.TemplateSyntaxError as e:      # an unknown filter or test too
        raise TemplateError(f"template syntax: {e.message}", file=str(p), line=e.lineno) from None
    if unknown:
        line = next((i + 1 for i, ln in enumerate(text.splitlines()) if unknown[0] in ln), None)
        raise TemplateError(f"unknown placeholder {unknown[0]!r} (a {kind} template may use: "
                            f"{', '.join(sorted(allowed))})", file=str(p), line=line)
    try:
        template = Template(kind=kind, text=text, source=str(p))
        sample = template.render(**{k: SAMPLE_VALUES[k] for k in allowed})
    except TemplateError:
        raise
    except Exception as e:                       # noqa: BLE001 - any failure of a render
        raise TemplateError(f"fails when rendered with sample values: {type(e).__name__}: "
                            f"{e}", file=str(p)) from None
    if not sample.strip():
        raise TemplateError("renders as empty text", file=str(p))
    return template
