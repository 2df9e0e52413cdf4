"""Questions with known answers on every kind of backend (igtext.choice): exact, chat
first-token top_logprobs, sampling; fakes for the arithmetic (the real server's chat and
sampling paths are in test_openai_server.py)."""
import math

import pytest

from igtext.choice import (Chooser, Question, calls_per_question, check_options, match_option,
                           method_line)
from igtext.errors import InputError, UnsupportedError
from igtext.lm.base import Choice, Generation, ModelInfo
from igtext.lm.budget import Budget
from igtext.lm.cache import DiskCache, MeteredLM
from igtext.lm.firsttoken import option_logprobs


class ChatFake:
    """A chat server: `choose` answers from `tops` (the first token's top list) by the
    option set; `generate` answers the sample_index-th of `answers`; tokens are words,
    except that words in `split` count as two."""
    name, supports_logprobs = "chat-fake", False

    def __init__(self, method="chat", tops=None, answers=(), split=()):
        self.method, self.tops, self.answers, self.split = method, tops or {}, answers, split
        self.seen = []

    def describe(self):
        return ModelInfo(self.method, "words", samples=len(self.answers) or 4)

    def count_tokens(self, items):
        return [sum(2 if w in self.split else 1 for w in str(i).split()) or 1 for i in items]

    def choose(self, requests):
        self.seen += requests
        out = []
        for r in requests:
            values, bounded = option_logprobs(self.tops[r.options], r.options)
            out.append(Choice(values, bounded, 10, 1))
        return out

    def generate(self, requests):
        self.seen += requests
        return [Generation(self.answers[r.sample_index], 10, 2) for r in requests]


def test_first_token_options_by_prefix_with_a_bound_for_the_missing():
    top = [(" Hus", math.log(0.5)), ("lab", math.log(0.2)), ("husky", math.log(0.1)),
           ("L", math.log(0.05)), ("the", math.log(0.01))]
    values, bounded = option_logprobs(top, ("husky", "labrador", "poodle", "lhasa"))
    assert values[0] == pytest.approx(math.log(0.6))              # " Hus" and "husky"
    assert values[1] == pytest.approx(math.log(0.2))              # "L" starts two: counts for none
    assert values[2] == values[3] == pytest.approx(math.log(0.01))   # the k-th value: a bound
    assert bounded == 2
    keys, bounded = option_logprobs([("B.", -0.1), (" A", -2.0), ("b", -3.0)], ("A", "B", "C"))
    assert keys[1] == pytest.approx(math.log(math.exp(-0.1) + math.exp(-3.0)))
    assert bounded == 1 and keys[2] == -3.0


def test_exact_reading_is_the_normalised_continuations(scripted):
    q = Question("Instructions: blue means husky\nInput: a blue dog\nAnswer:", ("husky", "poodle"))
    (dist,) = Chooser(scripted).ask([q])
    assert dist["husky"] == pytest.approx(math.log(0.9))
    assert calls_per_question(scripted, 4) == 4


def test_chat_shows_keys_only_where_first_tokens_might_collide():
    tops = {("Yes", "No"): [("Yes", math.log(0.7)), ("No", math.log(0.2))],
            ("A", "B"): [("B", math.log(0.6)), ("A", math.log(0.3))]}
    lm = ChatFake(tops=tops, split={"labrador"})
    chooser = Chooser(lm)
    yes, keyed = chooser.ask([Question("Sensible? Answer:", ("Yes", "No")),
                              Question("Input: a dog\nAnswer:", ("husky", "labrador"))])
    assert yes["Yes"] == pytest.approx(math.log(0.7 / 0.9))
    assert keyed["labrador"] == pytest.approx(math.log(0.6 / 0.9))     # read by its key, B
    plain, with_keys = (r.messages[0][1] for r in lm.seen)
    assert "Reply with one of these only: Yes, No." in plain
    assert "A. husky\nB. labrador" in with_keys and with_keys.startswith("Input: a dog")
    assert calls_per_question(lm, 4) == 1
    # one option the start of another: keys too
    assert chooser._shown(("cat", "cats")) == ("A", "B")


def test_sampling_counts_answers_with_add_one_smoothing_and_caches_each(tmp_path):
    lm = ChatFake("sample", answers=["B", "b.", "A", "no idea", "B) labrador", "B", "C", "B"],
                  split={"labrador"})
    metered = MeteredLM(lm, DiskCache(tmp_path), Budget())
    (dist,) = Chooser(metered).ask([Question("Input: a dog\nAnswer:",
                                             ("husky", "labrador", "poodle"))])
    probs = {k: math.exp(v) for k, v in dist.items()}
    # B 5 times, A once, C once, one answer names none: (5+1, 1+1, 1+1) / 10
    assert probs == pytest.approx({"husky": 0.2, "labrador": 0.6, "poodle": 0.2})
    assert len({r.sample_index for r in lm.seen}) == 8 and all(r.temperature == 1.0
                                                                for r in lm.seen)
    assert calls_per_question(metered, 3) == 8 and metered.usage.calls == 8
    Chooser(metered).ask([Question("Input: a dog\nAnswer:", ("husky", "labrador", "poodle"))])
    assert metered.usage.cached_calls == 8 and len(lm.seen) == 8      # a re-run: no calls


def test_open_ended_on_a_sampling_server_counts_exact_matches():
    lm = ChatFake("sample", answers=["Paris.", "paris", "Lyon", "Paris is it"])
    (lp,) = Chooser(lm).gold_logprobs(["Capital of France?\nAnswer:"], ["Paris"])
    assert lp == pytest.approx(math.log(3 / 6))
    assert Chooser(lm).answers(["Capital?\nAnswer:"]) == ["Paris."]
    assert lm.seen[-1].temperature == 0.0 and lm.seen[-1].messages
    chat = ChatFake("chat", answers=["Paris", "Nice", "Nice", "Nice"])   # open-ended on chat: sampled
    assert Chooser(chat).gold_logprobs(["Q"], ["Paris"]) == [pytest.approx(math.log(2 / 6))]
    assert calls_per_question(chat, 0) == 4


def test_match_option():
    assert match_option("B. husky", ("A", "B")) == 1
    assert match_option("Bernese", ("A", "B")) is None
    assert match_option("labradors", ("lab", "labrador")) is None
    assert match_option("labrador retriever", ("lab", "labrador")) == 1


def test_options_a_chat_server_cannot_read_are_refused():
    check_options([f"label {i}" for i in range(40)], "top_logprobs")
    with pytest.raises(InputError, match="at most 26"):
        check_options([f"label {i}" for i in range(27)], "chat")
    with pytest.raises(InputError, match="empty"):
        check_options(["a", " "], "exact")
    with pytest.raises(InputError, match="twice"):
        check_options(["Cat", "cat"], "sample")


def test_a_cached_lm_without_choose_says_so(tmp_path, scripted):
    with pytest.raises(UnsupportedError, match="no chat choices"):
        MeteredLM(scripted, None, Budget()).choose([])


def test_the_run_log_line_states_the_cost_of_a_question(scripted):
    assert method_line(ChatFake("sample", answers=["a"] * 8), 4).endswith(
        "sampling, 8 answers at temperature 1 counted: 8 LM calls a question")
    assert "first-token top_logprobs: 1 LM call a question" in method_line(ChatFake(), 4)
    assert method_line(scripted, 4).endswith("log-probabilities: 4 LM calls a question")
