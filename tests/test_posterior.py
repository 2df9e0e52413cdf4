"""The posterior over z's: on a world small enough to enumerate every hypothesis, the
mixture of igtext's scored z's weighted by exp(objective) is the exact Bayesian posterior
predictive (prior = -KL(delta_z || p_ref), exact likelihood); fewer z's and abstention."""
import math
import re

import pytest

from igtext.data import Example, Hypothesis
from igtext.likelihood import Likelihood
from igtext.lm.scripted import ScriptedLM
from igtext.objective import Scorer
from igtext.posterior import Posterior, ReferencePrior, coverage_accuracy, mix
from igtext.prompts import load_template

COLOURS, SHAPES, LABELS, FOLLOW = ("red", "blue", "green"), ("circle", "square"), ("A", "B"), 0.85
RULES = ([(f"Say A when the colour is {c}, otherwise B.", lambda x, c=c: c in x) for c in COLOURS]
         + [(f"Say A when the shape is {s}, otherwise B.", lambda x, s=s: s in x) for s in SHAPES]
         + [("Always say A.", lambda x: True), ("Always say B.", lambda x: False)])
RULE = dict(RULES)
P_REF = {z: math.exp(-0.2 * len(z.split())) for z, _ in RULES}      # simpler z's more likely
INPUTS = [f"a {c} {s}" for c in COLOURS for s in SHAPES]


def p_label(z: str, x: str, y: str) -> float:
    says = "A" if RULE[z](x) else "B"
    return FOLLOW if y == says else 1 - FOLLOW


def world_lm() -> ScriptedLM:
    def logprob(context: str, continuation: str) -> float:
        z = re.search(r"Instructions:\n(.*?)\n", context).group(1)
        x = re.search(r"Input: (.*?)\nAnswer:", context).group(1)
        return math.log(p_label(z, x, continuation.strip()))
    return ScriptedLM(lambda r: "", logprob, name="world")


D = [Example(f"d{i}", x, y) for i, (x, y) in enumerate(
    [("a red circle", "A"), ("a red square", "A"), ("a blue circle", "B"),
     ("a green square", "B"), ("a blue square", "B"), ("a green circle", "A")])]   # one noisy
D_PRIME = [Example(f"q{i}", x, "A" if "red" in x else "B") for i, x in enumerate(INPUTS)]


def exact_predictive() -> dict[str, dict[str, float]]:
    """Bayes' rule by brute force, independently of igtext."""
    joint = {z: P_REF[z] / sum(P_REF.values()) * math.prod(p_label(z, e.input, e.label)
                                                          for e in D) for z in RULE}
    evidence = sum(joint.values())
    post = {z: j / evidence for z, j in joint.items()}
    return {e.id: {y: sum(post[z] * p_label(z, e.input, y) for z in RULE) for y in LABELS}
            for e in D_PRIME}


@pytest.fixture
def scored():
    lik = Likelihood(world_lm(), load_template("likelihood"), LABELS)
    scorer = Scorer(lik, ReferencePrior(P_REF), D, len(D), 1.0, False)
    return lik, scorer.score([Hypothesis(z) for z in RULE])


def test_mixture_of_all_z_is_the_exact_posterior_predictive(scored):
    lik, hyps = scored
    post = Posterior.from_scored(hyps)
    assert len(post.texts) == len(RULES) and sum(post.weights) == pytest.approx(1)
    exact = exact_predictive()
    preds = post.predict(lik, D_PRIME)
    for p in preds:
        for y in LABELS:
            assert p.probs[y] == pytest.approx(exact[p.example_id][y], abs=1e-9)
    # the MAP z is the colour rule the data came from, but not with certainty
    assert post.texts[0] == "Say A when the colour is red, otherwise B."
    assert 0.3 < post.weights[0] < 0.99


def test_top_k_mixture_flags_and_abstains(scored):
    lik, hyps = scored
    exact = exact_predictive()
    errors = []
    for k in (1, 2, 4, len(RULES)):
        preds = Posterior.from_scored(hyps, k=k).predict(lik, D_PRIME)
        errors.append(max(abs(p.probs["A"] - exact[p.example_id]["A"]) for p in preds))
    assert errors[-1] < 1e-9                       # every z: the exact posterior predictive
    assert errors[0] > 0.05 and errors == sorted(errors, reverse=True)   # more z's: closer
    post = Posterior.from_scored(hyps, k=3)
    preds = post.predict(lik, D_PRIME, abstain_below=0.9)
    report = coverage_accuracy(preds, D_PRIME)
    assert report["flagged"] > 0 and 0 < report["coverage"] < 1
    assert all((p.label is None) == (p.agreement < 0.9) for p in preds)
    full = coverage_accuracy(post.predict(lik, D_PRIME), D_PRIME)
    assert full["coverage"] == 1 and full["accuracy_all"] == full["accuracy_answered"] \
        == full["accuracy_predictive"]
    assert report["accuracy_predictive"] >= report["accuracy_all"]   # abstaining counts wrong


def test_leaving_out_light_z_moves_the_mixture_by_less_than_their_weight(scored):
    lik, hyps = scored
    full = Posterior.from_scored(hyps)
    pruned = Posterior.from_objectives([(s.id, s.hypothesis.text, s.objective) for s in hyps],
                                       min_weight=0.01)
    dropped = [w for w in full.weights if w < 0.01]
    assert len(dropped) == 2 and len(pruned.texts) == len(full.texts) - 2
    assert sum(pruned.weights) == pytest.approx(1)
    assert pruned.weights[0] == pytest.approx(full.weights[0] / (1 - sum(dropped)))
    tie = Posterior.from_objectives([("a", "A.", -1.0), ("b", "B.", -1.0)], min_weight=0.9)
    assert tie.ids == ("a",) and tie.weights == (1.0,)      # the best z always stays
    exact = {p.example_id: p.probs for p in full.predict(lik, D_PRIME)}
    for p in pruned.predict(lik, D_PRIME):
        assert abs(p.probs["A"] - exact[p.example_id]["A"]) <= 2 * sum(dropped)


def test_mix_by_hand():
    p = mix("x", [{"A": 0.9, "B": 0.1}, {"A": 0.2, "B": 0.8}], [0.75, 0.25], abstain_below=0.8)
    assert p.probs["A"] == pytest.approx(0.725) and p.agreement == 0.75
    assert p.label is None and p.disagree
    with pytest.raises(ValueError):
        Posterior.from_objectives([])


def test_label_cli_with_a_mixture(tmp_path, tiny_dir, capsys):
    import json

    import igtext
    from conftest import toy_task
    from igtext.cli import main
    config = igtext.RunConfig.model_validate({
        "model": f"hf:{tiny_dir}", "search": {"generations": 1, "population": 3,
                                                     "offspring": 2, "elite": 1},
        "likelihood": {"search_examples": 4}, "proposer": {"max_new_tokens": 16}})
    task = toy_task()
    seeds = ["Blue means husky.", "Curly fur means poodle.", "Spots mean dalmatian."]
    config = config.with_overrides(**{"search.seeds": seeds})
    igtext.search(task, config=config, out_dir=tmp_path / "run", cache_dir=tmp_path / "c")
    out = tmp_path / "mix.jsonl"
    assert main(["label", str(tmp_path / "run"), "--mixture", "3", "--abstain-below", "0.99",
                 "--out", str(out), "--cache-dir", str(tmp_path / "c")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["hypotheses"] == 3 and sum(rep["weights"].values()) == pytest.approx(1)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(task.test) == rep["n"]
    assert rep["coverage"] == sum(r["label"] is not None for r in rows) / len(rows)
    assert all(sum(r["probs"].values()) == pytest.approx(1) for r in rows)
    # --min-weight leaves out the z's lighter than it, the rest weighed again
    light = min(rep["weights"].values())
    assert main(["label", str(tmp_path / "run"), "--mixture", "3", "--min-weight",
                 str(light * 1.0001), "--out", str(out), "--cache-dir", str(tmp_path / "c")]) == 0
    pruned = json.loads(capsys.readouterr().out)
    assert set(pruned["weights"]) == {i for i, w in rep["weights"].items() if w > light}
    assert sum(pruned["weights"].values()) == pytest.approx(1)
    assert main(["label", str(tmp_path / "run"), "--mixture", "-1", "--out", str(out)]) == 2
    assert main(["label", str(tmp_path / "run"), "--mixture", "3", "--min-weight", "1",
                 "--out", str(out)]) == 2
