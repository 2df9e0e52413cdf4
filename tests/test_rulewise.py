"""M_L read rule by rule: how z is cut into rules, how the rules' answers combine, the
reading an adapter was fitted for, and the rule-level data of the training worlds."""
import math

import pytest

from igtext.data import Example, Task
from igtext.lm.scripted import ScriptedLM
from igtext.prompts import load_template
from igtext.rulewise import STRENGTH, Calibration, RulewiseLikelihood, none_answer, split_rules

LABELS = ("husky", "labrador", "dalmatian", "poodle")


def test_sentences_are_rules_and_label_headings_keep_their_paragraph():
    z = ("Look at the dog. A husky: has blue eyes. Thick fur. A labrador: yellow coat.\n\n"
         "A dog in snow is a husky; a poodle has curls.")
    assert split_rules(z, LABELS) == [
        "Look at the dog.", "A husky: has blue eyes. Thick fur.", "A labrador: yellow coat.",
        "A dog in snow is a husky;", "a poodle has curls."]
    listed = "Rules:\n- husky: blue eyes\n- Poodles: curly fur\n1. If spotted, answer dalmatian."
    assert split_rules(listed, LABELS) == [
        "Rules:", "- husky: blue eyes", "- Poodles: curly fur", "If spotted, answer dalmatian."]
    # a heading that names no label opens no paragraph
    assert split_rules("Note: look closely. A husky has blue eyes.", LABELS) == [
        "Note: look closely.", "A husky has blue eyes."]
    assert split_rules("", LABELS) == [] and split_rules("  \n ... \n", LABELS) == []


def test_the_none_answer_is_never_a_label():
    assert none_answer(LABELS) == "none"
    assert none_answer(("None", "some")) == "no rule"


def _reader(lm):
    return RulewiseLikelihood(lm, load_template("likelihood_rule"), LABELS)


def test_rules_that_apply_decide_and_no_rule_means_a_guess():
    """A scripted reader: a rule applies to x when they share the word after 'has'."""
    def logprob(context, continuation):
        rule = context.split("Rule: ", 1)[1].split("\n", 1)[0]
        item = context.split("Item: ", 1)[1].split("\n", 1)[0]
        cue = rule.split(" has ")[1].rstrip(".") if " has " in rule else None
        said = next((y for y in LABELS if y in rule), None)
        answer = said if cue and cue in item else "none"
        return 0.0 if continuation.strip() == answer else -20.0
    lm = ScriptedLM(lambda r: "", logprob)
    z = "A husky has blue eyes. A poodle has curls. A poodle has a pompom."
    xs = [Example("a", "a dog with blue eyes", "husky"), Example("b", "a dog with curls and "
          "a pompom", "poodle"), Example("c", "a dog on grass", "labrador")]
    a, b, c = _reader(lm).judge(z, xs)
    assert a.predicted(False) == "husky" and b.predicted(False) == "poodle"
    assert math.exp(a.raw["husky"]) == pytest.approx(
        math.exp(STRENGTH) / (math.exp(STRENGTH) + 3), abs=1e-6)
    assert math.exp(b.raw["poodle"]) > math.exp(a.raw["husky"])       # two rules agree
    assert all(math.exp(v) == pytest.approx(0.25) for v in c.raw.values())
    assert a.gold_loglik(True) == a.raw["husky"] and c.gold_loglik(False) == c.raw["labrador"]
    # every (rule, input) pair asks once for each label and "none"
    assert lm.calls == 3 * 3 * 5
    assert _reader(lm).judge("", xs)[0].raw == pytest.approx({y: math.log(0.25) for y in LABELS})


def test_a_run_reads_z_as_its_adapter_was_fitted(tmp_path):
    import json

    from igtext import components
    from igtext.config import RunConfig
    from igtext.errors import InputError
    task = Task("t", (), (), LABELS)
    lm = components.metered(ScriptedLM(lambda r: "", lambda c, x: 0.0), None)
    assert isinstance(components.likelihood(
        lm, RunConfig(likelihood={"reading": "rules"}), task), RulewiseLikelihood)
    with pytest.raises(InputError, match="label set"):
        components.likelihood(lm, RunConfig(likelihood={"reading": "rules"}),
                              Task("t", (), (), None))
    fake = tmp_path / "adapter"
    fake.mkdir()
    (fake / "igtext_adapter.json").write_text(json.dumps({"kind": "likelihood",
                                                          "reading": "rules"}))
    with pytest.raises(InputError, match="rule by rule.*reading: rules") as e:
        components.likelihood(lm, RunConfig(), task, adapter=fake)
    assert e.value.file == str(fake)


def test_a_calibration_weighs_none_and_the_bare_one_is_the_plain_sum():
    sure = {"husky": 0.97, "labrador": 0.0, "dalmatian": 0.0, "poodle": 0.0, "none": 0.03}
    unsure = {"husky": 0.0, "labrador": 0.3, "dalmatian": 0.0, "poodle": 0.0, "none": 0.7}
    bare = Calibration().combine([sure, unsure], LABELS, "none")
    plain = {y: STRENGTH * (sure[y] + unsure[y]) for y in LABELS}
    top = max(plain.values())
    norm = top + math.log(sum(math.exp(v - top) for v in plain.values()))
    assert bare == pytest.approx({y: v - norm for y, v in plain.items()})
    # a "none" made e^2 times weightier: the unsure rule (labrador) loses more than the sure
    # one (husky), so husky's lead grows; the strength scales every rule's voice
    lifted = Calibration(none_bias=2.0).combine([sure, unsure], LABELS, "none")
    assert lifted["husky"] - lifted["labrador"] > bare["husky"] - bare["labrador"]
    loud = Calibration(strength=2 * STRENGTH).combine([sure, unsure], LABELS, "none")
    assert loud["husky"] > bare["husky"]
    # no rule at all: a uniform guess, whatever the calibration
    assert Calibration(3.0, 9.0).combine([], LABELS, "none") == pytest.approx(
        {y: math.log(0.25) for y in LABELS})
    assert Calibration.from_meta({}) == Calibration()
    assert Calibration.from_meta({"calibration": {"none_bias": 2.5, "strength": 3.75}}) == \
        Calibration(2.5, 3.75)


def test_a_follower_adapter_brings_its_calibration(tmp_path):
    import json

    from igtext import components
    from igtext.config import RunConfig
    task = Task("t", (), (), LABELS)
    lm = components.metered(ScriptedLM(lambda r: "", lambda c, x: 0.0), None)
    fake = tmp_path / "adapter"
    fake.mkdir()
    (fake / "igtext_adapter.json").write_text(json.dumps({
        "kind": "likelihood", "reading": "rules",
        "calibration": {"none_bias": 1.5, "strength": 5.0}}))
    assert components.follower_calibration(fake) == Calibration(1.5, 5.0)
    bare = components.likelihood(lm, RunConfig(likelihood={"reading": "rules"}), task)
    assert bare.calibration == Calibration()
    # kept by the copies a run makes
    assert bare.with_labels(("a", "b")).calibration == Calibration()
    one = bare.with_calibration(Calibration(1.5, 5.0))
    assert one.with_lm(lm).with_labels(("a", "b")).calibration == Calibration(1.5, 5.0)


def test_step_3_does_not_refit_a_rule_by_rule_m_l_on_labels():
    from igtext.config import RunConfig
    with pytest.raises(ValueError, match="refresh.labels: 0"):
        RunConfig(likelihood={"reading": "rules"}, refresh={"every": 2})
    RunConfig(likelihood={"reading": "rules"}, refresh={"every": 2, "labels": 0})


def test_rule_data_says_what_each_rule_alone_says():
    from igtext.worlds import load_world, splits
    from igtext.worlds.imitation import rule_data
    from igtext.worlds.person import label_distribution
    from igtext.worlds.reading import Reader
    data = rule_data(splits.train_worlds(), 300, seed=2)
    assert len(data) == 300
    held = set(splits.split_domains("held_out")) | set(splits.split_domains("validation"))
    assert not {r.domain for r in data} & held
    nones = [r for r in data if r.answer == "none"]
    assert 0.3 < len(nones) / len(data) < 0.5
    readers = {d: Reader(load_world(d)) for d in {r.domain for r in data}}

    def near(r) -> bool:      # x is of the class the rule names, or whose traits it names
        rd = readers[r.domain]
        named = {c.label for p in rd.rules(r.z) for c in p.concepts} | {
            p.label for p in rd.rules(r.z)}
        return bool(named & {c.label for c in rd.present(r.x) if c.kind == "trait"})
    assert 0.4 < sum(map(near, nones)) / len(nones) < 0.6
    far = [r for r in rule_data(splits.train_worlds(), 300, seed=2, near_share=0.0)
           if r.answer == "none"]
    assert sum(map(near, far)) / len(far) < 0.25
    for r in data[:60]:
        assert r.labels[-1] == "none" and r.z in split_rules(r.z, r.labels[:-1])
        d = label_distribution(Reader(load_world(r.domain)), r.z, r.x)
        assert (r.answer == "none") == (len(set(d.values())) == 1)
        if r.answer != "none":
            assert d[r.answer] == max(d.values())
