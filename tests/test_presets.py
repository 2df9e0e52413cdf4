"""Model presets: the default model brings the shipped learned person; the bare name does
not; a config's own settings win over the preset's."""
import json

import pytest

from igtext.config import RunConfig
from igtext.presets import PRESETS, adapters_dir, resolve, settings


def test_the_default_model_is_the_preset_and_the_bare_name_is_bare():
    assert RunConfig().model in PRESETS
    bare = resolve(RunConfig(model="smollm2-135m"))
    assert bare == RunConfig(model="smollm2-135m")


def test_the_preset_fills_defaults_only():
    cfg = resolve(RunConfig())
    assert cfg.likelihood.reading == "rules"
    for kind, path in (("likelihood", cfg.likelihood.adapter), ("prior", cfg.prior.adapter),
                       ("proposer", cfg.proposer.adapter)):
        meta = json.loads((adapters_dir() / path.split("/")[-1] / "igtext_adapter.json")
                          .read_text()) if path else None
        assert path and path.startswith(str(adapters_dir()))
        assert meta is None or meta["kind"] == kind
    assert cfg.search.initial_describe > 0 and cfg.search.p_describe > 0
    own = resolve(RunConfig(prior={"adapter": "/my/prior"}, search={"p_describe": 0.0}))
    assert own.prior.adapter == "/my/prior" and own.search.p_describe == 0.0  # set, if default
    assert resolve(own.with_overrides(seed=4)).search.p_describe == 0.0
    assert own.likelihood.reading == "rules"
    assert resolve(cfg) == cfg                               # resolving twice changes nothing
    assert set(settings(RunConfig().model)) <= set(RunConfig.model_fields)
    from igtext.data import Example, Task
    open_ended = Task("t", (Example("a", "x", "y"),), (), None)
    assert resolve(RunConfig(), open_ended) == RunConfig()    # no rules without labels


def test_shipped_adapters_are_checked_like_any_other():
    pytest.importorskip("peft")
    from igtext import components
    cfg = resolve(RunConfig())
    if not all((adapters_dir() / p.split("/")[-1]).is_dir() for p in
               (cfg.likelihood.adapter, cfg.prior.adapter, cfg.proposer.adapter)):
        pytest.fail("the preset names an adapter the package does not ship")
    components.check_adapters(cfg)           # right kind, made for the preset's base model
