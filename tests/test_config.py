"""The `lora:` recipes of the run config, recipe files and flags of the fit commands."""
import json
from dataclasses import replace

import pytest

from igtext.config import LoraRecipes, RunConfig, load_config, load_recipe
from igtext.errors import InputError
from igtext.training.lora import LoraSettings

ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
#: What each fit used before its recipe moved into the config, written out in full.
OLD = {
    # cli fit-prior, and refresh.PRIOR_LORA (whose epochs refresh.prior_epochs replaced)
    "prior": LoraSettings(rank=8, alpha=16, dropout=0.0, top_layers=8, targets=("q_proj", "v_proj"),
                          lr=2e-3, epochs=2, batch_size=8, max_length=128, seed=0, warmup=0.0,
                          schedule="constant", clip=None),
    # likelihood_ft.RECIPE (fit-likelihood, refresh.LIKELIHOOD_LORA)
    "likelihood": LoraSettings(rank=16, alpha=32, dropout=0.0, top_layers=None,
                               targets=ATTN + ("gate_proj", "up_proj", "down_proj"), lr=2e-3,
                               epochs=1, batch_size=8, max_length=320, seed=0, warmup=0.05,
                               schedule="cosine", clip=1.0),
    # ProposerTrainingConfig().lora() (train-proposer)
    "proposer": LoraSettings(rank=16, alpha=32, dropout=0.0, top_layers=None, targets=ATTN,
                             lr=5e-4, epochs=3, batch_size=8, max_length=640, seed=0, warmup=0.0,
                             schedule="constant", clip=None),
    # classifier.SETTINGS (distil --student lora, the LoRA classifier baseline)
    "classifier": LoraSettings(rank=8, alpha=16, dropout=0.0, top_layers=None, targets=ATTN,
                               lr=1e-3, epochs=3, batch_size=8, max_length=256, seed=0,
                               warmup=0.0, schedule="constant", clip=None),
}


@pytest.mark.parametrize("name", OLD)
def test_recipe_defaults_are_the_old_settings(name):
    assert getattr(LoraRecipes(), name).settings() == OLD[name]
    assert load_recipe(name).settings() == OLD[name]
    assert getattr(RunConfig().lora, name) == getattr(LoraRecipes(), name)


def test_the_modules_names_come_from_the_recipes():
    from igtext.training.classifier import SETTINGS
    from igtext.training.likelihood_ft import RECIPE
    assert RECIPE == OLD["likelihood"] and SETTINGS == OLD["classifier"]


def test_a_recipe_given_in_part_keeps_its_own_defaults():
    cfg = RunConfig.model_validate({"lora": {"prior": {"epochs": 5},
                                             "likelihood": {"rank": 4}}})
    assert cfg.lora.prior.settings() == replace(OLD["prior"], epochs=5)
    assert cfg.lora.likelihood.settings() == replace(OLD["likelihood"], rank=4, alpha=8)
    saved = json.loads(cfg.to_json())           # what a run directory's config.json holds
    assert saved["lora"]["likelihood"]["schedule"] == "cosine"
    assert RunConfig.model_validate(saved) == cfg


def test_a_config_json_from_before_the_recipes_still_loads():
    saved = json.loads(RunConfig().to_json())
    del saved["lora"]
    assert RunConfig.model_validate(saved).lora == LoraRecipes()


def test_a_bad_recipe_in_a_run_config_names_file_line_and_field(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("seed: 1\nlora:\n  prior:\n    epochs: 3\n    rank: 0\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    assert (e.value.file, e.value.line, e.value.field) == (str(p), 5, "lora.prior.rank")
    p.write_text("lora:\n  prior: {}\n  posterior: {rank: 4}\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    assert (e.value.line, e.value.field) == (3, "lora.posterior")


def test_recipe_file_then_flags(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("rank: 4\nlr: 0.01\n")
    assert load_recipe("prior", p).settings() == replace(OLD["prior"], rank=4, alpha=8, lr=0.01)
    got = load_recipe("prior", p, rank=2, epochs=None, seed=3).settings()
    assert got == replace(OLD["prior"], rank=2, alpha=4, lr=0.01, seed=3)
    p.write_text("rank: 4\nalpha: 64\n")                 # an explicit alpha stays
    assert load_recipe("likelihood", p, rank=2).settings().alpha == 64
    with pytest.raises(InputError) as e:
        load_recipe("prior", p, lr=-1.0)
    assert (e.value.file, e.value.field) == ("command line", "lr")
    p.write_text("schedule: step\n")
    with pytest.raises(InputError) as e:
        load_recipe("likelihood", p)
    assert (e.value.file, e.value.line, e.value.field) == (str(p), 1, "schedule")


def test_refresh_refits_with_the_run_configs_recipes():
    from igtext.refresh import WARM_LR_SCALE, refit_settings
    cfg = RunConfig.model_validate({"seed": 7, "lora": {"prior": {"rank": 2, "lr": 0.01}}})
    assert refit_settings(cfg.lora.prior, 3, cfg.seed, False) == replace(
        OLD["prior"], rank=2, alpha=4, lr=0.01, epochs=3, seed=7)
    assert refit_settings(cfg.lora.likelihood, 2, cfg.seed, True) == replace(
        OLD["likelihood"], epochs=2, seed=7, lr=OLD["likelihood"].lr * WARM_LR_SCALE)


def test_every_bad_field_is_reported_at_once_with_the_nearest_known_name(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("seed: 1\nsearch:\n  generatons: 2\n  populaton: 3\nbudget:\n  max_call: 5\n"
                 "zzz: 1\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    lines = str(e.value).splitlines()
    assert lines == [
        f"{p}:3: field 'search.generatons': unknown field (did you mean 'generations'?)",
        f"{p}:4: field 'search.populaton': unknown field (did you mean 'population'?)",
        f"{p}:6: field 'budget.max_call': unknown field (did you mean 'max_calls'?)",
        f"{p}:7: field 'zzz': unknown field (known: api, budget, evaluation, likelihood, lora, "
        "model, prior, proposer, refresh, search, seed, templates)"]
    assert (e.value.line, e.value.field) == (3, "search.generatons")


def test_zero_generations_is_refused_naming_where_it_came_from():
    with pytest.raises(InputError) as e:
        RunConfig().with_overrides("command line", **{"search.generations": 0})
    assert str(e.value).startswith("command line: field 'search.generations'")


def test_the_python_api_takes_common_settings_as_keywords(tmp_path):
    import igtext
    from conftest import scripted_lm, toy_task
    res = igtext.search(toy_task(8), model=scripted_lm(), out_dir=tmp_path / "r",
                        cache_dir=tmp_path / "c", generations=1, population=2,
                        settings={"search.offspring": 1, "search.elite": 1,
                                  "likelihood.search_examples": 4})
    cfg = RunConfig.model_validate_json((tmp_path / "r" / "config.json").read_text())
    assert (cfg.search.generations, cfg.search.population, cfg.search.offspring,
            cfg.likelihood.search_examples) == (1, 2, 1, 4)
    assert res.best is not None
    with pytest.raises(InputError, match="did you mean 'generations'"):
        igtext.search(toy_task(8), model=scripted_lm(), settings={"search.generatons": 1})


def test_a_search_preset_fills_only_what_the_config_does_not_set(tmp_path):
    from igtext import effort
    from igtext.presets import resolve
    quick = effort.apply(RunConfig(), "quick")
    assert (quick.search.generations, quick.search.population,
            quick.likelihood.search_examples) == (1, 3, 12)
    mine = RunConfig().with_overrides(**{"search.population": 5})
    got = effort.apply(mine, "thorough")
    assert (got.search.population, got.search.generations, got.budget.max_calls) == (
        5, 3, 300000)
    assert effort.apply(mine, "default") == mine and effort.apply(mine, None) is mine
    # the model preset fills what is still unset, after the search preset
    both = resolve(effort.apply(RunConfig(), "quick"))
    assert both.search.generations == 1 and both.likelihood.reading == "rules"
    with pytest.raises(InputError, match="unknown preset 'fast'"):
        effort.apply(RunConfig(), "fast")


def test_baselines_can_be_left_out(tmp_path):
    import igtext
    from conftest import scripted_lm, toy_task
    res = igtext.search(toy_task(8), model=scripted_lm(), out_dir=tmp_path / "r", generations=1,
                        population=2, settings={"search.offspring": 1, "search.elite": 1,
                                                "likelihood.search_examples": 4,
                                                "evaluation.baselines": False})
    assert res.record.baselines == [] and res.record.verdict() is None
    assert res.record.test_predictions                  # z*'s own labels of D' are kept
