"""Worlds from data files: validation (one line with file, line and field), generated tasks,
the split of domains (held-out phrases never reach training), and the simulated person
(follows z, known prior), including against the husky world's person."""
from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from igtext.errors import InputError
from igtext.worlds import domains, load_world, read_world
from igtext.worlds.generate import derangement, world_task
from igtext.worlds.hypotheses import KINDS, hypothesis_pool
from igtext.worlds.person import SimulatedPerson, label_distribution, preference, prior_score
from igtext.worlds.reading import Reader
from igtext.worlds import splits

REPO = Path(__file__).resolve().parents[1]
SHIPPED = domains()

GOOD = """\
domain: birds
thing: bird
task: name the species of the bird described
classes:
  robin:
    traits:
      - [a red breast, an orange-red chest, a rust-coloured front]
      - [a thin yellow bill, a slender amber beak, a narrow golden-yellow bill]
      - [a hopping gait on lawns, a bouncing walk across turf, short springy bounds over grass]
      - [a cheerful fluting song, a warbling melody at dawn, a liquid whistled tune]
      - [brown upper feathers, an olive-brown back, a mud-toned mantle]
  crow:
    traits:
      - [glossy black plumage, jet-dark feathers, an inky sheen all over]
      - [a harsh cawing call, a rasping croak, a grating repeated caw]
      - [a heavy stout beak, a thick dark bill, a massive sooty mandible]
      - [a habit of scavenging carrion, a taste for roadkill, feeding on dead animals]
      - [a large sturdy build, a bulky powerful frame, a hefty stocky body]
  wren:
    traits:
      - [a tiny round body, a minute plump form, a diminutive ball-like shape]
      - [a cocked upright tail, a perky raised tail, a stubby tail held vertical]
      - [a loud trilling song, a piercing rattling warble, an explosive bubbling refrain]
      - [barred brown wings, striped russet flight feathers, finely banded chestnut pinions]
      - [a pale eyebrow stripe, a light streak over the eye, a creamy supercilium]
contexts:
  place:
    robin: [in a suburban garden, on a garden fence, beside a flower bed]
    crow: [on a motorway verge, beside a landfill site, on a car park lamp post]
    wren: [in a bramble thicket, under a woodland hedge, among fallen logs]
distractors:
  - The photo was taken with an old camera.
  - The light was fading at the time.
  - A neighbour mentioned it over the fence later.
  - The picture is slightly blurred.
  - It was the second sighting that week.
  - The observer had binoculars.
"""


def _line(text: str, needle: str | tuple[str, int]) -> int:
    """The 1-based line of the first line of `text` containing `needle` (or of the nth,
    for a needle (text, n))."""
    needle, nth = needle if isinstance(needle, tuple) else (needle, 1)
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[nth - 1]


def _swap(old: str, new: str, text: str = GOOD) -> str:
    assert old in text
    return text.replace(old, new, 1)


# (name, the bad file's text, the needle whose line is expected, the field, the message)
BAD = [
    ("missing wording",
     _swap("[a thin yellow bill, a slender amber beak, a narrow golden-yellow bill]",
           "[a thin yellow bill, a slender amber beak]"),
     "a thin yellow bill", "classes.robin.traits.1", "needs at least 3 wordings, has 2"),
    ("unknown class",
     _swap("    wren: [in a bramble", "    eagle: [in a bramble"),
     "eagle:", "contexts.place.eagle", "unknown class 'eagle'"),
    ("class missing from a context",
     _swap("    wren: [in a bramble thicket, under a woodland hedge, among fallen logs]\n", ""),
     "  place:", "contexts.place", "class 'wren' has no values"),
    ("context value shared",
     _swap("[on a motorway verge,", "[on a garden fence,"),
     "    crow: [on a garden fence,", "contexts.place.crow.0",
     "is also a value of class 'robin' (line 28)"),
    ("trait shared by two classes",
     _swap("[a large sturdy build,", "[a red breast,"),
     "[a red breast, a bulky", "classes.crow.traits.4.0",
     "is also a trait of class 'robin' (line 7)"),
    ("too few classes",
     GOOD[:GOOD.index("  wren:")] + GOOD[GOOD.index("contexts:"):].replace(
         "    wren: [in a bramble thicket, under a woodland hedge, among fallen logs]\n", ""),
     "classes:", "classes", "needs 3 to 5 classes, has 2"),
    ("too few traits",
     _swap("      - [a pale eyebrow stripe, a light streak over the eye, a creamy supercilium]\n",
           ""),
     ("traits:", 3), "classes.wren.traits", "needs at least 5 traits, has 4"),
    ("too few distractors",
     _swap("  - The observer had binoculars.\n", ""),
     "distractors:", "distractors", "needs at least 6 distractors, has 5"),
    ("label word inside a phrase",
     _swap("a mud-toned mantle]", "a crow-like mantle]"),
     "crow-like", "classes.robin.traits.4.2", "contains 'crow', a word of the label 'crow'"),
    ("duplicate key",
     _swap("distractors:", "thing: raven\ndistractors:"),
     "thing: raven", "thing", "duplicate key 'thing' (first on line 2)"),
    ("domain is not the file's name",
     _swap("domain: birds", "domain: fowl"),
     "domain: fowl", "domain", "must be the file's name 'birds'"),
]


def test_a_deeply_nested_file_is_one_line(tmp_path):
    p = tmp_path / "birds.yaml"
    p.write_text("distractors: " + "[" * 100000 + "]" * 100000 + "\n")
    with pytest.raises(InputError, match="nested too deep"):
        read_world(p)


def test_the_test_world_is_good(tmp_path):
    p = tmp_path / "birds.yaml"
    p.write_text(GOOD)
    w = read_world(p)
    assert w.labels == ("robin", "crow", "wren") and list(w.contexts) == ["place"]


@pytest.mark.parametrize("domain", SHIPPED)
def test_every_shipped_world_validates(domain):
    w = load_world(domain)
    assert w.domain == domain and 3 <= len(w.labels) <= 5


@pytest.mark.parametrize("name, text, needle, field, message", BAD, ids=[b[0] for b in BAD])
def test_bad_world_is_one_line_naming_file_line_and_field(tmp_path, name, text, needle, field,
                                                          message):
    p = tmp_path / "birds.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        read_world(p)
    said = str(e.value)
    assert said.startswith(f"{p}:{_line(text, needle)}: field '{field}': "), said
    assert message in said and "\n" not in said


@pytest.mark.parametrize("name, text, needle, field, message", BAD[:4], ids=[b[0] for b in BAD[:4]])
def test_bad_world_through_the_cli(capsys, tmp_path, name, text, needle, field, message):
    from igtext.cli import main
    p = tmp_path / "birds.yaml"
    p.write_text(text)
    out = tmp_path / "run"
    assert main(["run", f"world:{p}", "--out", str(out), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"igtext: error: {p}:{_line(text, needle)}: field '{field}': ")
    assert message in err and err.count("\n") == 1 and not out.exists()


def test_bad_world_through_the_real_cli_process(tmp_path):
    name, text, needle, field, message = BAD[0]
    p = tmp_path / "birds.yaml"
    p.write_text(text)
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "igtext.cli", "run", f"world:{p}", "--out", str(out)],
                       capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and message in r.stderr
    assert f"{p}:{_line(text, needle)}: field '{field}': " in r.stderr and not out.exists()


# ---- generated tasks ----

def _context_owner(reader: Reader, x: str) -> set[str]:
    return {c.label for c in reader.present(x) if c.kind == "context"}


def _has(phrase: str, text: str) -> bool:
    return re.search(r"(?<![a-z0-9])" + re.escape(phrase.lower()) + r"(?![a-z0-9])",
                     text.lower()) is not None


@pytest.mark.parametrize("domain", SHIPPED)
def test_generation_is_deterministic_and_d_is_shared_by_the_shifts(domain):
    w = load_world(domain)
    a, b = world_task(w, seed=1, n_train=40, n_test=40), world_task(w, seed=1, n_train=40, n_test=40)
    assert a == b and a.world == domain and a.labels == w.labels and a.description == w.task
    assert world_task(w, seed=2, n_train=40, n_test=40).train != a.train
    assert all(world_task(w, seed=1, n_train=40, n_test=40, shift=s).train == a.train
               for s in ("context", "wording"))


@pytest.mark.parametrize("domain", SHIPPED)
def test_context_predicts_the_class_in_d_and_not_in_d_prime(domain):
    w = load_world(domain)
    r = Reader(w)
    for shift in ("both", "context", "wording"):
        t = world_task(w, n_train=80, n_test=80, shift=shift)
        assert all(_context_owner(r, e.input) == {e.label} for e in t.train)
        owners = [_context_owner(r, e.input) for e in t.test]
        assert all(len(o) == 1 for o in owners)
        moved = [o != {e.label} for o, e in zip(owners, t.test)]
        assert all(moved) if shift != "wording" else not any(moved)


@pytest.mark.parametrize("domain", SHIPPED)
def test_held_out_wordings_never_occur_in_d(domain):
    w = load_world(domain)
    t = world_task(w, n_train=200, n_test=200)
    d = "\n".join(e.input for e in t.train)
    held = [p for ts in w.traits.values() for t_ in ts for p in t_[2:]]
    seen_in_d = [p for p in held if _has(p, d)]
    assert not seen_in_d
    d_words = [p for ts in w.traits.values() for t_ in ts for p in t_[:2]]
    for e in t.test:               # shift "both": D' traits only in held-out wordings
        assert not any(_has(p, e.input) for p in d_words), e.input


# ---- splits: held-out phrases never reach training ----

def test_splits_partition_the_shipped_domains():
    parts = [splits.split_domains(s) for s in splits.SPLITS]
    assert sorted(sum(parts, ())) == sorted(SHIPPED)
    assert "dogs" in splits.split_domains("held_out")
    assert not set(splits.split_domains("train")) & set(splits.HELD_OUT + splits.VALIDATION)
    assert not {w.domain for w in splits.train_worlds()} & set(splits.HELD_OUT)
    assert not {w.domain for w in splits.validation_worlds()} & set(splits.HELD_OUT)


@pytest.mark.parametrize("held", splits.split_domains("held_out"))
def test_no_phrase_of_a_held_out_domain_occurs_in_train_or_validation(held):
    seen = splits.train_worlds() + splits.validation_worlds()
    assert splits.leaks(load_world(held), seen) == []


def test_leaks_are_found(tmp_path):
    p = tmp_path / "birds.yaml"
    p.write_text(GOOD)
    birds = read_world(p)
    fowl = tmp_path / "fowl.yaml"
    fowl.write_text(GOOD.replace("domain: birds", "domain: fowl")
                    .replace("a red breast,", "a red breast and more,"))
    assert ("a red breast and more", "fowl") not in splits.leaks(birds, (read_world(fowl),))
    assert ("on a motorway verge", "fowl") in splits.leaks(birds, (read_world(fowl),))
    assert ("a red breast", "fowl") in splits.leaks(birds, (read_world(fowl),))
    assert len(splits.phrases(birds)) == 15 * 3 + 9 + 6


# ---- the simulated person ----

def _rules(w, traits_of=None, wording=0) -> str:
    """One rule per class naming all the traits of `traits_of[class]` (default its own)."""
    traits_of = traits_of or {y: y for y in w.labels}
    return " ".join(f"A {y} has " + " and ".join(t[wording] for t in w.traits[traits_of[y]]) + "."
                    for y in w.labels)


def _context_rules(w) -> str:
    kind = next(iter(w.contexts))
    return " ".join(f"A {w.thing} " + " or ".join(w.contexts[kind][y]) + f" is a {y}."
                    for y in w.labels)


def _argmax(dist):
    top = max(dist.values())
    return {y for y, p in dist.items() if p == top}


@pytest.mark.parametrize("domain", SHIPPED)
def test_the_person_follows_z_not_the_truth(domain):
    w = load_world(domain)
    r = Reader(w)
    t = world_task(w, n_train=40, n_test=80)         # D': held-out wordings, contexts moved
    thing = _rules(w)
    for e in t.test:
        assert label_distribution(r, thing, e.input)[e.label] >= 0.9
    ctx = _context_rules(w)
    for e in t.train + t.test:
        assert _argmax(label_distribution(r, ctx, e.input)) == _context_owner(r, e.input)
    moved = derangement(w.labels, __import__("random").Random(0))
    wrong = _rules(w, moved)
    back = {v: k for k, v in moved.items()}
    for e in t.test:
        assert _argmax(label_distribution(r, wrong, e.input)) == {back[e.label]}
    for e in t.test[:10]:
        dist = label_distribution(r, f"Decide what the {w.thing} is.", e.input)
        assert set(dist.values()) == {1 / len(w.labels)}


@pytest.mark.parametrize("domain", SHIPPED)
def test_the_prior_orders_thing_context_coherent_short(domain):
    w = load_world(domain)
    r = Reader(w)
    a, b = w.labels[:2]
    ta, tb = w.traits[a][0][0], w.traits[b][0][0]
    one_each = " ".join(f"A {y} has {w.traits[y][0][0]}." for y in w.labels)
    assert prior_score(r, one_each) > prior_score(r, _context_rules(w))
    coherent = f"A {a} has {ta}. A {b} has {tb}."
    contradictory = f"A {a} has {ta}. A {b} has {ta}."
    assert prior_score(r, coherent) > prior_score(r, contradictory)
    longer = one_each + " Read the whole description carefully. Take your time before you answer."
    assert prior_score(r, one_each) > prior_score(r, longer)
    p = preference(r, one_each, _context_rules(w))
    assert p == pytest.approx(1 / (1 + math.exp(prior_score(r, _context_rules(w))
                                                - prior_score(r, one_each))))


@pytest.mark.parametrize("domain", SHIPPED)
def test_hypothesis_kinds_read_as_their_kind(domain):
    w = load_world(domain)
    r = Reader(w)
    pool = hypothesis_pool(w, 220, seed=0)
    assert {k for k, _ in pool} == set(KINDS) and len({z for _, z in pool}) == len(pool)
    assert pool == hypothesis_pool(w, 220, seed=0)
    expect = {"thing": {"thing"}, "short": {"thing"}, "long": {"thing"},
              "paraphrased": {"thing"}, "per_label": {"thing"}, "partial": {"thing"},
              "context": {"context"}, "wrong": {"wrong"}, "mixed": {"thing", "context"},
              "generic": set()}
    for kind, z in pool:
        got = {rule.kind for rule in r.rules(z)}
        if kind in expect:
            assert got == expect[kind], (kind, z, [(x.label, x.kind) for x in r.rules(z)])
    mean = {k: sum(prior_score(r, z) for kk, z in pool if kk == k)
            / sum(kk == k for kk, _ in pool) for k in KINDS}
    assert mean["thing"] > mean["context"] and mean["short"] > mean["long"]
    assert mean["thing"] > mean["mixed"] > mean["context"]


def test_the_simulated_person_answers_like_an_annotator():
    from igtext.judgments.annotators import ask
    w = load_world("dogs")
    p = SimulatedPerson(w, seed=3)
    thing, ctx = _rules(w), _context_rules(w)
    picks = p.compare([(thing, ctx)] * 50)
    assert picks.count("a") == 50
    x = world_task(w, n_test=4).test[0].input
    answers = p.label([(thing, x), (ctx, x)])
    assert all(ans in w.labels and abs(sum(d.values()) - 1) < 1e-9 for ans, d in answers)
    records = ask(p, [(thing, ctx)], [(thing, x)])
    assert len(records) == 2 and {r.source for r in records} == {"simulated"}
    assert SimulatedPerson(w, seed=3).compare([(thing, thing)] * 20) == \
        SimulatedPerson(w, seed=3).compare([(thing, thing)] * 20)


def test_per_label_descriptions_and_clauses_are_rules():
    r = Reader(load_world("dogs"))
    z = ("A husky: has a cerulean stare. It also has erect triangular pinnae. "
         "A poodle: dense ringlets.")
    assert [(x.label, len(x.concepts), x.kind) for x in r.rules(z)] == \
        [("husky", 2, "thing"), ("poodle", 1, "thing")]
    z = "Huskies have blue eyes, while labradors have floppy ears; if it has spots on its nose, " \
        "it is a dalmatian."
    assert [(x.label, x.kind) for x in r.rules(z)] == \
        [("husky", "thing"), ("labrador", "thing"), ("dalmatian", "thing")]


# ---- loading and the annotator registry ----

def test_world_tasks_load_by_name_path_seed_and_shift(tmp_path):
    from igtext.tasks import load_task
    w = load_world("dogs")
    assert load_task("world:dogs") == world_task(w)
    assert load_task("world:dogs@3?shift=wording") == world_task(w, seed=3, shift="wording")
    p = tmp_path / "birds.yaml"
    p.write_text(GOOD)
    assert load_task(f"world:{p}@2").world == "birds"
    for bad, said in [("world:nowhere", "unknown world 'nowhere'"),
                      ("world:dogs@x", "seed after @"), ("world:dogs?shift=sideways", "unknown shift"),
                      ("world:dogs?seed=2", "?shift=SHIFT")]:
        with pytest.raises(InputError, match=re.escape(said)):
            load_task(bad)


def test_simulated_for_a_world_task():
    from igtext.judgments.annotators import simulated_for
    from igtext.tasks import load_task
    from igtext.tasks import husky_world
    assert isinstance(simulated_for(load_task("world:dogs"), 1), SimulatedPerson)
    assert isinstance(simulated_for(load_task("builtin:husky"), 1), husky_world.SimulatedPerson)


def test_a_world_task_file_round_trips(tmp_path):
    from igtext.tasks import load_task
    from igtext.tasks.taskfile import write_task_jsonl
    t = world_task(load_world("dogs"), n_train=8, n_test=8)
    write_task_jsonl(t, tmp_path / "t.jsonl")
    assert load_task(tmp_path / "t.jsonl") == t


# ---- the dogs world against the husky world's person ----

def test_dogs_person_agrees_with_the_husky_person_where_both_decide():
    """Both persons follow the same z on husky.py's own inputs. They never pick different
    single labels; they differ only where one of them ties (the husky person counts shared
    words, so "thick" or "eyes" in x can tie a class whose rule has "thick grey and white
    fur"; the dogs person counts shared traits). A background rule is read apart: the
    husky person takes "in deep snow" for all of the husky's backgrounds, the dogs person
    for that place only, so inputs photographed at a background z does not name are left
    out where z has background rules."""
    from igtext.tasks import husky_world as hw
    from igtext.tasks.husky import BACKGROUNDS, husky_task
    r = Reader(load_world("dogs"))
    t = husky_task(n_train=40, n_test=40)
    places = [p for ps in BACKGROUNDS.values() for p in ps]
    same = both_decide_differ = total = 0
    for z in list(hw.SEED_HYPOTHESES) + hw.hypothesis_pool(20, seed=0):
        for e in t.train + t.test:
            if any(p in z for p in places) and not any(p in z and p in e.input for p in places):
                continue
            a = _argmax(hw.label_distribution(z, e.input))
            b = _argmax(label_distribution(r, z, e.input))
            total += 1
            same += a == b
            both_decide_differ += len(a) == len(b) == 1 and a != b
    assert both_decide_differ == 0
    assert same / total > 0.75
    for a in hw.SEED_HYPOTHESES:
        for b in hw.SEED_HYPOTHESES:
            assert (hw.prior_score(a) > hw.prior_score(b)) == (prior_score(r, a) > prior_score(r, b))


# ---- how the simulated people write hypotheses ----

def test_describe_traces_name_shared_traits_of_the_thing_in_the_inputs_words(tmp_path, capsys):
    from igtext.cli import main
    from igtext.traces import read_traces
    from igtext.worlds.writing import describe_traces
    traces = describe_traces(splits.train_worlds(), 120, seed=1)
    assert len(traces) == 120
    held = set(splits.split_domains("held_out")) | set(splits.split_domains("validation"))
    assert not {t.task.split(":", 1)[1] for t in traces} & held
    for t in traces[:40]:
        w = load_world(t.task.split(":", 1)[1])
        r = Reader(w)
        assert t.operator == "describe" and t.label in w.labels
        named = r.mentioned(t.target)
        assert named and all(c.kind == "trait" and c.label == t.label for c in named)
        shown = [r.present(e["input"]) for e in t.examples]
        for c in named:                       # each trait named is one most inputs show
            assert sum(c in s for s in shown) >= 2
        assert any(_has(p, e["input"]) for p in
                   [p for c in named for p in c.phrases if _has(p, t.target)]
                   for e in t.examples)      # in the words the inputs use
    # the search's describe operator shows as many examples as the traces do
    from igtext.config import ProposerConfig
    from igtext.worlds.writing import MOST_TRAITS, SHOWN
    assert ProposerConfig().describe_examples == SHOWN
    assert all(len(t.examples) == SHOWN for t in traces)
    named = [len(Reader(load_world(t.task.split(":", 1)[1])).mentioned(t.target))
             for t in traces]
    assert sum(k >= 3 for k in named) > 0.5 * len(traces) and max(named) <= MOST_TRAITS
    out = tmp_path / "t.jsonl"
    assert main(["traces", "worlds", "--out", str(out), "--n", "30"]) == 0
    assert len(read_traces(out)) == 30 and '"traces": 30' in capsys.readouterr().out


def test_rule_kind_says_what_z_is_about():
    from igtext.worlds.person import rule_kind
    w = load_world("dogs")
    r = Reader(w)
    assert rule_kind(r, _rules(w)) == "thing"
    assert rule_kind(r, _context_rules(w)) == "context"
    moved = derangement(w.labels, __import__("random").Random(0))
    assert rule_kind(r, _rules(w, moved)) == "wrong"
    assert rule_kind(r, _rules(w) + " " + _context_rules(w)) == "mixed"
    assert rule_kind(r, "Decide what the dog is.") == "none"
