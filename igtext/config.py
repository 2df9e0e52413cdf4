"""Run configuration: one pydantic model, read from YAML or JSON, saved in every run dir.

Unknown keys and bad values are errors that name the file, the line (YAML) and the field.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from igtext.errors import InputError
from igtext.files import check_depth, read_text, yaml_loader


class _Strict(BaseModel):
    # strict: `seed: true` is not 1 and `"3"` is not 3; no infinities or NaNs (an objective of
    # -inf everywhere, written into JSON as -Infinity)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class BudgetConfig(_Strict):
    max_calls: Optional[int] = Field(20000, ge=1, description="hard cap on LM calls (requests)")
    max_tokens: Optional[int] = Field(None, ge=1, description="hard cap on LM tokens")
    max_dollars: Optional[float] = Field(None, gt=0, description="hard cap on API spend (USD)")


class PriceConfig(_Strict):
    input: float = Field(0.0, ge=0, description="USD per million prompt tokens")
    output: float = Field(0.0, ge=0, description="USD per million completion tokens")


class APIConfig(_Strict):
    """For `openai:NAME` models. The key is read from the environment variable named here."""
    base_url: Optional[str] = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(4, ge=1, le=256)
    timeout_s: float = Field(60.0, gt=0)
    max_attempts: int = Field(6, ge=1, le=50)
    logprob_method: Literal["auto", "echo", "top_logprobs", "chat", "sample", "none"] = Field(
        "auto", description="how labels are scored: auto picks the most exact the server "
        "offers (echo > top_logprobs > chat > sample); chat reads the first answer token's "
        "top_logprobs; sample counts `samples` answers at temperature 1")
    top_logprobs: int = Field(20, ge=1, le=20)
    samples: int = Field(8, ge=1, le=100, description="answers per question for "
                         "logprob_method: sample (each one LM call)")
    max_label_steps: int = Field(16, ge=1, le=256)
    prices: dict[str, PriceConfig] = Field(default_factory=dict,
                                           description="model name -> USD per million tokens")


class PriorConfig(_Strict):
    weight: float = Field(1.0, ge=0, description="weight of M_prior in the objective; 0 = APE-style")
    judge_weight: float = Field(5.0, ge=0)
    lm_weight: float = Field(0.0, ge=0)
    token_cost: float = Field(0.0, ge=0)
    adapter: Optional[str] = Field(None, description="a fitted prior (igtext fit-prior); "
                                   "replaces the judge and LM terms")
    reward_weight: float = Field(1.0, ge=0)


class LikelihoodConfig(_Strict):
    calibrate: bool = Field(True, description="contextual calibration of the label distribution")
    search_examples: Optional[int] = Field(
        48, ge=1, description="score z on this many examples of D during search (None = all)")
    content_free: str = "N/A"
    adapter: Optional[str] = Field(None, description="a fitted M_L (igtext fit-likelihood)")
    reading: Literal["whole", "rules"] = Field(
        "whole", description="read z whole in one prompt, or rule by rule (igtext.rulewise;"
        " the follower's reading); an adapter fitted for one reading is refused by the other")


class RefreshConfig(_Strict):
    """Seed step 3: every `every` generations, ask about the current z's and refit."""
    every: int = Field(0, ge=0, description="0 = off")
    judge: Literal["simulated", "proxy", "terminal", "web"] = "simulated"
    comparisons: int = Field(40, ge=0, le=10000)
    labels: int = Field(80, ge=0, le=10000)
    top: int = Field(4, ge=2, le=64)
    prior_epochs: int = Field(2, ge=1, le=100)
    likelihood_epochs: int = Field(2, ge=1, le=100)
    web_port: int = Field(0, ge=0, le=65535)


class ProposerConfig(_Strict):
    temperature: float = Field(0.8, ge=0, le=5)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(128, ge=8, le=2048)
    max_chars: int = Field(1200, ge=40)
    n_examples: int = Field(8, ge=1, le=64)
    describe_examples: int = Field(6, ge=1, le=64, description="D's examples of one label "
                                   "the describe operator shows (as many as the describe "
                                   "traces the shipped proposer imitates)")
    n_errors: int = Field(4, ge=1, le=32)
    templates: dict[Literal["initial", "refine", "crossover", "simplify", "describe"], str] = {}
    adapter: Optional[str] = Field(None, description="a proposal model fine-tuned on "
                                   "hypothesis-writing traces (igtext train-proposer)")


class SearchConfig(_Strict):
    strategy: Literal["evolution", "beam"] = "evolution"
    generations: int = Field(3, ge=1, le=1000)
    population: int = Field(6, ge=1, le=256)
    offspring: int = Field(6, ge=1, le=256)
    elite: int = Field(2, ge=0)
    tournament: int = Field(3, ge=1)
    p_refine: float = Field(0.5, ge=0)
    p_crossover: float = Field(0.25, ge=0)
    p_simplify: float = Field(0.25, ge=0)
    p_describe: float = Field(0.0, ge=0, description="weight of the describe operator (one "
                              "description per label from D's examples) among evolution's "
                              "offspring")
    initial_describe: int = Field(0, ge=0, le=256, description="proposals of the initial "
                                  "population written by describe instead of initial")
    beam_width: int = Field(3, ge=1, le=64)
    expansions: int = Field(2, ge=1, le=32)
    minibatch: int = Field(8, ge=1)
    seeds: list[str] = Field(default_factory=list, description="extra initial hypotheses")

    @model_validator(mode="after")
    def _check(self):
        if self.elite > self.population:
            raise ValueError("elite must not exceed population")
        if self.p_refine + self.p_crossover + self.p_simplify + self.p_describe <= 0:
            raise ValueError("operator probabilities must not all be 0")
        return self


class LoraRecipe(_Strict):
    """One LoRA fit: the adapter (rank, alpha, dropout, target modules, layers) and its
    training (learning rate and schedule, epochs, batch size, max length, clipping, seed)."""
    rank: int = Field(8, ge=1, le=256)
    alpha: Optional[int] = Field(None, ge=1, description="default 2 x rank")
    dropout: float = Field(0.0, ge=0, lt=1)
    targets: list[str] = Field(["q_proj", "v_proj"], min_length=1,
                               description="the modules that get an adapter")
    top_layers: Optional[int] = Field(None, ge=1, description="adapt only the last N layers "
                                      "(None: all)")
    lr: float = Field(1e-3, gt=0, le=1)
    epochs: int = Field(2, ge=1, le=100)
    batch_size: int = Field(8, ge=1, le=256)
    max_length: int = Field(256, ge=16, le=32768)
    warmup: float = Field(0.0, ge=0, lt=1, description="share of the steps with a linear "
                          "warm-up of the learning rate")
    schedule: Literal["constant", "linear", "cosine"] = Field(
        "constant", description="the learning rate after the warm-up")
    clip: Optional[float] = Field(None, gt=0, description="max gradient norm (None: no "
                                  "clipping)")
    seed: int = 0

    def settings(self):
        """The `LoraSettings` the training code takes."""
        from igtext.training.lora import LoraSettings
        return LoraSettings(**{**self.model_dump(), "alpha": self.alpha or 2 * self.rank,
                               "targets": tuple(self.targets)})


class LoraRecipes(_Strict):
    """The recipe of each LoRA fit (`lora:` in a run config): `prior` (fit-prior, step 3 and
    fit-follower --prior), `likelihood` (fit-likelihood and step 3), `follower` (fit-follower),
    `proposer` (train-proposer) and `classifier`
    (distil --student lora). A recipe given in part keeps the rest of its own defaults. In a
    run, step 3 refits with the run's seed and `refresh.*_epochs`."""
    prior: LoraRecipe = LoraRecipe(lr=2e-3, max_length=128, top_layers=8)
    # The recipe of eval/judgments.py: LoRA on every layer's attention and MLP, warm-up and
    # cosine decay, clipped gradients; fit on thousands of judgments under distinct z's.
    likelihood: LoraRecipe = LoraRecipe(
        rank=16, lr=2e-3, epochs=1, max_length=320,
        targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        warmup=0.05, schedule="cosine", clip=1.0)
    # fit-follower's M_L: the likelihood recipe at a quarter of its learning rate, on short
    # rule-by-rule prompts (2e-3 over 1381 steps of 6000 judgments collapsed to a loss of
    # 1.57 of 5 answers, near uniform; 3e-4 and 5e-4 on 600-1600 judgments learned)
    follower: LoraRecipe = LoraRecipe(
        rank=16, lr=5e-4, epochs=1, max_length=192,
        targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        warmup=0.05, schedule="cosine", clip=1.0)
    proposer: LoraRecipe = LoraRecipe(rank=16, lr=5e-4, epochs=3, max_length=640,
                                      targets=["q_proj", "k_proj", "v_proj", "o_proj"])
    classifier: LoraRecipe = LoraRecipe(rank=8, lr=1e-3, epochs=3, max_length=256,
                                        targets=["q_proj", "k_proj", "v_proj", "o_proj"])

    @model_validator(mode="before")
    @classmethod
    def _onto_defaults(cls, data):
        if not isinstance(data, dict):
            return data
        return {k: ({**cls.model_fields[k].default.model_dump(), **v}
                    if k in cls.model_fields and isinstance(v, dict) else v)
                for k, v in data.items()}


class EvaluationConfig(_Strict):
    """What a run scores after the search, besides z*."""
    baselines: bool = Field(True, description="also score M_L with no z and with the task's "
                            "initial z on D and D' (within the budget left), and TF-IDF + LR")


class RunConfig(_Strict):
    model: str = Field("smollm2-135m-person", description="a model name (igtext.lm.registry):"
                       " the default preset is SmolLM2-135M with the learned person "
                       "(igtext.presets); smollm2-135m is the bare model")
    seed: int = 0
    budget: BudgetConfig = BudgetConfig()
    prior: PriorConfig = PriorConfig()
    likelihood: LikelihoodConfig = LikelihoodConfig()
    proposer: ProposerConfig = ProposerConfig()
    search: SearchConfig = SearchConfig()
    api: APIConfig = APIConfig()
    refresh: RefreshConfig = RefreshConfig()
    lora: LoraRecipes = LoraRecipes()
    evaluation: EvaluationConfig = EvaluationConfig()
    templates: dict[Literal["likelihood", "likelihood_rule", "prior_judge", "prior_text",
                            "chat_choice"], str] = {}

    @model_validator(mode="after")
    def _check(self):
        if self.likelihood.reading == "rules" and self.refresh.every and self.refresh.labels:
            raise ValueError("step 3 refits M_L on people's labels under whole z's, which a "
                             "rule-by-rule M_L cannot learn from: with likelihood.reading: "
                             "rules set refresh.labels: 0 (comparisons still refit the prior)")
        return self

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True)

    def with_overrides(self, source: str | None = None, **dotted) -> "RunConfig":
        """Return a copy with `a.b=value` overrides (None values are skipped; errors name
        `source`, e.g. "command line"). What the copy counts as set (pydantic's
        `model_fields_set`, which a preset reads) is what this config had set plus the
        overrides."""
        data = self.model_dump(mode="json", exclude_unset=True)
        for key, value in dotted.items():
            if value is None:
                continue
            node = data
            *path, last = key.split(".")
            for p in path:
                node = node.setdefault(p, {})
            node[last] = value
        return parse_config(data, source)


def parse_config(data: dict, source: str | None = None, lines: dict | None = None,
                 model=RunConfig):
    """`data` validated as `model`; every error in it is reported at once (the first as the
    `InputError`'s fields, the rest on lines of their own), an unknown key with the known
    key it most resembles."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = sorted((_input_error(err, source, lines or {}, model) for err in e.errors()),
                        key=lambda x: x.line or 0)
        first = errors[0]
        raise InputError(first.detail, file=first.file, line=first.line, field=first.field,
                         also=tuple(errors[1:])) from None


def _input_error(err: dict, source: str | None, lines: dict, model) -> InputError:
    """One pydantic error as an `InputError` naming the file, line and field."""
    loc = tuple(str(x) for x in err["loc"])
    field = ".".join(loc) or None
    line, at = None, loc
    while at and line is None:              # else the nearest enclosing key's line
        line, at = lines.get(at), at[:-1]
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        import difflib
        known = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6) if loc else []
        message = f"unknown field (did you mean '{close[0]}'?)" if close else (
            "unknown field (known: " + ", ".join(known) + ")" if known else message)
    return InputError(message, file=source, line=line, field=field)


def _fields_at(model, path: tuple[str, ...]) -> list[str]:
    """The field names of the nested model at `path` in `model` ([] where none is known)."""
    for name in path:
        fields = getattr(model, "model_fields", {})
        if name not in fields:
            return []
        model = fields[name].annotation
    return sorted(getattr(model, "model_fields", {}))


def _key_lines(node, prefix=()) -> dict:
    """Map each key path in a YAML node tree to its line (1-based)."""
    import yaml

    out = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            path = prefix + (str(k.value),)
            out[path] = k.start_mark.line + 1
            out.update(_key_lines(v, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[prefix + (str(i),)] = v.start_mark.line + 1
            out.update(_key_lines(v, prefix + (str(i),)))
    return out


def load_config(path: str | Path | None, model=RunConfig):
    """A validated config (`RunConfig` by default) from a YAML/JSON file; errors name the
    file, line and field."""
    if path is None:
        return model()
    import yaml

    p = Path(path)
    text = read_text(p, "config file")
    check_depth(text, str(p), quotes="\"'")
    try:
        node = yaml.compose(text)
        data = yaml.load(text, Loader=yaml_loader())        # duplicate keys are errors
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"not valid YAML/JSON: {getattr(e, 'problem', e)}", file=str(p),
                         line=mark.line + 1 if mark else None) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("a config file must hold one mapping", file=str(p))
    return parse_config(data, str(p), _key_lines(node), model)


def load_recipe(name: str, path: str | Path | None = None, **flags) -> LoraRecipe:
    """The `lora.<name>` recipe, with a recipe file's keys on top (YAML/JSON holding the keys
    of one recipe; errors name the file, line and field), then the command line's `flags`
    (None: not given)."""
    recipe = getattr(LoraRecipes(), name)
    if path is not None:
        given = load_config(path, LoraRecipe).model_dump(exclude_unset=True)
        recipe = recipe.model_copy(update=given)       # each value validated by load_config
    flags = {k: v for k, v in flags.items() if v is not None}
    if flags:
        recipe = parse_config({**recipe.model_dump(), **flags}, "command line", None,
                              LoraRecipe)
    return recipe
