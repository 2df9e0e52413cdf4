"""eval/proposer.py's summary: how lora compares with base pair by pair (wins, ties, losses,
a task-resampled interval) and in the Markdown table."""
from conftest import eval_module


def _arm(v):
    return {"objective_mean": v, "objective_best": v, "exec_accuracy_best": 0.0,
            "similarity_mean": 0.5, "n": 4}


def _row(task, seed, fold, base, lora):
    return {"task": task, "seed": seed, "fold": fold, "base": _arm(base), "lora": _arm(lora),
            "human": _arm(0.0)}


def test_paired_counts_and_interval():
    ev = eval_module("proposer")
    rows = [_row(f"t{i}", s, i % 2, -10.0, -10.0 + (2.0 if i < 6 else -1.0))
            for i in range(8) for s in range(2)]
    v = ev.paired(rows, "objective_best")
    assert (v["wins"], v["ties"], v["losses"]) == (12, 0, 4)
    assert v["mean_diff"] == (6 * 2.0 - 2 * 1.0) / 8
    assert -1.0 <= v["ci95"][0] <= v["mean_diff"] <= v["ci95"][1] <= 2.0
    ties = ev.paired(rows, "exec_accuracy_best")
    assert (ties["wins"], ties["ties"], ties["losses"]) == (0, 16, 0)
    assert ties["share_of_resamples_not_above_0"] == 1.0
    assert ev.paired([], "objective_best") is None


def test_markdown_reports_the_paired_comparison():
    ev = eval_module("proposer")
    rows = [_row("a", 0, 0, -5.0, -4.0), _row("b", 0, 1, -5.0, -6.0)]
    res = {"command": "eval/proposer.py", "machine": "m", "folds": 2, "n_tasks": 2,
           "evaluated_tasks": ["a", "b"], "seeds": 1, "n": 4, "score_examples": 10,
           "exec_examples": 10, "epochs": 1, "fold_tasks": [["a"], ["b"]], "training": [],
           "summary": ev.summarise(rows, 1), "rows": rows, "reused_rows": 1, "wall_s": 1.0,
           "lm_calls": 0}
    md = ev.markdown(res)
    assert "| objective_best | 1 / 0 / 1 | +0.000 |" in md
    assert "| 0 | a | +1.000 | +1.000 | +0.000 |" in md
    assert "1 of 2 rows were made by an earlier one" in md
