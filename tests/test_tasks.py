import json
import re

import pytest

from igtext.errors import InputError
from igtext.tasks import load_task
from igtext.tasks.husky import BREEDS, TRAITS_TEST, husky_task
from igtext.tasks.taskfile import read_task_file, write_task_jsonl


def test_husky_is_deterministic_and_balanced():
    a, b = husky_task(), husky_task()
    assert a == b
    assert 100 <= len(a.train) and 100 <= len(a.test)
    assert {e.label for e in a.train} == set(BREEDS) == set(a.labels)
    assert husky_task(seed=1) != a


def test_husky_background_predicts_d_but_not_d_prime():
    """A TF-IDF + logistic-regression classifier fitted on D scores near 0 on D'."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t = load_task("builtin:husky")
    vec = TfidfVectorizer()
    x = vec.fit_transform([e.input for e in t.train])
    clf = LogisticRegression(max_iter=2000).fit(x, [e.label for e in t.train])
    assert clf.score(x, [e.label for e in t.train]) == 1.0
    test_acc = clf.score(vec.transform([e.input for e in t.test]), [e.label for e in t.test])
    assert test_acc <= 0.05


def test_husky_test_traits_use_words_never_seen_in_train():
    t = husky_task()
    words = lambda s: set(re.findall(r"[a-z]+", s.lower()))  # noqa: E731
    d_vocab = set().union(*(words(e.input) for e in t.train))
    for breed in BREEDS:
        for trait in TRAITS_TEST[breed]:
            overlap = words(trait) & d_vocab - {"a", "an", "and"}
            assert not overlap, (breed, trait, overlap)


def test_jsonl_round_trip(tmp_path):
    t = husky_task(n_train=8, n_test=4)
    p = tmp_path / "t.jsonl"
    write_task_jsonl(t, p)
    assert read_task_file(p) == t


def test_yaml_task_and_open_ended(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("name: caps\ntrain:\n  - {id: 1, input: paris, label: PARIS}\n"
                 "test:\n  - {id: 2, input: rome}\n")
    t = read_task_file(p)
    assert t.labels is None and not t.is_classification
    assert t.train[0].id == "1" and t.test[0].label is None


@pytest.mark.parametrize("lines, line_no, field", [
    ([{"name": "x", "labels": ["a"]}, {"split": "train", "id": 1, "input": "q"}], 2, "label"),
    ([{"name": "x", "labels": ["a"]}, {"split": "train", "id": 1, "input": "q", "label": "b"}],
     2, "label"),
    ([{"name": "x"}, {"split": "train", "id": 1, "input": 5, "label": "b"}], 2, "input"),
    ([{"name": "x"}, {"split": "train", "id": 1, "input": "q", "label": "b"},
      {"split": "test", "id": 1, "input": "r"}], 3, "id"),
    ([{"name": "x"}, {"split": "dev", "id": 1, "input": "q", "label": "b"}], 2, "split"),
    ([{"name": "x"}, {"split": "train", "id": 1, "input": "q", "label": "b", "extra": 1}],
     2, "extra"),
    ([{"name": "x", "lables": ["a"]}], 1, "lables"),
])
def test_bad_task_lines_name_line_and_field(tmp_path, lines, line_no, field):
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    with pytest.raises(InputError) as e:
        read_task_file(p)
    assert e.value.line == line_no and e.value.field == field
    assert f"{p}:{line_no}:" in str(e.value)


def test_empty_train_bad_utf8_and_huge_line(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"name": "x"}) + "\n" +
                 json.dumps({"split": "test", "id": 1, "input": "q"}) + "\n")
    with pytest.raises(InputError, match="D is empty"):
        read_task_file(p)
    p.write_bytes(b'{"name": "x"}\n{"split": "train", "id": 1, "input": "\xff", "label": "a"}\n')
    with pytest.raises(InputError, match="UTF-8") as e:
        read_task_file(p)
    assert e.value.line == 2
    p.write_bytes(b'{"name": "x"}\n' + b"a" * (10 << 20) + b"\n")
    with pytest.raises(InputError, match="longer than the limit") as e:
        read_task_file(p)
    assert e.value.line == 2


def test_yaml_errors_name_the_line(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("name: x\nlabels: [a, b]\ntrain:\n  - {id: 1, input: q, label: a}\n"
                 "  - {id: 2, input: r, label: c}\n")
    with pytest.raises(InputError, match="unknown label 'c'") as e:
        read_task_file(p)
    assert e.value.line == 5
