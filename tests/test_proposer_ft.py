"""Hypothesis-writing traces, `igtext train-proposer` (LoRA SFT) and the tuned proposer in a
search: the plumbing on the tiny random model, the whole path on SmolLM2 (slow)."""
import json
from pathlib import Path

import pytest

from conftest import SHARED, toy_task
from igtext.cli import main
from igtext.errors import InputError
from igtext.traces import Trace, read_traces, traces_from_instruction_induction, write_traces

II = SHARED / "data" / "instruction_induction"
needs_ii = pytest.mark.skipif(not (II / "data" / "annotations").is_dir(),
                              reason="Instruction Induction data not in ../shared/data")


def _traces(n=12):
    tasks = ["plural", "opposite", "first letter"]
    return [Trace(task=tasks[i % 3], target=f"Write the {tasks[i % 3]} of the word {i}.",
                  examples=({"input": f"dog {i}", "label": f"dogs {i}"},
                            {"input": "cat", "label": "cats"}))
            for i in range(n)]


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


GOOD = json.dumps({"task": "t", "target": "Do it.", "examples": [{"input": "a", "label": "b"}]})


@pytest.mark.parametrize("bad, field", [
    ("{not json", None),
    (json.dumps({"task": "t", "examples": [{"input": "a", "label": "b"}]}), "target"),
    (json.dumps({"task": "t", "target": "x", "examples": []}), "examples"),
    (json.dumps({"task": "t", "target": "x", "examples": [{"input": "a"}]}), "examples"),
    (json.dumps({"task": "t", "target": "x", "operator": "rewrite",
                 "examples": [{"input": "a", "label": "b"}]}), "operator"),
    (json.dumps({"task": "t", "target": "x", "operator": "refine",
                 "examples": [{"input": "a", "label": "b"}]}), "z"),
    (json.dumps({"task": "t", "target": "x", "operator": "describe", "labels": ["b", "c"],
                 "label": "d", "examples": [{"input": "a", "label": "b"}]}), "label"),
    (json.dumps({"task": "t", "target": "x", "colour": 1,
                 "examples": [{"input": "a", "label": "b"}]}), "colour"),
])
def test_malformed_trace_names_file_line_and_field(tmp_path, bad, field):
    path = _write(tmp_path / "t.jsonl", [GOOD, bad])
    with pytest.raises(InputError) as e:
        read_traces(path)
    assert e.value.file == path and e.value.line == 2 and e.value.field == field


def test_empty_trace_file_and_cli_exit_2(tmp_path, capsys):
    path = _write(tmp_path / "empty.jsonl", [""])
    with pytest.raises(InputError, match="no traces"):
        read_traces(path)
    assert main(["train-proposer", "--data", path, "--out", str(tmp_path / "a")]) == 2
    assert "empty.jsonl" in capsys.readouterr().err and not (tmp_path / "a").exists()


def test_trace_round_trip(tmp_path):
    traces = _traces(4) + [Trace(task="t", target="Better.", operator="refine", z="Old.",
                                 examples=({"input": "a", "label": "b"},),
                                 errors=({"input": "a", "label": "b", "predicted": "c"},)),
                        Trace(task="t", target="A b has wings.", operator="describe", label="b",
                              labels=("b", "c"), examples=({"input": "a", "label": "b"},))]
    write_traces(traces, tmp_path / "t.jsonl")
    back = read_traces(tmp_path / "t.jsonl")
    assert back == traces and [t.line for t in back] == [1, 2, 3, 4, 5, 6]
    assert back[-1].template_vars()["label"] == "b"
    assert back[-2].template_vars()["errors"][0]["predicted"] == "c"


@needs_ii
def test_traces_from_instruction_induction(tmp_path, capsys):
    from igtext.tasks import instruction_induction as ii
    traces = traces_from_instruction_induction(II, ["antonyms", "sum"], demos=4,
                                               per_instruction=2, seed=1)
    n_human = len(ii.annotations("antonyms", II)) + len(ii.annotations("sum", II))
    assert len(traces) == 2 * n_human
    assert {t.target for t in traces} == set(ii.annotations("antonyms", II) +
                                             ii.annotations("sum", II))
    pool = {e.input: e.output for e in ii.examples("antonyms", "induce", II)}
    for t in (t for t in traces if t.task == "antonyms"):
        assert len(t.examples) == 4 and all(pool[e["input"]] == e["label"] for e in t.examples)
    first = [t for t in traces if t.annotator == traces[0].annotator]
    assert first[0].examples != first[1].examples            # several demonstration samples
    out = tmp_path / "ii.jsonl"
    assert main(["traces", "instruction-induction", "--data-dir", str(II), "--tasks", "sum",
                 "--out", str(out), "--per-instruction", "1"]) == 0
    assert len(read_traces(out)) == len(ii.annotations("sum", II))


def test_train_proposer_tiny_and_use_in_search(tmp_path, tiny_dir, capsys):
    import igtext
    from igtext.training.lora import read_meta
    data = tmp_path / "traces.jsonl"
    write_traces(_traces(), data)
    out = tmp_path / "adapter"
    cfg = tmp_path / "lora.yaml"
    cfg.write_text("rank: 4\nlr: 0.01\nepochs: 2\nbatch_size: 4\nmax_length: 256\n")
    assert main(["train-proposer", "--data", str(data), "--out", str(out), "--config", str(cfg),
                 "--model", f"hf:{tiny_dir}", "--heldout-tasks", "plural",
                 "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["train_traces"] == 8 and rep["heldout_traces"] == 4
    assert rep["heldout_loss_tuned"] < rep["heldout_loss_base"]     # it learned something
    meta = read_meta(out, "proposer")
    assert meta["base_model"] == f"hf:{tiny_dir}" and len(meta["data_sha256"]) == 64
    assert meta["settings"]["rank"] == 4 and meta["settings"]["alpha"] == 8
    assert (out / "checkpoints" / "epoch-1").is_dir() and (out / "checkpoints" / "epoch-2").is_dir()

    # resume: a third epoch continues from the second checkpoint
    assert main(["train-proposer", "--data", str(data), "--out", str(out), "--config", str(cfg),
                 "--epochs", "3", "--model", f"hf:{tiny_dir}", "--resume", "--quiet",
                 "--heldout-tasks", "plural"]) == 0
    assert json.loads(capsys.readouterr().out)["resumed_from_epoch"] == 2
    assert main(["train-proposer", "--data", str(data), "--out", str(out), "--config", str(cfg),
                 "--epochs", "4", "--rank", "8", "--model", f"hf:{tiny_dir}",
                 "--resume", "--quiet", "--heldout-tasks", "plural"]) == 2
    assert "checkpoint's settings differ" in capsys.readouterr().err

    config = igtext.RunConfig.model_validate({
        "model": f"hf:{tiny_dir}", "search": {"generations": 1, "population": 2,
                                                     "offspring": 2, "elite": 1},
        "likelihood": {"search_examples": 4}, "proposer": {"max_new_tokens": 16}})
    res = igtext.search(toy_task(), config=config, out_dir=tmp_path / "run",
                        cache_dir=tmp_path / "cache", proposer_adapter=out)
    from igtext.training.lora import adapter_hash
    assert res.record.proposer_model == f"hf:{tiny_dir}+proposer:{adapter_hash(out)}"
    start = json.loads((tmp_path / "run" / "events.jsonl").read_text().splitlines()[0])
    assert start["proposer_model"] == res.record.proposer_model
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["proposer"]["adapter"] == str(out.resolve())


def test_a_fit_killed_after_an_epoch_resumes_to_the_same_adapter(tmp_path, tiny_dir, capfd,
                                                                  monkeypatch):
    """The checkpoint of each epoch holds the optimizer, schedule and RNG state (Trainer's),
    so a fit killed after epoch 2 and resumed ends with the weights of one that ran through;
    and the fit logs nothing when not asked for a progress bar."""
    from igtext.training import proposer_ft
    from igtext.training.lora import LoraSettings, adapter_hash
    traces = _traces(9)
    s = LoraSettings(rank=4, alpha=8, lr=1e-2, epochs=3, batch_size=4, max_length=256,
                     warmup=0.2, schedule="cosine", clip=1.0)
    whole = proposer_ft.fit_proposer(traces[:6], tiny_dir, tmp_path / "a", s,
                                     heldout=traces[6:], progress=False)
    out, err = capfd.readouterr()             # (transformers' own "Loading weights" bar stays)
    assert out == "" and "loss" not in err and "epoch" not in err

    class Killed(Exception):
        pass
    save_meta = proposer_ft.save_meta

    def kill_after_epoch_2(path, *a):
        save_meta(path, *a)
        if path.name == "epoch-2":
            raise Killed()
    monkeypatch.setattr(proposer_ft, "save_meta", kill_after_epoch_2)
    with pytest.raises(Killed):
        proposer_ft.fit_proposer(traces[:6], tiny_dir, tmp_path / "b", s, heldout=traces[6:],
                                 progress=False)
    monkeypatch.setattr(proposer_ft, "save_meta", save_meta)
    again = proposer_ft.fit_proposer(traces[:6], tiny_dir, tmp_path / "b", s,
                                     heldout=traces[6:], progress=False, resume=True)
    assert again["resumed_from_epoch"] == 2
    assert adapter_hash(tmp_path / "b") == adapter_hash(tmp_path / "a")
    assert again["heldout_loss_tuned"] == pytest.approx(whole["heldout_loss_tuned"], abs=1e-6)
    assert again["heldout_loss_base"] == pytest.approx(whole["heldout_loss_base"], abs=1e-6)


def test_adapter_of_another_kind_or_base_is_refused(tmp_path, tiny_dir, capsys):
    from igtext.training.lora import LoraSettings, save_meta
    bad = tmp_path / "other"
    bad.mkdir()
    save_meta(bad, "proposer", "smollm2-135m", LoraSettings(), "0" * 64, {})
    args = ["run", "builtin:husky", "--out", str(tmp_path / "run"), "--model",
            f"hf:{tiny_dir}", "--proposer-adapter", str(bad)]
    assert main(args) == 2
    assert "made for 'smollm2-135m'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    save_meta(bad, "likelihood", f"hf:{tiny_dir}", LoraSettings(), "0" * 64, {})
    assert main(args) == 2
    assert "is a likelihood adapter, not a proposer one" in capsys.readouterr().err


def test_trace_longer_than_max_length_is_refused(tmp_path, tiny_dir, capsys):
    data = tmp_path / "traces.jsonl"
    write_traces(_traces(3), data)
    cfg = tmp_path / "lora.yaml"
    cfg.write_text("max_length: 20\n")
    assert main(["train-proposer", "--data", str(data), "--out", str(tmp_path / "a"),
                 "--config", str(cfg), "--model", f"hf:{tiny_dir}", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "traces.jsonl:1:" in err and "more than max_length 20" in err
    cfg.write_text("max_length: 20\nrank: -1\n")
    assert main(["train-proposer", "--data", str(data), "--out", str(tmp_path / "a"),
                 "--config", str(cfg), "--model", f"hf:{tiny_dir}"]) == 2
    assert "lora.yaml:2: field 'rank'" in capsys.readouterr().err


@needs_ii
@pytest.mark.slow
def test_train_proposer_on_smollm_and_search_with_it(real_lm, tmp_path, capsys):
    """The real path: traces from Instruction Induction, a few LoRA steps on SmolLM2, the
    adapter loaded in a search on a held-out task."""
    import igtext
    from igtext.tasks.instruction_induction import ii_task
    data = tmp_path / "traces.jsonl"
    assert main(["traces", "instruction-induction", "--data-dir", str(II), "--tasks",
                 "antonyms,synonyms,sum", "--per-instruction", "1", "--demos", "3",
                 "--out", str(data)]) == 0
    capsys.readouterr()
    out = tmp_path / "adapter"
    assert main(["train-proposer", "--data", str(data), "--out", str(out), "--epochs", "1",
                 "--heldout-tasks", "sum", "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["train_traces"] == len(read_traces(data)) - rep["heldout_traces"] > 0
    assert rep["heldout_loss_tuned"] < rep["heldout_loss_base"]
    config = igtext.RunConfig.model_validate({
        "search": {"generations": 1, "population": 2, "offspring": 2, "elite": 1},
        "likelihood": {"search_examples": 4}, "proposer": {"max_new_tokens": 32}})
    res = igtext.search(ii_task("singular_to_plural", II, n_train=6, n_test=4), config=config,
                        out_dir=tmp_path / "run", cache_dir=tmp_path / "cache",
                        proposer_adapter=out)
    assert res.record.proposer_model.startswith("smollm2-135m+proposer:")
    assert res.best.objective is not None
