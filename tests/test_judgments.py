"""Judgment store, annotators, LoRA fits (tiny model) and the simulated husky person."""
import json
import multiprocessing

import pytest

from igtext.errors import InputError
from igtext.judgments.annotators import ProxyAnnotator, TerminalAnnotator
from igtext.judgments.store import Comparison, JudgmentStore, LabelJudgment, read_jsonl
from igtext.tasks.husky import husky_task
from igtext.tasks.husky_world import (SimulatedPerson, hypothesis_pool, label_distribution,
                                      parse_rules, prior_score)

GOOD = ("A husky has pale blue eyes and thick grey and white fur. A labrador has a short "
        "yellow coat. A dalmatian has a white coat covered in black spots. A poodle has "
        "tightly curled fur.")
BACKGROUND = ("A dog in deep snow is a husky. A dog on green grass is a labrador. A dog inside "
              "a fire station is a dalmatian. A dog on a velvet sofa is a poodle.")


def test_store_round_trip(tmp_path):
    s = JudgmentStore(tmp_path / "j.sqlite")
    s.add([Comparison("z1", "z2", "a", "ann", "person", 1.0),
           LabelJudgment("z1", "x", "husky", {"husky": 0.9, "poodle": 0.1}, "ann", "proxy", 2.0)])
    assert s.counts() == {"comparisons": 1, "labels": 1}
    s.export_jsonl(tmp_path / "out.jsonl")
    t = JudgmentStore(tmp_path / "t.sqlite")
    assert t.import_jsonl(tmp_path / "out.jsonl") == 2
    assert t.comparisons() == s.comparisons() and t.labels() == s.labels()


def _writer(path, who):
    s = JudgmentStore(path)
    for i in range(100):
        s.add([Comparison(f"{who}{i}", "z", "b", who, "simulated")])


def test_two_writers(tmp_path):
    path = tmp_path / "j.sqlite"
    JudgmentStore(path).close()
    procs = [multiprocessing.Process(target=_writer, args=(path, w)) for w in ("p", "q")]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert JudgmentStore(path).counts()["comparisons"] == 200


@pytest.mark.parametrize("line, field", [
    ({"kind": "comparison", "z_a": "a", "z_b": "b", "winner": "c", "annotator": "x",
      "source": "person"}, "winner"),
    ({"kind": "comparison", "a_id": "hdeadbeef00", "z_b": "b", "winner": "a", "annotator": "x",
      "source": "person"}, "a_id"),
    ({"kind": "label", "z": "a", "x": "b", "distribution": {"p": 0.3}, "annotator": "x",
      "source": "proxy"}, "distribution"),
    ({"kind": "vote", "annotator": "x", "source": "person"}, "kind"),
    ({"kind": "label", "z": "a", "x": "b", "answer": "p", "annotator": "x", "source": "crowd"},
     "source"),
])
def test_bad_judgment_files_leave_the_store_unchanged(tmp_path, line, field):
    s = JudgmentStore(tmp_path / "j.sqlite")
    good = {"kind": "comparison", "z_a": "a", "z_b": "b", "winner": "a", "annotator": "x",
            "source": "person"}
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(InputError) as e:
        s.import_jsonl(f, known={})
    assert e.value.line == 2 and e.value.field == field
    assert s.counts() == {"comparisons": 0, "labels": 0}


def test_known_ids_resolve(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"kind": "comparison", "a_id": "h1", "b_id": "h2", "winner": "tie",
                             "annotator": "x", "source": "person"}) + "\n")
    (c,) = read_jsonl(f, known={"h1": "first z", "h2": "second z"})
    assert (c.z_a, c.z_b, c.winner) == ("first z", "second z", "tie")


def test_simulated_person_prior_and_labels():
    assert [r.kind for r in parse_rules(GOOD)] == ["animal"] * 4
    assert [r.kind for r in parse_rules(BACKGROUND)] == ["background"] * 4
    assert prior_score(GOOD) > prior_score(BACKGROUND)
    assert prior_score("Name the breed.") > prior_score("Name the breed. " * 10)
    task = husky_task()

    def acc(z, split):
        return sum(max(d := label_distribution(z, e.input), key=d.get) == e.label
                   for e in split) / len(split)
    assert acc(BACKGROUND, task.train) == 1.0 and acc(BACKGROUND, task.test) == 0.0
    assert acc(GOOD, task.test) > 0.5                # traits carry over to D' wordings
    person = SimulatedPerson(seed=0)
    wins = person.compare([(GOOD, BACKGROUND)] * 200)
    assert wins.count("a") > 190
    (answer, dist), = person.label([(GOOD, task.test[0].input)])
    assert answer in task.labels and sum(dist.values()) == pytest.approx(1)
    pool = hypothesis_pool(50, seed=1)
    assert len(set(pool)) == 50 and {r.kind for z in pool for r in parse_rules(z)} >= {
        "animal", "wrong", "background"}


def test_terminal_annotator_reads_answers():
    answers = iter(["x", "b", "t", "s", "2", "poodle", "q"])
    shown = []
    ann = TerminalAnnotator(lambda _: next(answers), shown.append, ("husky", "poodle"))
    assert ann.compare([("z1", "z2"), ("z3", "z4"), ("z5", "z6")]) == ["b", "tie", None]
    assert ann.label([("z", "x1"), ("z", "x2"), ("z", "x3")]) == [("poodle", None),
                                                                   ("poodle", None)]
    assert "A: z1" in shown[0]


def test_proxy_annotator(tiny_lm):
    ann = ProxyAnnotator(tiny_lm, ("husky", "poodle"))
    assert set(ann.compare([("z one", "z two")])) <= {"a", "b", "tie"}
    (answer, dist), = ann.label([("Name the breed.", "a dog")])
    assert answer in ("husky", "poodle") and sum(dist.values()) == pytest.approx(1)


def test_fit_prior_tiny(tiny_dir, tmp_path):
    from igtext.training.lora import LoraSettings, read_meta
    from igtext.training.reward import RewardPrior, fit_prior
    pairs = [("short rule", "a much much longer rule about dogs", "a")] * 8
    rep = fit_prior(pairs, tiny_dir, tmp_path / "p", LoraSettings(epochs=3, lr=1e-2),
                    heldout=pairs[:2], progress=False)
    assert rep["heldout_pairs"] == 2 and 0 <= rep["heldout_accuracy"] <= 1
    meta = read_meta(tmp_path / "p", "prior")
    assert len(meta["data_sha256"]) == 64
    (total, parts), = RewardPrior(tmp_path / "p", tiny_dir, weight=2.0).score(["short rule"])
    assert total == pytest.approx(2.0 * parts["reward"])
    with pytest.raises(InputError, match="ties only"):
        fit_prior([("a", "b", "tie")] * 5, tiny_dir, tmp_path / "q", progress=False)
    with pytest.raises(InputError, match="too few"):
        fit_prior([("a", "b", "a")], tiny_dir, tmp_path / "q", progress=False)


def test_fit_likelihood_tiny(tiny_dir, tmp_path):
    from igtext.training.likelihood_ft import fit_likelihood, load_tuned_lm
    from igtext.training.lora import LoraSettings
    js = [LabelJudgment("Name the breed.", f"a dog {i}", "husky", None, "a", "simulated")
          for i in range(8)]
    rep = fit_likelihood(js, ("husky", "poodle"), tiny_dir, tmp_path / "l",
                         LoraSettings(epochs=2, lr=1e-2), heldout=js[:4], base_name="tiny",
                         progress=False)
    h = rep["heldout"]
    assert h["fitted"]["log_loss"] < h["zero_shot"]["log_loss"]
    lm = load_tuned_lm(tmp_path / "l", tiny_dir, "tiny")
    assert lm.name.startswith("tiny+likelihood:")
    with pytest.raises(InputError, match="made for 'tiny'"):
        load_tuned_lm(tmp_path / "l", tiny_dir, "other")
    with pytest.raises(InputError, match="not a prior one"):
        from igtext.training.reward import RewardPrior
        RewardPrior(tmp_path / "l", tiny_dir)


def test_grouped_label_logprobs_equal_the_scoring_backend(tiny_dir):
    """Training runs the z prefix once per group and packs every label behind each input;
    the label log-probabilities equal those M_L is scored with in search."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from igtext.lm.base import LogprobRequest
    from igtext.lm.hf import TransformersLM
    from igtext.training.likelihood_ft import _group_label_logprobs, _groups
    from igtext.training.lora import LoraSettings
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraSettings(targets=("q_proj", "v_proj", "up_proj"))
                           .peft_config("CAUSAL_LM", model.config.num_hidden_layers))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)
    model.eval()
    prompts = [f"Instructions: {GOOD}\nInput: {x}\nAnswer:"
               for x in ("a dog in snow", "a dog with curled fur on a sofa", "spots")]
    labels = [" husky", " dalmatian", " poodle"]
    conts = [tok(y, add_special_tokens=False).input_ids for y in labels]
    want = TransformersLM(model.get_base_model(), tok, "t").logprob(
        [LogprobRequest(c, y) for c in prompts for y in labels])
    want = torch.tensor([r.total for r in want]).view(3, 3)
    for group in (prompts, prompts[:1]):
        with torch.no_grad():
            got = _group_label_logprobs(model, [tok(c).input_ids for c in group], conts, 0)
        assert torch.allclose(got, want[:len(group)], atol=1e-4)
    assert _groups(["z", "w", "z", "z"], 2) == [[0, 2], [3], [1]]


def test_training_and_scoring_share_one_packed_scoring_function(tiny_dir, monkeypatch):
    """The backend's `logprob` and M_L's training loss both go through `packed_logprobs`, and
    the training side, with gradients on, gives the numbers the backend scores with."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from igtext.lm import hf
    from igtext.lm.base import LogprobRequest
    from igtext.training.likelihood_ft import _group_label_logprobs
    from igtext.training.lora import LoraSettings
    calls = []
    real = hf.packed_logprobs

    def spy(model, rows, *a, **kw):
        calls.append(torch.is_grad_enabled())
        return real(model, rows, *a, **kw)
    monkeypatch.setattr(hf, "packed_logprobs", spy)
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraSettings().peft_config("CAUSAL_LM", 2))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)
    prompts = [f"Instructions: {GOOD}\nInput: {x}\nAnswer:" for x in ("snow", "a sofa")]
    labels = [" husky", " poodle", " dalmatian"]
    scored = hf.TransformersLM(model.get_base_model(), tok, "t").logprob(
        [LogprobRequest(c, y) for c in prompts for y in labels])
    assert calls == [False]                               # scoring: inference mode
    model.train()
    conts = [tok(y, add_special_tokens=False).input_ids for y in labels]
    trained = _group_label_logprobs(model, [tok(c).input_ids for c in prompts], conts, 0)
    assert calls == [False, True]                         # training: the same function, grads on
    assert trained.flatten().tolist() == pytest.approx([r.total for r in scored], abs=1e-4)
    trained.logsumexp(-1).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for n, p in model.named_parameters() if "lora_A" in n)


def test_packed_scoring_with_a_sliding_window_and_a_softcap():
    """A Gemma 3 shaped model (sliding-window layers, logit softcap): the packed numbers, on
    the scoring and on the training side, equal a plain forward per (context, label)."""
    import random

    import torch
    from peft import get_peft_model
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from igtext.lm.hf import packed_logprobs, run_prefix, shared_prefix_length
    from igtext.training.likelihood_ft import _group_label_logprobs
    from igtext.training.lora import LoraSettings
    cfg = Gemma3TextConfig(vocab_size=300, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                           head_dim=8, sliding_window=12, final_logit_softcapping=5.0,
                           layer_types=["sliding_attention", "full_attention"],
                           max_position_embeddings=256, pad_token_id=0)
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(cfg).eval()
    rng = random.Random(0)
    prefix = [rng.randrange(3, 300) for _ in range(20)]        # longer than the window
    contexts = [prefix + [rng.randrange(3, 300) for _ in range(n)] for n in (3, 5, 9)]
    conts = [[7, 8], [9], [10, 11, 12]]

    def plain(c, y):
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([c + y])).logits[0].float(), -1)
        return sum(lp[len(c) - 1 + i, t].item() for i, t in enumerate(y))
    want = [plain(c, y) for c in contexts for y in conts]
    shared = shared_prefix_length(contexts, 2, cfg.sliding_window)
    assert shared == cfg.sliding_window - 1
    with torch.no_grad():
        rows = packed_logprobs(model, [(c[shared:], conts) for c in contexts], shared,
                               run_prefix(model, contexts[0][:shared]))
        trained = _group_label_logprobs(
            get_peft_model(model, LoraSettings().peft_config("CAUSAL_LM", 2)), contexts, conts, 0)
    assert [t.sum().item() for row in rows for t in row] == pytest.approx(want, abs=1e-4)
    assert trained.flatten().tolist() == pytest.approx(want, abs=1e-4)


def test_lr_schedule():
    from igtext.training.lora import LoraSettings, lr_factor
    f = lr_factor(LoraSettings(warmup=0.1, schedule="cosine"), 100)
    assert f(0) < f(5) < f(10) == 1.0 and f(55) == pytest.approx(0.5, abs=0.02) and f(99) < 0.01
    g = lr_factor(LoraSettings(warmup=0.0, schedule="linear"), 10)
    assert g(0) == 1.0 and g(5) == pytest.approx(0.5)
    assert lr_factor(LoraSettings(), 10)(7) == 1.0
    with pytest.raises(InputError, match="schedule"):
        lr_factor(LoraSettings(schedule="step"), 10)


def test_fit_likelihood_continues_from_an_adapter(tiny_dir, tmp_path):
    from igtext.training.likelihood_ft import fit_likelihood
    from igtext.training.lora import LoraSettings, adapter_hash, read_meta
    js = [LabelJudgment("Name the breed.", f"a dog {i}", "husky", None, "a", "simulated")
          for i in range(8)]
    s = LoraSettings(epochs=1, lr=1e-2, warmup=0.2, schedule="cosine", clip=1.0)
    fit_likelihood(js, ("husky", "poodle"), tiny_dir, tmp_path / "a", s, progress=False)
    rep = fit_likelihood(js, ("husky", "poodle"), tiny_dir, tmp_path / "b", s, progress=False,
                         init=tmp_path / "a")
    assert rep["init_adapter"] == adapter_hash(tmp_path / "a")
    assert adapter_hash(tmp_path / "b") != adapter_hash(tmp_path / "a")
    assert read_meta(tmp_path / "b", "likelihood")["settings"]["schedule"] == "cosine"


def test_fit_commands_take_a_recipe_file_and_flags_over_it(tmp_path, tiny_dir, capsys):
    from igtext.cli import main
    from igtext.training.lora import read_meta
    store = JudgmentStore(tmp_path / "j.sqlite")
    store.add([Comparison(f"short rule {i}", f"a much longer rule about dogs {i}", "a", "p",
                          "person") for i in range(10)]
              + [LabelJudgment(f"Rule {i}.", f"a dog {i}", "husky", None, "p", "person")
                 for i in range(10)])
    recipe = tmp_path / "lora.yaml"
    recipe.write_text("rank: 4\nlr: 0.01\nbatch_size: 4\n")
    common = ["--store", str(store.path), "--model", f"hf:{tiny_dir}", "--config", str(recipe),
              "--quiet"]
    assert main(["fit-prior", "--out", str(tmp_path / "p"), "--lr", "0.02", *common]) == 0
    assert "train_accuracy" in json.loads(capsys.readouterr().out)
    got = read_meta(tmp_path / "p", "prior")["settings"]
    assert (got["rank"], got["alpha"], got["lr"], got["batch_size"]) == (4, 8, 0.02, 4)
    assert (got["max_length"], got["top_layers"], got["epochs"]) == (128, 8, 2)   # the recipe's
    assert main(["fit-likelihood", "--task", "builtin:husky", "--out", str(tmp_path / "l"),
                 "--epochs", "2", "--seed", "3", *common]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["train_judgments"] == 8 and rep["heldout"]["fitted"]["n"] == 2     # by z
    got = read_meta(tmp_path / "l", "likelihood")["settings"]
    assert (got["rank"], got["lr"], got["epochs"], got["seed"]) == (4, 0.01, 2, 3)
    assert (got["schedule"], got["clip"], got["max_length"]) == ("cosine", 1.0, 320)


@pytest.fixture
def tiny_run(tmp_path, tiny_dir):
    """A finished run on the toy task with the tiny model (as hf:PATH)."""
    import igtext
    from conftest import scripted_lm, toy_task
    from igtext.config import RunConfig
    cfg = RunConfig.model_validate({"model": f"hf:{tiny_dir}", "search": {
        "generations": 1, "population": 3, "offspring": 2, "elite": 1},
        "likelihood": {"search_examples": 6}})
    igtext.search(toy_task(8), config=cfg, model=scripted_lm(), out_dir=tmp_path / "run",
                  cache_dir=tmp_path / "cache")
    return tmp_path / "run"


def test_killing_the_terminal_judge_midway_keeps_the_answers_given(tmp_path):
    import shutil
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path
    run = Path(shutil.copytree(Path(__file__).parent / "data" / "recorded_run", tmp_path / "r"))
    store = JudgmentStore(tmp_path / "j.sqlite")
    cmd = [sys.executable, "-m", "igtext.cli", "judge", str(run), "--kind", "compare",
           "--n", "4", "--store", str(store.path)]
    # Ctrl-C as a terminal sends it, whatever this process does with SIGINT (a child started
    # with SIGINT ignored, as after some earlier tests, would ignore it too)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    p.stdin.write("a\nb\n")
    p.stdin.flush()
    end = time.monotonic() + 60
    while len(store.comparisons()) < 2:           # stored as given, before the session ends
        assert time.monotonic() < end and p.poll() is None
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)                 # stdin left open: the answer to come is Ctrl-C, not EOF
    err = p.stderr.read()
    p.stdin.close()
    assert p.returncode == 130 and "every answer given is stored" in err
    assert [c.winner for c in store.comparisons()] == ["a", "b"]
    r = subprocess.run(cmd, input="t\na\n", text=True, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "[1/2]" in r.stderr and "[3/" not in r.stderr          # only the 2 not answered
    assert json.loads(r.stdout.strip().splitlines()[-1])["recorded"] == 2
    assert [c.winner for c in store.comparisons()] == ["a", "b", "tie", "a"]


def test_cli_judge_terminal_import_export_and_fits(tiny_run, tiny_dir, tmp_path):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "igtext.cli", "judge", str(tiny_run), "--kind",
                        "compare", "--n", "6"], input="a\nb\nt\na\nb\na\n", text=True,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["comparisons"] == 6
    r = subprocess.run([sys.executable, "-m", "igtext.cli", "judge", str(tiny_run), "--kind",
                        "label", "--n", "5"], input="1\n2\n3\nhusky\n4\n", text=True,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    store = tiny_run / "judgments.sqlite"
    out = tmp_path / "all.jsonl"
    from igtext.cli import main
    assert main(["judgments", "export", str(out), "--store", str(store)]) == 0
    assert len(out.read_text().splitlines()) == 11
    assert main(["judgments", "import", str(out), "--store", str(tmp_path / "copy.sqlite")]) == 0
    assert main(["fit-prior", "--store", str(store), "--out", str(tmp_path / "p"), "--model",
                 f"hf:{tiny_dir}", "--epochs", "1", "--quiet"]) == 0
    assert (tmp_path / "p" / "igtext_adapter.json").exists()
    assert main(["fit-likelihood", "--store", str(store), "--task", "builtin:husky", "--out",
                 str(tmp_path / "l"), "--model", f"hf:{tiny_dir}", "--heldout", "0",
                 "--quiet"]) == 0
    from igtext.training.likelihood_ft import RECIPE
    from igtext.training.lora import read_meta
    got = read_meta(tmp_path / "l", "likelihood")["settings"]
    assert (got["schedule"], got["targets"], got["epochs"]) == (
        RECIPE.schedule, list(RECIPE.targets), RECIPE.epochs)      # the recipe that worked
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "comparison", "a_id": "hnope", "z_b": "x", "winner": "a", '
                   '"annotator": "p", "source": "person"}\n')
    assert main(["judgments", "import", str(bad), "--store", str(store), "--run",
                 str(tiny_run)]) == 2


def test_refresh_loop_with_simulated_person(tmp_path, tiny_dir):
    """Step 3 on builtin husky data with the tiny model: judgments stored, models refit and
    used, every refresh logged, and the run resumable from its checkpoint."""
    import igtext
    from conftest import scripted_lm
    from igtext.config import RunConfig
    from igtext.runlog import read_events
    task = husky_task(n_train=12, n_test=8, seed=2)
    cfg = RunConfig.model_validate({
        "model": f"hf:{tiny_dir}", "search": {"generations": 2, "population": 3,
                                               "offspring": 2, "elite": 1},
        "likelihood": {"search_examples": 6},
        "refresh": {"every": 1, "judge": "simulated", "comparisons": 6, "labels": 8, "top": 3,
                    "prior_epochs": 1, "likelihood_epochs": 1}})
    res = igtext.search(task, config=cfg, model=scripted_lm(), out_dir=tmp_path / "r",
                        cache_dir=tmp_path / "c")
    events, _ = read_events(tmp_path / "r" / "events.jsonl")
    refreshes = [e for e in events if e.event == "refresh"]
    assert [e.generation for e in refreshes] == [1, 2]
    assert refreshes[-1].store["comparisons"] >= 6 and refreshes[-1].store["labels"] >= 8
    assert set(res.record.adapters) == {"prior", "likelihood"}
    assert "+likelihood:" in res.record.likelihood_model
    assert res.best.prior_parts.get("reward") is not None      # the fitted prior is in use

    # killed after the first refresh, resumed: the same end as the uninterrupted run
    from igtext.run import execute
    from igtext.rundir import prepare_run_dir

    class Crash(Exception):
        pass
    lm = scripted_lm()
    gen, batches = lm.generate, []

    def generate(reqs):                  # the third batch of proposals is generation 2's
        batches.append(len(reqs))
        if len(batches) == 3:
            raise Crash()
        return gen(reqs)
    lm.generate = generate
    rd = prepare_run_dir(tmp_path / "k", task, cfg)
    with pytest.raises(Crash):
        execute(rd, task, cfg, lm, tmp_path / "kc", progress=False)
    assert json.loads(rd.checkpoint.read_text())["state"]["adapters"]   # after refresh 1
    again = igtext.resume(tmp_path / "k", model=scripted_lm(), cache_dir=tmp_path / "kc")
    assert again.best.id == res.best.id
    assert again.test_accuracy == res.test_accuracy


def test_refresh_continues_from_the_configured_adapter(tmp_path, tiny_dir):
    """A run that starts from a fitted M_L refits from it, not from the base model."""
    import igtext
    from conftest import scripted_lm
    from igtext.config import RunConfig
    from igtext.runlog import read_events
    from igtext.training.likelihood_ft import fit_likelihood
    from igtext.training.lora import LoraSettings, adapter_hash
    task = husky_task(n_train=12, n_test=8, seed=2)
    js = [LabelJudgment(GOOD, e.input, e.label, None, "a", "simulated") for e in task.train]
    fit_likelihood(js, task.labels, tiny_dir, tmp_path / "ml", LoraSettings(epochs=1),
                   base_name=f"hf:{tiny_dir}", progress=False)
    cfg = RunConfig.model_validate({
        "model": f"hf:{tiny_dir}", "search": {"generations": 1, "population": 3,
                                               "offspring": 2, "elite": 1},
        "likelihood": {"search_examples": 6, "adapter": str(tmp_path / "ml")},
        "refresh": {"every": 1, "judge": "simulated", "comparisons": 0, "labels": 8, "top": 3,
                    "likelihood_epochs": 1}})
    igtext.search(task, config=cfg, model=scripted_lm(), out_dir=tmp_path / "r",
                  cache_dir=tmp_path / "c")
    events, _ = read_events(tmp_path / "r" / "events.jsonl")
    (refresh,) = [e for e in events if e.event == "refresh"]
    assert refresh.fit["likelihood"]["init_adapter"] == adapter_hash(tmp_path / "ml")
    assert "prior" not in refresh.fit                 # no comparisons asked for
