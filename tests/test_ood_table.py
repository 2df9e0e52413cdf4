"""eval/ood.py's table from rows alone: a student or mixture of a search run again with
another z* than the search's row is flagged in its cell."""
from conftest import eval_module


def _row(method, seed, acc, **extra):
    return {"benchmark": "b", "method": method, "seed": seed, "acc_D": None,
            "acc_Dprime": acc, "lm_calls": 0, "lm_tokens": 0, "wall_s": 1.0, **extra}


def test_a_student_of_another_z_star_is_flagged():
    ood = eval_module("ood")
    rows = [_row("ig", s, 0.5, z_star=f"z{s}") for s in range(3)] + [
        _row("ig_distil_tfidf", 0, 0.6, z_star_acc_on_same=0.5),
        _row("ig_distil_tfidf", 1, 0.7, z_star_acc_on_same=0.5, search_redone=True,
             z_star_as_in_row=True),
        _row("ig_distil_tfidf", 2, 0.8, z_star_acc_on_same=0.5, search_redone=True,
             z_star_as_in_row=False)]
    cells = ood.summarise(rows)["b"]
    assert cells["ig_distil_tfidf"]["other_z_star_seeds"] == [2]      # seed 1 found the same
    assert "other_z_star_seeds" not in cells["ig"]
    flagged = ood.brackets(cells["ig_distil_tfidf"])
    assert "seed 2: of a search run again" in flagged and "z* 0.500" in flagged
    assert ood.brackets(cells["ig"]) == ""
