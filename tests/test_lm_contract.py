"""One contract suite, run over every local backend: the tiny random model (fast) and the
real SmolLM2 weights (slow)."""
import math

import pytest

from igtext.lm.base import GenerationRequest, LanguageModel, LogprobRequest

BACKENDS = ["tiny_lm", pytest.param("real_lm", marks=pytest.mark.slow),
            pytest.param("gemma_lm", marks=pytest.mark.slow)]


@pytest.fixture(params=BACKENDS)
def lm(request):
    return request.getfixturevalue(request.param)


def _plain(lm, context, continuation):
    """Reference: one full forward over context + continuation, no sharing, no packing."""
    import torch
    c = lm._encode(context, True)
    y = lm._encode(continuation, False)
    with torch.no_grad():
        logits = lm.model(torch.tensor([c + y])).logits[0].float()
    lp = torch.log_softmax(logits, -1)
    return sum(lp[len(c) - 1 + i, t].item() for i, t in enumerate(y))


def test_protocol(lm):
    assert isinstance(lm, LanguageModel) and lm.supports_logprobs and lm.name


@pytest.mark.parametrize("repeat", [4, 40])     # 40: past Gemma 3's 512-token sliding window
def test_logprob_matches_full_forward(lm, repeat):
    z = "Instructions: name the breed of the dog from what it looks like. " * repeat
    reqs = [LogprobRequest(z + f"\nInput: {x}\nAnswer:", y)
            for x in ("A dog with blue eyes on snow.", "A spotted dog.", "A curly dog indoors.")
            for y in (" husky", " dalmatian", " poodle", " labrador")]
    reqs.append(LogprobRequest("Something unrelated", " Yes"))   # no shared prefix with it
    got = lm.logprob(reqs)
    for r, g in zip(reqs, got):
        assert g.total == pytest.approx(_plain(lm, r.context, r.continuation), abs=1e-4)
        assert all(v <= 0 for v in g.token_logprobs)


def test_chain_rule(lm):
    ctx = "The capital of France is Paris. The capital of Germany is"
    whole = lm.logprob([LogprobRequest(ctx, " Berlin. Yes")])[0]
    first = lm.logprob([LogprobRequest(ctx, " Berlin.")])[0]
    rest = lm.logprob([LogprobRequest(ctx + " Berlin.", " Yes")])[0]
    if len(first.token_logprobs) + len(rest.token_logprobs) != len(whole.token_logprobs):
        pytest.skip("tokenizer merges across the split point")
    assert whole.total == pytest.approx(first.total + rest.total, abs=1e-4)


def test_batching_does_not_change_numbers(lm):
    reqs = [LogprobRequest(f"Question {i}: is the sky blue? Answer:", y)
            for i in range(5) for y in (" Yes", " No")]
    together = [r.total for r in lm.logprob(reqs)]
    alone = [lm.logprob([r])[0].total for r in reqs]
    assert together == pytest.approx(alone, abs=1e-4)


def test_generate_is_seeded_and_batch_first(lm):
    reqs = [GenerationRequest((("user", "Name a dog breed."),), max_new_tokens=8,
                              temperature=0.8, sample_index=i) for i in range(2)]
    a, b = lm.generate(reqs), lm.generate(reqs)
    assert a == b and len(a) == 2
    assert all(0 <= g.completion_tokens <= 8 and g.prompt_tokens > 0 for g in a)
    assert [g.prompt_tokens for g in a] == lm.count_tokens(reqs)


def test_a_sample_does_not_depend_on_its_batch(lm):
    """Each request samples from its own seed: the same text alone, in any batch, and
    whichever of its batch-mates the cache answered (a search's z's do not depend on what
    was cached)."""
    reqs = [GenerationRequest(((("user", f"Name a dog breed, number {k}."),)), max_new_tokens=8,
                              temperature=0.8, sample_index=i) for k in range(3) for i in range(2)]
    together = lm.generate(reqs)
    assert lm.generate(reqs[3:]) == together[3:]
    assert [lm.generate([r])[0] for r in reqs[:2]] == together[:2]
    assert lm.generate(reqs[::-1]) == together[::-1]
    assert len({g.text for g in together}) > 1          # sample_index: other samples


@pytest.mark.slow
def test_real_model_knows_berlin(real_lm):
    ctx = "The capital of France is Paris. The capital of Germany is"
    good, bad = real_lm.logprob([LogprobRequest(ctx, " Berlin."), LogprobRequest(ctx, " banana.")])
    assert good.total > -1.0 and bad.total < -10
    assert math.isfinite(good.total)
