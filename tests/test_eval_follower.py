"""eval/follower.py's agreement: by kind, and over the z's about traits by whether z words
traits as x does (a z* written from D reading D' is "unlike")."""
from conftest import eval_module

from igtext.worlds.imitation import WorldLabel


class _Judged:
    def __init__(self, label):
        self.label = label

    def predicted(self, calibrate):
        return self.label


class _Says:
    """An M_L that gives each input the label it is told to."""

    def __init__(self, says):
        self.says = says

    def with_labels(self, labels):
        return self

    def judge(self, z, examples):
        return [_Judged(self.says[e.input]) for e in examples]


def _record(kind, x, answer, cross):
    dist = {"a": 0.05, "b": 0.05, answer: 0.9}
    return WorldLabel("d", kind, f"z of {kind}", x, ("a", "b"), dist, cross)


def test_agreement_splits_trait_rules_by_wording():
    ev = eval_module("follower")
    records = [_record("thing", "x1", "a", False), _record("thing", "x2", "a", True),
               _record("wrong", "x3", "b", True), _record("context", "x4", "b", True)]
    says = {"x1": "a", "x2": "b", "x3": "b", "x4": "b"}
    got = ev.agreement(_Says(says), {0: records}, calibrate=False)
    assert got["by_kind"] == {"thing": 0.5, "context": 1.0, "wrong": 1.0}
    # context rules are left out of the wording split: their rules name no trait
    assert got["by_wording"] == {"z worded as x": 1.0, "z worded unlike x": 0.5}
    md = ev.markdown({"command": "c", "split": "held_out", "domains": ["d"], "seeds": 1,
                      "pairs": 4, "arms": {"m": {**got, "wall_s": 1.0}}})
    assert "| z worded as x | z worded unlike x |" in md and "| 1.00 | 0.50 | 1.0 |" in md
