import math

import pytest

from igtext.data import Example
from igtext.likelihood import Likelihood
from igtext.prior import Prior, PriorWeights
from igtext.prompts import load_template

LABELS = ("husky", "labrador", "dalmatian", "poodle")
EXAMPLES = [Example("a", "A dog with pale blue eyes and thick grey fur.", "husky"),
            Example("b", "A dog with a white coat covered in black spots.", "dalmatian")]


def _check_distributions(js):
    for j in js:
        for dist in (j.raw, j.calibrated):
            assert set(dist) == set(LABELS)
            assert sum(math.exp(v) for v in dist.values()) == pytest.approx(1.0, abs=1e-6)
        assert j.gold_loglik_raw == j.raw[{"a": "husky", "b": "dalmatian"}[j.example_id]]


def test_label_distributions_tiny(tiny_lm):
    lik = Likelihood(tiny_lm, load_template("likelihood"), LABELS)
    _check_distributions(lik.judge("Name the breed.", EXAMPLES))


@pytest.mark.slow
def test_label_distributions_real_and_z_matters(real_lm):
    lik = Likelihood(real_lm, load_template("likelihood"), LABELS)
    good = "A husky has blue eyes and grey fur. A dalmatian has a white coat with black spots."
    js = lik.judge(good, EXAMPLES)
    _check_distributions(js)
    wrong = "A husky has a white coat with black spots. A dalmatian has blue eyes and grey fur."
    ll = lambda z: sum(j.gold_loglik_raw for j in lik.judge(z, EXAMPLES))  # noqa: E731
    assert ll(good) > ll(wrong)


def test_open_ended_scores_the_whole_string(tiny_lm):
    lik = Likelihood(tiny_lm, load_template("likelihood"), None)
    js = lik.judge("Copy the input.", [Example("x", "dog", "dog dog"), Example("y", "cat")])
    assert js[0].raw is None and js[0].gold_loglik_raw < 0 and js[1].gold_loglik_raw is None


def test_prior_parts_and_weights(tiny_lm):
    w = PriorWeights(judge_weight=2.0, lm_weight=0.5, token_cost=0.1)
    prior = Prior(tiny_lm, load_template("prior_judge"), load_template("prior_text"), w)
    (total, parts), = prior.score(["Name the breed of the dog."])
    assert parts["judge_logp_yes"] < 0 and parts["lm_logp"] < 0 and parts["tokens"] > 0
    assert total == pytest.approx(2.0 * parts["judge_logp_yes"] + 0.5 * parts["lm_logp"]
                                  - 0.1 * parts["tokens"])
    zero = Prior(tiny_lm, load_template("prior_judge"), load_template("prior_text"),
                 PriorWeights(0.0, 0.0, 0.0))
    assert zero.score(["x y z"]) == [(0.0, {})]
