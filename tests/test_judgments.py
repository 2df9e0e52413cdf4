"""Judgment store, annotators, LoRA fits (tiny model) and the simulated husky person."""
import json
import multiprocessing
import random

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


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tiny_lm):
    d = tmp_path_factory.mktemp("tiny")
    tiny_lm.model.save_pretrained(d)
    tiny_lm.tok.save_pretrained(d)
    return d


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
    assert lm.name.startswith("tiny+lora:")
    with pytest.raises(InputError, match="fitted on 'tiny'"):
        load_tuned_lm(tmp_path / "l", tiny_dir, "other")
    with pytest.raises(InputError, match="not a prior one"):
        from igtext.training.reward import RewardPrior
        RewardPrior(tmp_path / "l", tiny_dir)
