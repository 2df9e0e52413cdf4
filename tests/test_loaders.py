"""Loaders of the public data in ../shared/data (Instruction Induction, HypoBench, CAD):
real files where present, and clear errors on broken copies."""
import json

import pytest

from conftest import SHARED
from igtext.errors import InputError
from igtext.tasks import load_task
from igtext.tasks import instruction_induction as ii
from igtext.tasks.cad import cad_task
from igtext.tasks.hypobench import hypobench_task, known_hypotheses, task_names

DATA = SHARED / "data"
needs = {name: pytest.mark.skipif(not (DATA / name).is_dir(), reason=f"no {name} data")
         for name in ("instruction_induction", "hypobench", "cad")}


@needs["instruction_induction"]
def test_instruction_induction_all_tasks():
    names = ii.task_names(DATA / "instruction_induction")
    assert len(names) == 24
    humans = sum(len(ii.annotations(n, DATA / "instruction_induction")) for n in names)
    assert humans == 186
    t = load_task("ii:cause_and_effect")
    assert t.labels is None and len(t.train) == 20 and len(t.test) == 25
    assert t.train[0].input.startswith("Sentence 1:") and t.train[0].label in t.train[0].input
    cc = ii.examples("common_concept", "execute", DATA / "instruction_induction")
    assert all(len(e.answers) >= 1 for e in cc)
    with pytest.raises(InputError, match="unknown Instruction Induction task"):
        load_task("ii:nope")


def test_instruction_induction_metric():
    assert ii.score("antonyms", "Insane.\nmore text", ("insane",)) == 1.0
    assert ii.score("antonyms", "not sane", ("insane",)) == 0.0
    assert ii.score("synonyms", "the word is big", ("big", "large")) == 1.0
    assert ii.score("taxonomy_animal", "cat, dog", ("dog, cat",)) == 1.0
    assert 0 < ii.score("informal_to_formal", "Please sit down", ("Please take a seat",)) < 1


@needs["hypobench"]
@pytest.mark.parametrize("name", task_names())
def test_hypobench_tasks(name):
    t = hypobench_task(name)
    assert len(t.train) >= 200 and len(t.test) >= 100
    assert set(t.labels) == {e.label for e in t.train} and len(t.labels) >= 2
    assert {e.label for e in t.test} <= set(t.labels)
    assert t.description and known_hypotheses(name)


@needs["hypobench"]
def test_hypobench_shift_and_cross_generator():
    ood, ind = load_task("hypobench:deceptive_reviews"), load_task("hypobench:deceptive_reviews@ind")
    assert (len(ood.test), len(ind.test)) == (640, 500) and ood.train == ind.train
    gpt, llama = hypobench_task("gptgc_detect"), hypobench_task("llamagc_detect")
    assert {e.input for e in gpt.test} == {e.input for e in hypobench_task(
        "llamagc_detect", shift="ind").test}
    assert {e.input for e in llama.test} & {e.input for e in gpt.train} == set()
    pair = hypobench_task("headline_binary", n_train=20, n_test=10, seed=3)
    assert len(pair.train) == 20 and pair.train[0].input.startswith("First headline:")


@needs["hypobench"]
def test_hypobench_synthetic_tasks():
    """Every synthetic folder is a task named by its path; the label column is found however
    it is named, every other column is a feature, and a column that spells out the label is
    not one (shoe's "the color of shoes is black")."""
    names = task_names()
    assert {"shoe", "shoe_two_level/hard", "admission/level_1/base",
            "admission_adv/level_4/size_15"} <= set(names) and len(names) >= 30
    shoe = load_task("hypobench:shoe")
    assert not any("color of shoes" in e.input for e in shoe.train + shoe.test)
    assert shoe.train[0].input.startswith("appearance: ")
    adm = hypobench_task("admission/level_2/depth_2")
    assert adm.labels == ("admitted", "rejected")
    assert "Mathematics" in adm.train[0].input and "num_publications: " in adm.train[0].input
    assert known_hypotheses("admission/level_4/size_15")


@needs["cad"]
def test_cad_orig_to_new():
    t = load_task("cad:sentiment")
    assert (len(t.train), len(t.test)) == (1707, 488) and t.labels == ("Negative", "Positive")
    assert "<br />" not in t.train[0].input


def test_broken_copies_name_file_and_line(tmp_path):
    bad = tmp_path / "cad" / "sentiment"
    (bad / "orig").mkdir(parents=True)
    (bad / "new").mkdir()
    (bad / "orig" / "train.tsv").write_text("Sentiment\tText\nPositive\tfine\nMaybe\tuh\n")
    (bad / "new" / "test.tsv").write_text("Sentiment\tText\n")
    with pytest.raises(InputError) as e:
        cad_task(tmp_path / "cad")
    assert e.value.line == 3 and e.value.field == "Sentiment" and "train.tsv" in e.value.file
    hb = tmp_path / "hb" / "real_datasets" / "retweet"
    hb.mkdir(parents=True)
    (hb / "metadata.json").write_text(json.dumps({"features": {"t": {}}}))
    (hb / "retweet_train.json").write_text('{"t": ["a"], "label": ')
    with pytest.raises(InputError, match="not valid JSON") as e:
        hypobench_task("retweet", tmp_path / "hb")
    assert e.value.file.endswith("retweet_train.json")
    with pytest.raises(InputError, match="unknown HypoBench task"):
        hypobench_task("nope", tmp_path / "hb")
    with pytest.raises(InputError, match="no data/annotations"):
        ii.task_names(tmp_path)
