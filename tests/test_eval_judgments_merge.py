"""eval/judgments.py adds what it ran to the results file and keeps what it did not run."""
from conftest import eval_module


def test_a_run_of_one_part_keeps_the_others():
    ev = eval_module("judgments")
    report = {"machine": "m", "prior": {"heldout_accuracy": 0.86},
              "likelihood_runs": [{"command": "old", "final_loss": 1.0}],
              "loop_runs": [{"command": "loop"}], "targets": {"prior": 0.85}}
    merged = ev.merge(report, {"command": "eval/judgments.py --parts likelihood",
                               "likelihood": {"final_loss": 0.9}})
    assert merged["prior"] == report["prior"] and merged["loop_runs"] == report["loop_runs"]
    assert merged["machine"] == "m" and merged["targets"] == report["targets"]
    assert merged["likelihood_runs"] == report["likelihood_runs"] + [
        {"command": "eval/judgments.py --parts likelihood", "final_loss": 0.9}]
    assert len(report["likelihood_runs"]) == 1                      # not changed in place
    fresh = ev.merge({}, {"command": "c", "prior": {"heldout_accuracy": 0.9},
                          "loop": {"d_prime": 0.5}})
    assert fresh == {"prior": {"command": "c", "heldout_accuracy": 0.9},
                     "loop_runs": [{"command": "c", "d_prime": 0.5}]}
