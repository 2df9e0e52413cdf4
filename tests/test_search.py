"""Search, run directory, resume and budget behaviour on a scripted LM (fast)."""
import json

import pytest

import igtext
from igtext.config import RunConfig
from igtext.records import EVENTS
from igtext.run import execute
from igtext.rundir import prepare_run_dir, read_run_dir
from igtext.runlog import read_events

from conftest import scripted_lm, toy_task


def _cfg(strategy="evolution", **over):
    base = {"search": {"strategy": strategy, "generations": 3, "population": 4, "offspring": 4,
                       "beam_width": 2, "expansions": 3, "minibatch": 3},
            "likelihood": {"search_examples": 8}, "prior": {"judge_weight": 1.0}}
    for k, v in over.items():
        base.setdefault(k, {}).update(v)
    return RunConfig.model_validate(base)


def _run(tmp_path, name, cfg, lm=None, cache="cache"):
    return igtext.search(toy_task(), config=cfg, model=lm or scripted_lm(),
                         out_dir=tmp_path / name, cache_dir=tmp_path / cache)


@pytest.mark.parametrize("strategy", ["evolution", "beam"])
def test_search_improves_and_is_reproducible(tmp_path, strategy):
    a = _run(tmp_path, "a", _cfg(strategy), cache="c1")
    b = _run(tmp_path, "b", _cfg(strategy), cache="c2")
    assert a.best.id == b.best.id and a.record.lm_calls == b.record.lm_calls
    given = next(c for c in a.candidates if c.hypothesis.operator == "given")
    assert a.best.objective > given.objective
    assert a.train_accuracy == 1.0 and a.test_accuracy == 1.0
    other_seed = _run(tmp_path, "c", _cfg(strategy).with_overrides(seed=5), cache="c3")
    assert other_seed.record.seed == 5


def test_run_directory_contents(tmp_path):
    res = _run(tmp_path, "r", _cfg())
    rd = tmp_path / "r"
    result = json.loads((rd / "result.json").read_text())
    for key in ("best", "train_accuracy", "test_accuracy", "lm_calls", "lm_calls_cached",
                "lm_tokens", "seed", "wall_s"):
        assert key in result
    for key in ("id", "text", "prior", "loglik", "objective"):
        assert key in result["best"]
    assert result["best"]["objective"] == pytest.approx(result["best"]["prior"] +
                                                        result["best"]["loglik"])
    typed, bad = read_events(rd / "events.jsonl")
    assert bad == [] and all(type(e) is EVENTS[e.event] for e in typed)
    events = [json.loads(line) for line in (rd / "events.jsonl").read_text().splitlines()]
    kinds = {e["event"] for e in events}
    assert {"run_start", "propose", "score", "select", "checkpoint", "evaluate", "run_end"} <= kinds
    for e in events:
        assert {"lm_calls", "lm_tokens", "lm_calls_cached"} <= set(e)
    for e in (e for e in events if e["event"] == "score"):
        assert {"id", "parents", "prior", "loglik", "objective", "template_hash"} <= set(e)
    props = [e for e in events if e["event"] == "propose" and e["operator"] != "initial"]
    assert props and all(e["parents"] and e["template_hash"] for e in props)
    assert json.loads((rd / "config.json").read_text())["search"]["population"] == 4
    assert res.best.id == result["best"]["id"]


def test_rerun_with_warm_cache_makes_no_uncached_calls(tmp_path):
    first = scripted_lm()
    a = _run(tmp_path, "a", _cfg(), lm=first)
    second = scripted_lm()
    b = _run(tmp_path, "b", _cfg(), lm=second)
    assert second.calls == 0
    assert b.record.lm_calls_cached == b.record.lm_calls == a.record.lm_calls
    assert a.best.id == b.best.id


def test_budget_caps_are_hard(tmp_path):
    for cap in (170, 250, 400):
        lm = scripted_lm()
        res = _run(tmp_path, f"b{cap}", _cfg(budget={"max_calls": cap}), lm=lm, cache=f"c{cap}")
        assert res.record.lm_calls <= cap and lm.calls <= cap
    tok = _run(tmp_path, "tok", _cfg(budget={"max_calls": None, "max_tokens": 16000}),
               cache="ctok")
    assert tok.record.lm_tokens <= 16000
    assert tok.record.budget_exhausted


class _Crash(Exception):
    pass


def _crashing(after_calls):
    lm = scripted_lm()
    inner_gen, inner_lp = lm.generate, lm.logprob

    def check():
        if lm.calls >= after_calls:
            raise _Crash()

    def generate(reqs):
        check()
        return inner_gen(reqs)

    def logprob(reqs):
        check()
        return inner_lp(reqs)
    lm.generate, lm.logprob = generate, logprob
    return lm


@pytest.mark.parametrize("strategy", ["evolution", "beam"])
@pytest.mark.parametrize("after", [5, 60, 150])
def test_resume_after_crash_ends_like_an_uninterrupted_run(tmp_path, strategy, after):
    cfg = _cfg(strategy)
    ref = _run(tmp_path, "ref", cfg, cache="ref-cache")
    task = toy_task()
    rd = prepare_run_dir(tmp_path / "crash", task, cfg)
    with pytest.raises(_Crash):
        execute(rd, task, cfg, _crashing(after), tmp_path / "crash-cache", progress=False)
    assert not rd.result.exists()
    res = igtext.resume(tmp_path / "crash", model=scripted_lm(),
                        cache_dir=tmp_path / "crash-cache")
    assert res.best.id == ref.best.id
    assert res.record.lm_calls == ref.record.lm_calls
    events, _ = read_events(rd.events)
    ref_events, _ = read_events(tmp_path / "ref" / "events.jsonl")
    strip = lambda es: [(e.event, getattr(e, "id", None)) for e in es  # noqa: E731
                        if e.event != "resume"]
    assert strip(events) == strip(ref_events)


def test_too_small_budget_is_refused_before_writing(tmp_path):
    from igtext.errors import InputError
    with pytest.raises(InputError, match="cannot score even one hypothesis") as e:
        _run(tmp_path, "small", _cfg(budget={"max_calls": 50}))
    assert e.value.field == "budget.max_calls"
    assert not (tmp_path / "small").exists()


def test_read_run_dir_rejects_incomplete(tmp_path):
    from igtext.errors import RunDirError
    (tmp_path / "x").mkdir()
    with pytest.raises(RunDirError, match="config.json missing"):
        read_run_dir(tmp_path / "x")


def test_open_ended_task_searches_and_reports_exact_match(tmp_path):
    from igtext.data import Example, Task
    from igtext.lm.scripted import ScriptedLM

    def gen(req):
        if req.prompt is not None:                      # the M_L prompt, greedy answer
            x = req.prompt.rsplit("Input:", 1)[1].split("\n")[0].strip()
            return x.upper() + "\nmore text"
        return f"Write the input in capitals, variant {req.sample_index}."

    def logprob(ctx, cont):
        return -0.1 if "capitals" in ctx else -3.0

    task = Task("caps", tuple(Example(f"a{i}", w, w.upper()) for i, w in
                              enumerate(["paris", "rome", "oslo", "lima"])),
                (Example("b0", "bern", "BERN"), Example("b1", "kyiv")), None,
                initial_hypothesis="Repeat the input.")
    lm = ScriptedLM(gen, logprob)
    res = igtext.search(task, config=_cfg(), model=lm, out_dir=tmp_path / "o",
                        cache_dir=tmp_path / "c")
    assert "capitals" in res.best.hypothesis.text
    assert res.train_accuracy == 1.0 and res.test_accuracy == 1.0
    from igtext.label import label_split
    stats = label_split(tmp_path / "o", "test", tmp_path / "l.jsonl", model=lm,
                        cache_dir=tmp_path / "c")
    rows = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert [r["label"] for r in rows] == ["BERN", "KYIV"] and stats["accuracy"] == 1.0


def test_hf_path_model_loads(tmp_path, tiny_lm):
    from igtext.lm.registry import load_model
    tiny_lm.model.save_pretrained(tmp_path / "m")
    tiny_lm.tok.save_pretrained(tmp_path / "m")
    lm = load_model(f"hf:{tmp_path / 'm'}")
    assert lm.name == f"hf:{(tmp_path / 'm').resolve()}"
    from igtext.lm.base import LogprobRequest
    a = lm.logprob([LogprobRequest("a dog", " husky")])[0].total
    b = tiny_lm.logprob([LogprobRequest("a dog", " husky")])[0].total
    assert a == pytest.approx(b, abs=1e-5)


def test_a_kill_during_the_final_evaluation_resends_at_most_one_part(tmp_path):
    """The evaluation of z* on all of D is written to the cache in parts: a run killed in it
    sends again, when resumed, at most one part (COMMIT_EVERY requests), not the whole of D."""
    from igtext.lm.cache import COMMIT_EVERY
    task = toy_task(n=100)             # D: (100 + 1) x 4 = 404 requests, more than one part
    last = task.train[-1].input

    class Crash(Exception):
        pass

    def recording(crash: bool):
        lm = scripted_lm()
        inner, sent = lm.logprob, []

        def logprob(reqs):
            sent.extend((r.context, r.continuation) for r in reqs)
            if crash and any(last in r.context for r in reqs) and len(reqs) > 100:
                raise Crash()          # inside the evaluation of D, on its last part
            return inner(reqs)
        lm.logprob = logprob
        return lm, sent

    cfg = _cfg(likelihood={"search_examples": 4}, search={"generations": 1})
    lm, before = recording(crash=True)
    rd = prepare_run_dir(tmp_path / "r", task, cfg)
    with pytest.raises(Crash):
        execute(rd, task, cfg, lm, tmp_path / "c", progress=False)
    lm, after = recording(crash=False)
    res = igtext.resume(tmp_path / "r", model=lm, cache_dir=tmp_path / "c")
    again = set(before) & set(after)
    assert 0 < len(again) <= COMMIT_EVERY < (len(task.train) + 1) * len(task.labels)
    assert res.train_accuracy is not None


def test_describe_writes_initial_z_and_offspring_when_asked(tmp_path):
    cfg = _cfg(search={"initial_describe": 2, "p_describe": 1.0, "p_refine": 0,
                       "p_crossover": 0, "p_simplify": 0, "generations": 1})
    _run(tmp_path, "d", cfg)
    events = [json.loads(ln) for ln in (tmp_path / "d" / "events.jsonl").read_text().splitlines()]
    ops = [(e["generation"], e["operator"]) for e in events if e["event"] == "propose"]
    first = [op for g, op in ops if g == 0]
    assert first.count("describe") == 2 and first.count("initial") == len(first) - 2
    assert {op for g, op in ops if g > 0} == {"describe"}
    described = [e for e in events if e["event"] == "propose" and e["operator"] == "describe"]
    assert all(e["parents"] == [] for e in described)


def test_a_proposer_whose_drafts_are_all_dropped_is_named_not_the_budget(tmp_path):
    from dataclasses import replace

    from igtext.errors import InputError
    from igtext.lm.scripted import ScriptedLM
    mute = ScriptedLM(lambda req: "ok", lambda ctx, cont: -1.0, name="mute")
    task = replace(toy_task(), initial_hypothesis=None)
    with pytest.raises(InputError, match="drafts were all dropped") as e:
        igtext.search(task, config=_cfg(), model=mute, out_dir=tmp_path / "o",
                      cache_dir=tmp_path / "c")
    assert e.value.field == "model"
