"""eval/ood.py end to end on the tiny model: every method on a classification benchmark
and on an Instruction Induction task, the table and JSON written."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED

ROOT = Path(__file__).resolve().parent.parent


def test_ood_eval_quick_on_the_tiny_model(tmp_path, tiny_dir):
    has_ii = (SHARED / "data" / "instruction_induction").is_dir()   # else husky alone
    cmd = [sys.executable, str(ROOT / "eval" / "ood.py"), "--quick", "--model",
           f"hf:{tiny_dir}", "--benchmarks", "husky,ii:antonyms" if has_ii else "husky",
           "--calls", "600",
           "--population", "2", "--search-examples", "4", "--clf-epochs", "1",
           "--out-dir", str(tmp_path), "--work", str(tmp_path / "work")]
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           "IGTEXT_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    res = json.loads((tmp_path / "ood-quick.json").read_text())
    husky = res["summary"]["husky"]
    assert set(husky) == {"tfidf_lr", "lora_clf", "zero_shot", "likelihood_only", "ig",
                          "ig_distil", "ig_distil_lora", "ig_distil_tfidf", "ig_mixture"}
    assert husky["tfidf_lr"]["acc_Dprime"]["mean"] <= 0.15      # the shortcut breaks (chance 0.25)
    assert husky["ig"]["lm_calls"]["mean"] <= 600
    table = (tmp_path / "ood-quick.md").read_text()
    assert "| husky | ig |" in table
    if has_ii:
        assert set(res["summary"]["ii:antonyms"]) == {"zero_shot", "likelihood_only", "ig",
                                                      "human_mean", "human_best"}
        assert "APE, InstructGPT" in table
    rows = (tmp_path / "ood-quick.rows.jsonl").read_text().splitlines()
    assert len(rows) == 9 + 5 * has_ii
    tfidf = next(json.loads(r) for r in rows if json.loads(r)["method"] == "ig_distil_tfidf")
    assert tfidf["speedup_vs_M_L"] > 1                   # no LM: faster than M_L with z*
    # the posterior over the IG run's top z's: z* weighs most, and the figures agree with
    # the labelled file the mixture wrote
    mixture = next(json.loads(r) for r in rows if json.loads(r)["method"] == "ig_mixture")
    ig_row = next(json.loads(r) for r in rows if json.loads(r)["method"] == "ig")
    weights = mixture["weights"]
    assert sum(weights.values()) == pytest.approx(1) and len(weights) <= 5
    lines = [json.loads(x) for x in (tmp_path / "work" / "husky-0-w1.0" /
                                     "mixture-test.jsonl").read_text().splitlines()]
    assert len(lines) == 48 and mixture["coverage"] == sum(
        x["label"] is not None for x in lines) / 48
    if len(weights) == 1:         # one z left: the mixture is z* alone
        assert mixture["acc_Dprime"] == ig_row["acc_Dprime"] and mixture["flagged"] == 0

    # a cut run continues: drop the last husky rows and the IG run's result, run again
    kept = [r for r in rows if json.loads(r)["benchmark"] != "husky"
            or json.loads(r)["method"] not in ("lora_clf", "ig", "ig_distil", "ig_distil_lora",
                                               "ig_distil_tfidf")]
    (tmp_path / "ood-quick.rows.jsonl").write_text("\n".join(kept) + "\n")
    ig_dir = next((tmp_path / "work").glob("husky-0-w1.0"))
    (ig_dir / "result.json").unlink()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    redone = [json.loads(r) for r in again.stdout.splitlines() if r.startswith("{")]
    assert [r["method"] for r in redone] == ["lora_clf", "ig", "ig_distil", "ig_distil_lora",
                                             "ig_distil_tfidf"]
    assert redone[0]["fit_reused"] and redone[0]["acc_Dprime"] == husky["lora_clf"][
        "acc_Dprime"]["mean"]                 # the classifier fitted on the same D, loaded
    res2 = json.loads((tmp_path / "ood-quick.json").read_text())
    assert res2["summary"]["husky"]["ig"]["acc_Dprime"] == husky["ig"]["acc_Dprime"]

    # the work directory lost after IG's row was made: the first student searches again
    # (from the LM cache) and says so, and that the search found the z* of IG's row; the
    # mixture after it reads that search
    rows_file = tmp_path / "ood-quick.rows.jsonl"

    def run_without(methods, edit=lambda r: r):
        rows_file.write_text("".join(json.dumps(edit(json.loads(r))) + "\n"
                                     for r in rows_file.read_text().splitlines()
                                     if json.loads(r)["method"] not in methods))
        run = subprocess.run(cmd + ["--methods", ",".join(methods)], capture_output=True,
                             text=True, timeout=900, env=env)
        assert run.returncode == 0, run.stderr[-3000:]
        return [json.loads(r) for r in run.stdout.splitlines() if r.startswith("{")], run
    shutil.rmtree(ig_dir)
    redone, _ = run_without(["ig_distil_tfidf", "ig_mixture"])
    assert [r["method"] for r in redone] == ["ig_distil_tfidf", "ig_mixture"]
    assert redone[0]["search_redone"] and redone[0]["z_star_as_in_row"]
    assert (ig_dir / "result.json").exists() and redone[0]["wall_s"] >= 0
    assert "search_redone" not in redone[1] and "z_star_as_in_row" not in redone[1]
    # a search whose z* is not its row's: the rows reading it say so, and so does the table
    redone, run = run_without(["ig_mixture"], lambda r: r | (
        {"z_star": "another z"} if r["method"] == "ig" and r["benchmark"] == "husky" else {}))
    assert redone[0]["z_star_as_in_row"] is False and "another z*" in run.stderr
    assert "seed 0: of a search run again" in (tmp_path / "ood-quick.md").read_text()

    # --report-only writes the table of every benchmark from the rows, and runs nothing
    (tmp_path / "ood-quick.md").unlink()
    before = (tmp_path / "ood-quick.rows.jsonl").read_text()
    report = subprocess.run(cmd[:5] + ["--report-only", "--benchmarks", "ii:*,husky"] + cmd[7:],
                            capture_output=True, text=True, timeout=300, env=env)
    assert report.returncode == 0, report.stderr[-3000:]
    assert (tmp_path / "ood-quick.rows.jsonl").read_text() == before
    table = (tmp_path / "ood-quick.md").read_text()
    assert "| husky | ig | 1 |" in table and "--report-only" not in table
    assert ("mean over the 1 tasks with every method" in table) == has_ii


def test_ood_eval_fitted_husky_arms(tmp_path, tiny_dir):
    """--husky-judgments adds the two judgment-fitted arms on husky (same seeds, same cap),
    --fitted-loop the same two with the step-3 loop (and IG's distilled); a directory without the adapters is
    refused before anything runs, and so is a malformed --fitted-loop."""
    from igtext.judgments.store import LabelJudgment
    from igtext.tasks.husky import BREEDS
    from igtext.tasks.husky_world import SEED_HYPOTHESES
    from igtext.training.likelihood_ft import fit_likelihood
    from igtext.training.lora import LoraSettings
    from igtext.training.reward import fit_prior
    name = f"hf:{tiny_dir}"
    fit_prior([(SEED_HYPOTHESES[1], SEED_HYPOTHESES[0], "a")] * 8, tiny_dir,
              tmp_path / "j" / "prior", LoraSettings(epochs=1), base_name=name, progress=False)
    fit_likelihood([LabelJudgment(SEED_HYPOTHESES[1], f"a dog with pale blue eyes {i}", "husky",
                                  None, "a", "simulated") for i in range(8)], BREEDS, tiny_dir,
                   tmp_path / "j" / "likelihood", LoraSettings(epochs=1), base_name=name,
                   progress=False)
    cmd = [sys.executable, str(ROOT / "eval" / "ood.py"), "--quick", "--model", name,
           "--benchmarks", "husky", "--calls", "600", "--population", "2",
           "--search-examples", "4", "--clf-epochs", "1", "--out-dir", str(tmp_path),
           "--work", str(tmp_path / "work"), "--methods", "likelihood_only_fitted,ig_fitted,"
           "likelihood_only_fitted_loop,ig_fitted_loop,ig_fitted_loop_distil_tfidf,"
           "ig_fitted_loop_mixture",
           "--fitted-loop", "4,4",
           "--fitted-search-examples", "4",
           "--husky-judgments", str(tmp_path / "j")]
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           "IGTEXT_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    done_json = (tmp_path / "ood-quick.json").read_text()
    husky = json.loads(done_json)["summary"]["husky"]
    assert set(husky) == {"likelihood_only_fitted", "ig_fitted", "likelihood_only_fitted_loop",
                          "ig_fitted_loop", "ig_fitted_loop_distil_tfidf",
                          "ig_fitted_loop_mixture"}                           # --methods
    distilled = next(d for d in (tmp_path / "work").glob("husky-0-w1.0-fitted-*-l4"))
    meta = json.loads((distilled / "m_l_test-tfidf" / "igtext_distilled.json").read_text())
    assert meta["student"] == "tfidf"      # the loop arm's z* distilled, with its refit M_L
    assert meta["report"]["run"] == str(distilled)
    # the loop's person labelled some inputs of D': the loop rows also say how z* does on
    # the rest, counted from the run's judgment store
    from igtext.distil import judged_inputs
    from igtext.tasks.husky import husky_task
    test = husky_task(n_train=48, n_test=48, seed=0).test
    labelled = judged_inputs(distilled)
    rows = [json.loads(r) for r in (tmp_path / "ood-quick.rows.jsonl").read_text().splitlines()]
    loop_row = next(r for r in rows if r["method"] == "ig_fitted_loop")
    assert loop_row["n_unjudged"] == sum(e.input not in labelled for e in test)
    assert 0 <= loop_row["acc_Dprime_unjudged"] <= 1
    for arm in set(husky) - {"ig_fitted_loop_distil_tfidf", "ig_fitted_loop_mixture"}:
        assert husky[arm]["lm_calls"]["mean"] <= 600
        ig, loop = arm.startswith("ig"), arm.endswith("loop")
        run = next(d for d in (tmp_path / "work").glob(f"husky-0-w{1.0 if ig else 0.0}-fitted-*")
                   if d.name.endswith("-l4") == loop)
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["likelihood"]["adapter"].endswith("likelihood")
        assert (cfg["prior"]["adapter"] is not None) == ig
        assert cfg["search"]["seeds"] == list(SEED_HYPOTHESES)
        assert cfg["refresh"]["every"] == (1 if loop else 0)
        if loop:          # the loop ran: judgments asked for, refit adapters in the run
            assert cfg["refresh"]["comparisons"] == (4 if ig else 0)
            events = [json.loads(line) for line in open(run / "events.jsonl")]
            refresh = [e for e in events if e.get("event") == "refresh"]
            assert refresh and all(e["new_labels"] == 4 for e in refresh)
            assert ("prior" in refresh[0]["adapters"]) == ig
            assert "likelihood" in refresh[0]["adapters"]
    bad = subprocess.run(cmd[:-1] + [str(tmp_path / "nothing")], capture_output=True,
                         text=True, timeout=300, env=env)
    assert bad.returncode != 0 and "nothing" in bad.stderr
    bad = subprocess.run([c if c != "4,4" else "4" for c in cmd], capture_output=True,
                         text=True, timeout=300, env=env)
    assert bad.returncode != 0 and "--fitted-loop" in bad.stderr
    # --report-only needs no adapter on disk: the fitted rows keep the adapters they were
    # made with, which the table names
    (tmp_path / "j").rename(tmp_path / "gone")
    report = subprocess.run(cmd[:-2] + ["--report-only"], capture_output=True, text=True,
                            timeout=300, env=env)
    assert report.returncode == 0, report.stderr[-3000:]
    again = json.loads((tmp_path / "ood-quick.json").read_text())
    assert again["summary"]["husky"] == json.loads(done_json)["summary"]["husky"]
    table = (tmp_path / "ood-quick.md").read_text()
    assert "| husky | ig_fitted_loop | 1 |" in table and "--husky-judgments DIR" in table
    assert loop_row["judgments"].split("-e")[0] in table
