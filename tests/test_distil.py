"""Step 4: `igtext distil` labels D' with z* and fits M_L_test (frozen-LM features +
logistic regression) on part of it; the report compares it with z* and with gold."""
import json

import pytest

from igtext.cli import main


@pytest.fixture
def finished_run(tmp_path, tiny_dir):
    import igtext
    from conftest import toy_task
    config = igtext.RunConfig.model_validate({
        "model": f"hf:{tiny_dir}", "search": {"generations": 1, "population": 2,
                                                     "offspring": 2, "elite": 1,
                                                     "seeds": ["Blue means husky."]},
        "likelihood": {"search_examples": 4, "calibrate": False},
        "proposer": {"max_new_tokens": 16}})
    task = toy_task(24)
    igtext.search(task, config=config, out_dir=tmp_path / "run", cache_dir=tmp_path / "c")
    return tmp_path / "run", task


def test_distil_from_z_star_labels(finished_run, tmp_path, capsys):
    from igtext.distil import load_student
    run, task = finished_run
    out = tmp_path / "student"
    assert main(["distil", str(run), "--out", str(out), "--heldout", "0.5",
                 "--cache-dir", str(tmp_path / "c")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["train"] + rep["heldout"] == len(task.test) and rep["heldout"] == 6
    assert rep["teacher"] == {"from_judgments": 0, "from_M_L": len(task.test),
                              "judgments_off_the_labels": 0}
    # the figures are on the held-out part only, recomputed here from the saved student
    held = [e for e in task.test if e.id in set(rep["heldout_ids"])]
    assert len(held) == len(set(rep["heldout_ids"])) == rep["heldout"] == 6
    pred = [max(p, key=p.get) for p in load_student(out).predict_proba([e.input for e in held])]
    assert rep["student_accuracy_gold"] == pytest.approx(
        sum(p == e.label for p, e in zip(pred, held)) / 6)
    # no judgments: the teacher is M_L alone, and every held-out input is unjudged
    assert rep["teacher_accuracy_gold"] == rep["M_L_accuracy_gold"]
    assert rep["heldout_unjudged"] == 6
    assert rep["student_accuracy_gold_unjudged"] == rep["student_accuracy_gold"]
    assert rep["student_examples_per_s"] > 0 and rep["M_L_with_z_star_examples_per_s"] > 0
    meta = json.loads((out / "igtext_distilled.json").read_text())
    assert meta["labels"] == list(task.labels) and len(meta["data_sha256"]) == 64
    probs = load_student(out).predict_proba([task.test[0].input, "a dog, curly"])
    assert len(probs) == 2 and all(sum(p.values()) == pytest.approx(1) for p in probs)


def test_distil_lora_student(finished_run, tmp_path, capsys):
    """The LoRA-classifier M_L_test: trained on z*'s soft labels, saved, loaded back with the
    same predictions."""
    from igtext.distil import load_student
    run, task = finished_run
    out = tmp_path / "lora-student"
    assert main(["distil", str(run), "--out", str(out), "--student", "lora", "--epochs", "1",
                 "--heldout", "0.5", "--cache-dir", str(tmp_path / "c")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["student"] == "lora" and rep["heldout"] == 6 and rep["fit_s"] > 0
    assert 0 <= rep["agreement_with_z_star"] <= 1 and rep["teacher_soft_log_loss"] > 0
    meta = json.loads((out / "igtext_distilled.json").read_text())
    assert meta["student"] == "lora" and (out / "lora" / "adapter_config.json").exists()
    texts = [e.input for e in task.test[:3]]
    first = load_student(out).predict_proba(texts)
    again = load_student(out).predict_proba(texts)
    assert all(sum(p.values()) == pytest.approx(1) for p in first)
    assert [[round(p[y], 6) for y in task.labels] for p in first] == \
        [[round(p[y], 6) for y in task.labels] for p in again]


def test_distil_tfidf_student(finished_run, tmp_path, capsys):
    """The LM-free M_L_test: saved, loaded back with the same predictions, faster than M_L."""
    from igtext.distil import load_student
    run, task = finished_run
    out = tmp_path / "tfidf-student"
    assert main(["distil", str(run), "--out", str(out), "--student", "tfidf",
                 "--heldout", "0.5", "--cache-dir", str(tmp_path / "c")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["student"] == "tfidf" and rep["heldout"] == 6
    assert rep["speedup"] > 1 and 0 <= rep["agreement_with_z_star"] <= 1
    texts = [e.input for e in task.test]
    first, again = load_student(out).predict_proba(texts), load_student(out).predict_proba(texts)
    assert first == again and all(sum(p.values()) == pytest.approx(1) for p in first)


def test_tfidf_student_learns_the_teachers_words():
    """Soft labels that follow a word are learnt: a new text with the word gets its label."""
    from igtext.distil import fit_tfidf_student
    labels = ("husky", "poodle")
    texts = [f"a dog with {'blue eyes' if i % 2 else 'curly fur'} seen in place {i}"
             for i in range(20)]
    soft = [[0.9, 0.1] if i % 2 else [0.2, 0.8] for i in range(20)]
    student = fit_tfidf_student(texts, soft, labels)
    p = student.predict_proba(["blue eyes in the snow", "curly fur on a sofa"])
    assert p[0]["husky"] > 0.5 > p[1]["husky"]


def test_soft_targets_move_the_classifier(tiny_dir):
    """Soft-label training follows the targets: a classifier told 'husky' for every input
    ends up giving husky more probability than before."""
    from conftest import toy_task

    from igtext.training.classifier import SETTINGS, fit_classifier
    from dataclasses import replace
    task = toy_task(16)
    labels = task.labels
    exs = task.train
    target = [[1.0 if y == labels[0] else 0.0 for y in labels] if i % 4 else
              [0.0 if y == labels[0] else 1.0 / (len(labels) - 1) for y in labels]
              for i in range(len(exs))]
    clf = fit_classifier(exs, labels, tiny_dir, replace(SETTINGS, epochs=6, lr=5e-3),
                         targets=target)
    probs = clf.predict_proba([e.input for e in exs])
    assert sum(p[labels[0]] for p in probs) / len(probs) > 0.6


def test_distil_uses_stored_judgments_under_z_star(finished_run, tmp_path, capsys):
    from igtext.judgments.store import JudgmentStore, LabelJudgment
    run, task = finished_run
    z = json.loads((run / "result.json").read_text())["best"]["text"]
    JudgmentStore(run / "judgments.sqlite").add(
        [LabelJudgment(z, e.input, e.label, None, "p1", "person") for e in task.test[:5]]
        + [LabelJudgment(z, task.test[5].input, "not a label", None, "p1", "person")])
    assert main(["distil", str(run), "--out", str(tmp_path / "s"), "--heldout", "0.5",
                 "--cache-dir", str(tmp_path / "c")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["teacher"] == {"from_judgments": 5, "from_M_L": len(task.test) - 5,
                              "judgments_off_the_labels": 1}
    # the person's labels (gold here) are the teacher's on the inputs they judged; on the
    # rest the teacher is M_L, so the two agree on the unjudged held-out inputs
    held = [e for e in task.test if e.id in set(rep["heldout_ids"])]
    judged = {e.input for e in task.test[:6]}
    assert rep["heldout_unjudged"] == sum(e.input not in judged for e in held)
    assert rep["teacher_accuracy_gold_unjudged"] == rep["M_L_accuracy_gold_unjudged"]
    n_person = sum(e.input in judged and e is not task.test[5] for e in held)
    assert rep["teacher_accuracy_gold"] * 12 >= n_person + (
        rep["M_L_accuracy_gold_unjudged"] or 0) * rep["heldout_unjudged"] - 1e-9


def test_distil_bad_input(finished_run, tmp_path, capsys):
    run, _ = finished_run
    assert main(["distil", str(run), "--out", str(tmp_path / "s"), "--heldout", "1.5"]) == 2
    assert "heldout" in capsys.readouterr().err
    assert main(["distil", str(tmp_path / "nope"), "--out", str(tmp_path / "s")]) == 2
    assert main(["distil", str(run), "--out", str(tmp_path / "s"), "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_labelling_uses_the_runs_fitted_M_L(tmp_path, tiny_dir, capsys):
    """A run searched with a fitted M_L is labelled (and distilled) with that M_L, not the
    base model."""
    import igtext
    from conftest import toy_task

    from igtext.judgments.store import LabelJudgment
    from igtext.label import finished_run
    from igtext.training.likelihood_ft import fit_likelihood
    from igtext.training.lora import LoraSettings
    task = toy_task(24)
    name = f"hf:{tiny_dir}"
    fit_likelihood([LabelJudgment("Blue means husky.", e.input, e.label, None, "a", "simulated")
                    for e in task.train[:8]], task.labels, tiny_dir, tmp_path / "ml",
                   LoraSettings(epochs=1), base_name=name, progress=False)
    config = igtext.RunConfig.model_validate({
        "model": name, "search": {"generations": 1, "population": 2, "offspring": 2,
                                  "elite": 1, "seeds": ["Blue means husky."]},
        "likelihood": {"search_examples": 4, "calibrate": False,
                       "adapter": str(tmp_path / "ml")},
        "proposer": {"max_new_tokens": 16}})
    igtext.search(task, config=config, out_dir=tmp_path / "run", cache_dir=tmp_path / "c")
    run = finished_run(tmp_path / "run", "test", cache_dir=tmp_path / "c")
    assert run.backend.name.startswith(f"{name}+likelihood:")
    assert main(["label", str(tmp_path / "run"), "--split", "test", "--out",
                 str(tmp_path / "l.jsonl"), "--cache-dir", str(tmp_path / "c")]) == 0
    rep = json.loads(capsys.readouterr().out)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert rep["accuracy"] == pytest.approx(result["test_accuracy"])


def test_label_any_file_of_inputs_with_z_star(finished_run, tmp_path, capsys):
    """`igtext label RUNDIR --input FILE`: CSV (columns by name or flag), JSONL and text; the
    labels are the ones z* gives the same inputs as a split."""
    run, task = finished_run
    common = ["--cache-dir", str(tmp_path / "c")]
    assert main(["label", str(run), "--out", str(tmp_path / "split.jsonl"), *common]) == 0
    capsys.readouterr()
    by_input = {r["input"]: r["label"] for r in
                map(json.loads, (tmp_path / "split.jsonl").read_text().splitlines())}
    xs = [e.input for e in task.test[:3]]
    (tmp_path / "in.csv").write_text("text,gold\n" + "".join(
        f'"{x}",{e.label}\n' for x, e in zip(xs, task.test)))
    assert main(["label", str(run), "--input", str(tmp_path / "in.csv"), "--input-column",
                 "text", "--label-column", "gold", "--out", str(tmp_path / "a.jsonl"),
                 *common]) == 0
    rep = json.loads(capsys.readouterr().out)
    rows = [json.loads(r) for r in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["2", "3", "4"]                 # the CSV's lines
    assert [r["label"] for r in rows] == [by_input[x] for x in xs]
    assert rep["accuracy"] == sum(r["label"] == r["gold"] for r in rows) / 3
    (tmp_path / "in.txt").write_text("\n".join(xs) + "\n")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "input": x}) + "\n"
                                               for i, x in enumerate(xs)))
    for name in ("in.txt", "in.jsonl"):
        assert main(["label", str(run), "--input", str(tmp_path / name), "--out",
                     str(tmp_path / "b.jsonl"), *common]) == 0
        got = [json.loads(r) for r in (tmp_path / "b.jsonl").read_text().splitlines()]
        assert [r["label"] for r in got] == [by_input[x] for x in xs]
    assert got[0]["id"] == "q0" and json.loads(capsys.readouterr().out.splitlines()[-1])[
        "accuracy"] is None
    (tmp_path / "bad.csv").write_text("input,label\n")
    assert main(["label", str(run), "--input", str(tmp_path / "bad.csv"), "--out",
                 str(tmp_path / "c.jsonl"), "--input-column", "text"]) == 2
    assert "bad.csv:1: field 'input': no column 'text' in the header (columns: input, label)" \
        in capsys.readouterr().err
