import random

import pytest

from igtext.data import Hypothesis, Scored
from igtext.proposer import Job, Proposer, clean_proposal

from conftest import scripted_lm, toy_task


@pytest.mark.parametrize("raw, reason", [
    ("", "empty"), ("   \n ", "empty"), ("Yes.", "too_short"),
    ("#### $$$ 1234 5678 !!!! ???? ****", "garbled"),
    ("do this\ndo this\ndo this\ndo this\ndo this", "repetitive"),
    ("dog " * 40, "repetitive"),
])
def test_bad_outputs_are_dropped_with_a_reason(raw, reason):
    text, why = clean_proposal(raw)
    assert text is None and why == reason


def test_preamble_fences_and_length_cap():
    text, why = clean_proposal("New instructions: Look at the eyes and the coat of the dog.")
    assert why is None and text == "Look at the eyes and the coat of the dog."
    text, _ = clean_proposal("```\nLook at the coat of the dog first.\n```")
    assert text == "Look at the coat of the dog first."
    long = "Look at the coat. " * 200
    text, why = clean_proposal(long, max_chars=300)
    assert why is None and len(text) <= 300 and text.endswith(".")


def test_proposer_batches_jobs_and_records_lineage():
    task = toy_task()
    lm = scripted_lm()
    prop = Proposer(lm, task)
    parent = Scored(Hypothesis("Name the breed."), 0.0, {}, {"tr0": -2.0}, {"tr0": False}, 1,
                    example_pred={"tr0": "poodle"})
    jobs = [Job("initial", sample_index=0), Job("refine", (parent,), 1),
            Job("crossover", (parent, parent), 2), Job("simplify", (parent,), 3)]
    out = prop.propose(jobs, random.Random(0))
    assert lm.calls == 4 and len(out) == 4
    assert out[1].hypothesis.parents == (parent.id,)
    assert out[1].template_hash == prop.templates["refine"].hash
    assert all(o.hypothesis.operator == j.operator for o, j in zip(out, jobs))


def test_prompts_are_cut_to_the_models_context_or_refused(tmp_path):
    """A prompt that would run past the model's context shows fewer examples; one that
    cannot fit even with one is refused with a line naming the template."""
    from dataclasses import replace

    from igtext.errors import InputError
    from igtext.prompts import load_template

    lm = scripted_lm()
    lm.max_positions = 400                 # scripted tokens are words
    task = toy_task(16)
    long = replace(task, train=tuple(replace(e, input=e.input + " and so on" * 20)
                                     for e in task.train))          # ~65 words per example
    seen = []
    inner = lm.generate_fn
    lm.generate_fn = lambda req: seen.append(lm.count_tokens([req])[0]) or inner(req)
    prop = Proposer(lm, long, n_examples=8, max_new_tokens=64)
    out = prop.propose([Job("initial", sample_index=0)], random.Random(0))
    assert out[0].hypothesis is not None and seen and seen[0] + 64 <= 400
    assert seen[0] > 100                   # some examples are still shown

    big = tmp_path / "big.j2"
    big.write_text("Read all of this. " * 150 + "{% for e in examples %}{{ e.input }}{% endfor %}")
    prop = Proposer(lm, long, {"initial": load_template("initial", big)}, max_new_tokens=64)
    with pytest.raises(InputError, match=r"big\.j2.*do not fit the model's context of 400"):
        prop.propose([Job("initial", sample_index=0)], random.Random(0))


def test_describe_writes_one_sentence_per_label_from_its_examples():
    from igtext.lm.scripted import ScriptedLM
    task = toy_task()
    shown = {}

    def gen(req):
        prompt = req.messages[-1][1]
        label = prompt.split('the label "', 1)[1].split('"', 1)[0]
        shown[label] = [ln for ln in prompt.splitlines() if ln.startswith("- ")]
        return f"The {label}s share the cue word. Another sentence that is not kept."
    lm = ScriptedLM(gen)
    prop = Proposer(lm, task, n_examples=4, describe_examples=2)
    out = prop.propose([Job("describe", sample_index=3)], random.Random(0))
    assert lm.calls == len(task.labels) and len(out) == 1
    assert out[0].hypothesis.text.splitlines() == [
        f"{y}: The {y}s share the cue word." for y in task.labels]
    assert out[0].hypothesis.operator == "describe" and out[0].hypothesis.parents == ()
    by_id = {e.input: e.label for e in task.train}
    for label, lines in shown.items():          # each label's prompt shows its own examples
        assert len(lines) == 2 and all(by_id[ln[2:]] == label for ln in lines)
    # a label's reply that is dropped drops the whole z, with its reason
    bad = Proposer(ScriptedLM(lambda r: ""), task).propose([Job("describe")], random.Random(0))
    assert bad[0].hypothesis is None and bad[0].dropped == "empty"


def test_describe_needs_a_label_set():
    from igtext.data import Task
    from igtext.errors import InputError
    task = toy_task()
    open_task = Task("open", task.train, task.test, None)
    with pytest.raises(InputError, match="label set"):
        Proposer(scripted_lm(), open_task).propose([Job("describe")], random.Random(0))
