"""Which answer a person following a prompt gives, read the way the model's server allows.

Every scorer that knows its answers (M_L over the task's labels, M_L rule by rule over the
labels and "none", the prior's Yes/No judge, the proxy annotator) asks `Question`s: a prompt
written to be continued (it ends "Answer:") and its options. `Chooser.ask` returns each
question's log-probabilities normalised over its options, by the backend's method
(`describe(lm).logprob_method`):

  exact    a local model, or a server with echo or completions top_logprobs:
           log P(" " + option | prompt), one `LogprobRequest` per option.
  chat     the prompt as one chat message with the options (template `chat_choice.j2`),
           one `choose` call per question: the first answer token's top_logprobs
           (`igtext.lm.firsttoken`). Options whose first tokens might collide (one is not a
           single token, or one starts another) are shown with keys A, B, ... and scored by
           key; more options than keys are refused (`check_options`).
  sample   the same message answered `samples` times at temperature 1 (seeded per sample
           index, so each answer is cached apart), answers matched to options
           (`match_option`), and P(option) = (count + 1) / (matched + options): add-one
           smoothing (an answer that names no option counts for none).

Open-ended tasks (no options): the exact log-probability of the gold answer, or on a chat
or sampling server the add-one smoothed share of `samples` answers that equal it after
`normalise_answer`.
"""
from __future__ import annotations

import math
import string
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from igtext.errors import InputError
from igtext.lm.base import (ChoiceRequest, GenerationRequest, LanguageModel, LogprobRequest,
                            describe)
from igtext.prompts import Template

KEYS = tuple(string.ascii_uppercase)
ANSWER_TOKENS = 16          # what a sampled answer may run to (only its first line is read)


@dataclass(frozen=True)
class Question:
    prompt: str
    options: tuple[str, ...]


def continuation(option: str) -> str:
    """How an option follows its prompt when scored exactly."""
    return " " + option.strip()


def log_normalise(scores: dict[str, float]) -> dict[str, float]:
    """Log-probabilities normalised over the keys (log-softmax)."""
    from scipy.special import logsumexp
    log_z = float(logsumexp(list(scores.values())))
    return {k: v - log_z for k, v in scores.items()}


def normalise_answer(text: str) -> str:
    """Exact match for open-ended answers ignores case, outer spaces and final punctuation."""
    return text.strip().strip(".!?,;:\"'").strip().lower()


def calls_per_question(lm: LanguageModel, n_options: int) -> int:
    """LM calls that one question with `n_options` options costs on `lm`: one per option
    (exact), one (chat) or `samples` (sample); open-ended (0 options): one, or `samples`."""
    info = describe(lm)
    if info.logprob_method == "sample" or (info.logprob_method == "chat" and not n_options):
        return info.samples
    if info.logprob_method == "chat":
        return 1
    return max(1, n_options)


def method_line(lm: LanguageModel, n_options: int) -> str:
    """How `lm` scores a question with `n_options` answers, and what it costs (run log)."""
    info = describe(lm)
    calls = calls_per_question(lm, n_options)
    if info.logprob_method == "chat" and n_options:
        how = "chat, the answer's first-token top_logprobs"
    elif not info.exact:
        how = f"sampling, {info.samples} answers at temperature 1 counted"
    elif info.logprob_method.startswith("exact"):
        how = f"{info.logprob_method} log-probabilities"
    else:
        how = f"exact log-probabilities ({info.logprob_method})"
    return f"answers scored by {how}: {calls} LM call{'s' if calls != 1 else ''} a question"


def check_options(options: Sequence[str], method: str, field: str = "labels") -> None:
    """Options every method can score: non-empty, distinct; on chat and sampling servers at
    most as many as there are option keys."""
    if any(not o.strip() for o in options):
        raise InputError("a label is empty (or only spaces): every label needs a name to be "
                         "scored by", field=field)
    folded = [o.strip().lower() for o in options]
    dup = next((o for o in options if folded.count(o.strip().lower()) > 1), None)
    if dup is not None:
        raise InputError(f"the label {dup.strip()!r} is given twice (labels are compared "
                         f"without case)", field=field)
    if method in ("chat", "sample") and len(options) > len(KEYS):
        raise InputError(f"{len(options)} answers to choose from; a chat server reads at "
                         f"most {len(KEYS)} (option keys A-Z); use a server with "
                         f"completions log-probabilities or merge labels", field=field)


class Chooser:
    """Questions asked of one LM by its method. `chat`: the chat message template (default:
    the package's `chat_choice.j2`)."""

    def __init__(self, lm: LanguageModel, chat: Template | None = None):
        self.lm, self._chat = lm, chat
        self._keyed: dict[tuple[str, ...], bool] = {}

    @property
    def method(self) -> str:
        return describe(self.lm).logprob_method

    @property
    def exact(self) -> bool:
        return describe(self.lm).exact

    @property
    def template(self) -> Template:
        if self._chat is None:
            from igtext.prompts import load_template
            self._chat = load_template("chat_choice")
        return self._chat

    # ---- closed questions ------------------------------------------------------------------
    def ask(self, questions: Sequence[Question]) -> list[dict[str, float]]:
        """Each question's options' log-probabilities, normalised over them, in one batch."""
        if not questions:
            return []
        if self.exact:
            reqs = [LogprobRequest(q.prompt, continuation(o)) for q in questions for o in q.options]
            res = iter(self.lm.logprob(reqs))
            return [log_normalise({o: next(res).total for o in q.options}) for q in questions]
        shown = [self._shown(q.options) for q in questions]
        messages = [self.messages(q.prompt, q.options, s) for q, s in zip(questions, shown)]
        if self.method == "chat":
            res = self.lm.choose([ChoiceRequest(m, s) for m, s in zip(messages, shown)])
            return [log_normalise(dict(zip(q.options, r.logprobs))) for q, r in zip(questions, res)]
        answers = self._sampled(messages)
        out = []
        for q, s, texts in zip(questions, shown, answers):
            counts = Counter(match_option(t, s) for t in texts)
            out.append(log_normalise({o: math.log(counts[i] + 1)
                                      for i, o in enumerate(q.options)}))
        return out

    def _shown(self, options: tuple[str, ...]) -> tuple[str, ...]:
        """What the answer names: the options, or keys A, B, ... where options' first tokens
        might collide (not one token each, counted as the server's tokenizer is, or one
        option the start of another)."""
        if options not in self._keyed:
            check_options(options, self.method)
            folded = [o.strip().lower() for o in options]
            single = all(n == 1 for n in self.lm.count_tokens([o.strip() for o in options]))
            prefix = any(a != b and b.startswith(a) for a in folded for b in folded)
            self._keyed[options] = not single or prefix
        return KEYS[:len(options)] if self._keyed[options] else options

    def messages(self, prompt: str, options: Sequence[str] = (),
                 shown: Sequence[str] = ()) -> tuple[tuple[str, str], ...]:
        """The chat message of a question (keys listed only where `shown` differs)."""
        keys = list(shown) if tuple(shown) != tuple(options) else []
        return (("user", self.template.render(prompt=prompt.rstrip(), options=list(options),
                                              keys=keys)),)

    def _sampled(self, messages) -> list[list[str]]:
        n = describe(self.lm).samples
        reqs = [GenerationRequest(m, max_new_tokens=ANSWER_TOKENS, temperature=1.0, top_p=1.0,
                                  sample_index=i) for m in messages for i in range(n)]
        texts = [first_line(g.text) for g in self.lm.generate(reqs)]
        return [texts[i * n:(i + 1) * n] for i in range(len(messages))]

    # ---- open-ended questions --------------------------------------------------------------
    def gold_logprobs(self, prompts: Sequence[str], golds: Sequence[str]) -> list[float]:
        """log P(gold answer | prompt): exact, or from `samples` answers (add-one smoothed
        share of the answers equal to it after `normalise_answer`)."""
        if not prompts:
            return []
        if self.exact:
            return [r.total for r in self.lm.logprob(
                [LogprobRequest(p, continuation(g)) for p, g in zip(prompts, golds)])]
        answers = self._sampled([self.messages(p) for p in prompts])
        n = describe(self.lm).samples
        return [math.log((sum(normalise_answer(a) == normalise_answer(g) for a in texts) + 1)
                         / (n + 2)) for g, texts in zip(golds, answers)]

    def answers(self, prompts: Sequence[str], max_new_tokens: int = 32) -> list[str]:
        """Greedy answers, first line only: the prompt continued, or on chat and sampling
        servers answered as a chat message."""
        if self.exact:
            reqs = [GenerationRequest(prompt=p, max_new_tokens=max_new_tokens, temperature=0.0)
                    for p in prompts]
        else:
            reqs = [GenerationRequest(self.messages(p), max_new_tokens=max_new_tokens,
                                      temperature=0.0) for p in prompts]
        return [first_line(g.text) for g in self.lm.generate(reqs)] if reqs else []


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def match_option(answer: str, shown: Sequence[str]) -> int | None:
    """Which of `shown` an answer names: equal after `normalise_answer`, else the longest
    one the answer starts with as a whole word ("B. husky" names B); None if none."""
    a = normalise_answer(answer)
    folded = [normalise_answer(s) for s in shown]
    if a in folded:
        return folded.index(a)
    starts = [(len(s), i) for i, s in enumerate(folded)
              if s and a.startswith(s) and not a[len(s):len(s) + 1].isalnum()]
    return max(starts)[1] if starts else None
