import random

import pytest

from igtext.errors import BudgetExceeded
from igtext.lm.base import GenerationRequest, LogprobRequest
from igtext.lm.budget import Budget, Usage
from igtext.lm.cache import DiskCache, MeteredLM

from conftest import scripted_lm


def _req(i, **kw):
    return GenerationRequest(messages=(("user", f"write rule {i}"),), **kw)


def test_cache_hits_and_key_covers_sampling(tmp_path):
    inner = scripted_lm()
    lm = MeteredLM(inner, DiskCache(tmp_path), Budget())
    a = lm.generate([_req(1), _req(2)])
    assert inner.calls == 2 and lm.usage.cached_calls == 0
    b = lm.generate([_req(1), _req(2)])
    assert a == b and inner.calls == 2 and lm.usage.cached_calls == 2
    lm.generate([_req(1, sample_index=1), _req(1, temperature=0.3), _req(1, top_p=0.5)])
    assert inner.calls == 5
    other = MeteredLM(scripted_lm(name="other-model"), DiskCache(tmp_path), Budget())
    other.generate([_req(1)])
    assert other.usage.cached_calls == 0
    lm.logprob([LogprobRequest("ctx", " a")])
    lm.logprob([LogprobRequest("ctx", " a")])
    assert lm.usage.cached_calls == 3


def test_budget_is_checked_before_sending(tmp_path):
    inner = scripted_lm()
    lm = MeteredLM(inner, DiskCache(tmp_path), Budget(max_calls=3))
    lm.generate([_req(1), _req(2)])
    with pytest.raises(BudgetExceeded):
        lm.generate([_req(3), _req(4)])
    assert inner.calls == 2 and lm.usage.calls == 2


def test_budget_never_exceeded_under_random_batches(tmp_path):
    rng = random.Random(0)
    for trial in range(20):
        cap_calls, cap_tokens = rng.randint(1, 40), rng.randint(20, 400)
        lm = MeteredLM(scripted_lm(), None, Budget(cap_calls, cap_tokens))
        for _ in range(30):
            n = rng.randint(1, 6)
            try:
                if rng.random() < 0.5:
                    lm.generate([_req(rng.random(), max_new_tokens=rng.randint(1, 20))
                                 for _ in range(n)])
                else:
                    lm.logprob([LogprobRequest("some context words", " x y") for _ in range(n)])
            except BudgetExceeded:
                pass
            assert lm.usage.calls <= cap_calls and lm.usage.tokens <= cap_tokens


def test_cache_survives_reopen(tmp_path):
    lm = MeteredLM(scripted_lm(), DiskCache(tmp_path), Budget())
    lm.generate([_req(9)])
    lm.cache.close()
    again = MeteredLM(scripted_lm(), DiskCache(tmp_path), Budget(), Usage())
    again.generate([_req(9)])
    assert again.usage.cached_calls == 1
