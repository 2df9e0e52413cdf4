"""A local transformers backend with exact log-probabilities and shared-prefix scoring.

`logprob` is where M_L spends its time, so it does three things a plain loop does not:
1. the longest token prefix shared by all contexts in the batch (the z part of the M_L
   prompt) is run once and its key/value cache reused by every row;
2. all continuations of one context (the label set) are packed into one row with a
   tree-shaped attention mask, so the example text is run once, not once per label;
3. the vocabulary projection runs only at the positions whose log-probability is read.
The numbers equal a plain full forward per request (tested to 1e-4). Points 2 and 3 are
`packed_logprobs`, which M_L's fine-tuning (`igtext.training.likelihood_ft`) trains through,
so a fitted M_L is trained on exactly the numbers it is scored with.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from igtext.errors import ModelError
from igtext.lm.base import Generation, GenerationRequest, Logprob, LogprobRequest


@dataclass(frozen=True)
class _Row:
    context: tuple[int, ...]                 # full context ids
    conts: tuple[tuple[int, ...], ...]       # unique continuations of this context


def chat_prompt_ids(tok, messages) -> list[int]:
    """Token ids of a chat prompt ((role, content), ...) ready for the assistant's turn: the
    tokenizer's chat template where it has one, else the contents joined by blank lines.
    Generation and proposer fine-tuning both use this, so they see the same prompt."""
    msgs = [{"role": r, "content": c} for r, c in messages]
    if getattr(tok, "chat_template", None):
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return list(tok(text, add_special_tokens=False).input_ids)
    return list(tok("\n\n".join(c for _, c in messages) + "\n\n",
                    add_special_tokens=True).input_ids)


class RowSampler:
    """A transformers logits processor that samples each row (temperature, then nucleus
    top_p) with that row's own generator and leaves only the sampled token finite, so that
    greedy decoding emits it."""

    def __init__(self, torch, seeds: Sequence[int], temperature: float, top_p: float):
        self.torch = torch
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids, scores):
        torch = self.torch
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        p, order = probs.sort(dim=-1, descending=True)
        p[(p.cumsum(-1) - p) >= self.top_p] = 0       # outside the nucleus (the first stays)
        picked = torch.stack([order[j, torch.multinomial(p[j], 1, generator=g)]
                              for j, g in enumerate(self.generators)])
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, picked, 0.0)


class TransformersLM:
    """A causal LM from a local directory (or an already-loaded model and tokenizer)."""

    supports_logprobs = True

    def __init__(self, model, tokenizer, name: str, *, share_prefix: bool = True,
                 max_batch_tokens: int = 2048, max_batch_rows: int = 8,
                 min_shared_prefix: int = 8):
        import torch

        self.torch = torch
        self.model = model.eval()
        self.tok = tokenizer
        self.name = name
        self.share_prefix = share_prefix
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_rows = max_batch_rows
        self.min_shared_prefix = min_shared_prefix
        self.tokens_processed = 0      # tokens run through the network (pads excluded)
        self.max_positions = getattr(_text_config(model), "max_position_embeddings", None)
        self.sliding_window, self.softcap = attention_limits(model)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (
            tokenizer.eos_token_id or 0)

    @classmethod
    def from_dir(cls, path: str | Path, name: str | None = None, **kw) -> "TransformersLM":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").exists():
            raise ModelError(f"{path}: not a transformers model directory (no config.json)")
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        return cls(model, tok, name or f"hf:{path.resolve()}", **kw)

    # ---- tokens -----------------------------------------------------------------------
    def _encode(self, text: str, special: bool) -> list[int]:
        return list(self.tok(text, add_special_tokens=special).input_ids)

    def _chat_ids(self, messages) -> list[int]:
        return chat_prompt_ids(self.tok, messages)

    def _prompt_ids(self, r: GenerationRequest) -> list[int]:
        return self._encode(r.prompt, True) if r.prompt is not None else self._chat_ids(r.messages)

    def count_tokens(self, items) -> list[int]:
        out = []
        for it in items:
            if isinstance(it, GenerationRequest):
                out.append(len(self._prompt_ids(it)))
            elif isinstance(it, LogprobRequest):
                out.append(len(self._encode(it.context, True)) +
                           len(self._encode(it.continuation, False)))
            else:
                out.append(len(self._encode(str(it), False)))
        return out

    # ---- generation -------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        torch = self.torch
        out: list[Generation | None] = [None] * len(requests)
        # Requests with the same sampling parameters go through `generate` together.
        groups: OrderedDict[tuple, list[int]] = OrderedDict()
        for i, r in enumerate(requests):
            groups.setdefault((r.max_new_tokens, r.temperature, r.top_p), []).append(i)
        for (max_new, temp, top_p), idx in groups.items():
            for start in range(0, len(idx), 8):
                part = idx[start:start + 8]
                ids = [self._prompt_ids(requests[i]) for i in part]
                width = max(map(len, ids))
                inp = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
                att = torch.zeros((len(ids), width), dtype=torch.long)
                for j, seq in enumerate(ids):            # left padding for generation
                    inp[j, width - len(seq):] = torch.tensor(seq)
                    att[j, width - len(seq):] = 1
                # Greedy decoding over logits that RowSampler has reduced to one sampled token
                # per row: each request samples from its own seed, so its text does not
                # depend on the other requests in the batch (nor on which of them the cache
                # answered). Temperature 0 is plain greedy.
                kw = dict(logits_processor=[RowSampler(
                    torch, [requests[i].seed() for i in part], temp, top_p)]) \
                    if temp > 0 else {}
                with torch.no_grad():
                    gen = self.model.generate(input_ids=inp, attention_mask=att,
                                              max_new_tokens=max_new, pad_token_id=self.pad_id,
                                              do_sample=False, **kw)
                for j, i in enumerate(part):
                    new = gen[j, width:].tolist()
                    if self.tok.eos_token_id in new:
                        new = new[:new.index(self.tok.eos_token_id)]
                    while new and new[-1] == self.pad_id:
                        new.pop()
                    text = self.tok.decode(new, skip_special_tokens=True)
                    out[i] = Generation(text=text, prompt_tokens=len(ids[j]),
                                        completion_tokens=len(new))
        return out  # type: ignore[return-value]

    # ---- log-probabilities ------------------------------------------------------------
    def logprob(self, requests: Sequence[LogprobRequest]) -> list[Logprob]:
        if not requests:
            return []
        ctx_cache: dict[str, tuple[int, ...]] = {}
        cont_cache: dict[str, tuple[int, ...]] = {}
        rows: OrderedDict[tuple[int, ...], list[tuple[int, ...]]] = OrderedDict()
        keyed = []
        for r in requests:
            c = ctx_cache.setdefault(r.context, tuple(self._encode(r.context, True)))
            y = cont_cache.setdefault(r.continuation, tuple(self._encode(r.continuation, False)))
            if not c or not y:
                raise ModelError("log-probability needs a non-empty context and continuation")
            if self.max_positions and len(c) + len(y) > self.max_positions:
                raise ModelError(f"context and continuation are {len(c) + len(y)} tokens, "
                                 f"longer than {self.name}'s {self.max_positions}")
            conts = rows.setdefault(c, [])
            if y not in conts:
                conts.append(y)
            keyed.append((c, y))
        packed = [_Row(c, tuple(ys)) for c, ys in rows.items()]
        shared = self._shared_prefix([r.context for r in packed]) if self.share_prefix else 0
        scores: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[float, ...]] = {}
        with self.torch.inference_mode():
            prefix_cache = self._run_prefix(packed[0].context[:shared]) if shared else None
            # Similar lengths share a batch, so little compute goes to padding.
            by_len = sorted(packed, key=lambda r: self._row_len(r, shared))
            for chunk in self._chunks(by_len, shared):
                scores.update(self._score_rows(chunk, shared, prefix_cache))
        return [Logprob(scores[(c, y)], len(c)) for c, y in keyed]

    def _shared_prefix(self, contexts: list[tuple[int, ...]]) -> int:
        return shared_prefix_length(contexts, self.min_shared_prefix, self.sliding_window)

    def _row_len(self, row: _Row, shared: int) -> int:
        return len(row.context) - shared + sum(len(y) - 1 for y in row.conts)

    def _chunks(self, packed: list[_Row], shared: int):
        chunk: list[_Row] = []
        longest = 0
        for row in packed:
            n = self._row_len(row, shared)
            if chunk and (len(chunk) + 1 > self.max_batch_rows or
                          (len(chunk) + 1) * max(longest, n) > self.max_batch_tokens):
                yield chunk
                chunk, longest = [], 0
            chunk.append(row)
            longest = max(longest, n)
        if chunk:
            yield chunk

    def _run_prefix(self, ids: tuple[int, ...]):
        self.tokens_processed += len(ids)
        return run_prefix(self.model, ids)

    def _score_rows(self, chunk: list[_Row], shared: int, prefix_cache):
        """One forward over a batch of packed rows; returns {(context, cont): logprobs}."""
        self.tokens_processed += sum(self._row_len(r, shared) for r in chunk)
        got = packed_logprobs(self.model, [(r.context[shared:], r.conts) for r in chunk],
                              shared, prefix_cache, self.pad_id)
        return {(r.context, y): tuple(t.tolist())
                for r, row in zip(chunk, got) for y, t in zip(r.conts, row)}


# ---- packed scoring: the backend's `logprob` and M_L's fine-tuning both use it ----------
def _text_config(model):
    cfg = getattr(model, "config", None)
    return getattr(cfg, "text_config", None) or cfg


def attention_limits(model) -> tuple[int | None, float | None]:
    """(sliding window, final logit softcap) of the model, None where it has none. Models with
    sliding-window layers (Gemma 3) get a second mask for those layers."""
    cfg = _text_config(model)
    layer_types = set(getattr(cfg, "layer_types", None) or [])
    window = getattr(cfg, "sliding_window", None) if "sliding_attention" in layer_types else None
    return window, getattr(cfg, "final_logit_softcapping", None)


def shared_prefix_length(contexts: Sequence[Sequence[int]], minimum: int = 1,
                         sliding_window: int | None = None) -> int:
    """How many leading tokens all `contexts` share, leaving every context at least one of
    its own; 0 if that is fewer than `minimum`."""
    first = contexts[0]
    n = min(len(c) for c in contexts) - 1      # every row keeps >= 1 context token
    for c in contexts[1:]:
        k = 0
        while k < n and c[k] == first[k]:
            k += 1
        n = k
    if sliding_window:     # a sliding-window cache keeps only window-1 prefix tokens
        n = min(n, sliding_window - 1)
    return n if n >= minimum else 0


def run_prefix(model, ids: Sequence[int]):
    """The key/value cache of one forward over `ids` (a shared prefix), for `packed_logprobs`."""
    import torch
    out = model(input_ids=torch.tensor([list(ids)]), use_cache=True)
    return getattr(out, "cache", None) or out.past_key_values


def _expand_cache(prefix_cache, batch: int):
    """The prefix cache broadcast to `batch` rows without copying it first."""
    layers = getattr(prefix_cache, "layers", None)
    if not layers or not all(hasattr(la, "keys") for la in layers):
        cache = copy.deepcopy(prefix_cache)
        cache.batch_repeat_interleave(batch)
        return cache
    cache = copy.copy(prefix_cache)
    cache.layers = []
    for layer in layers:
        new = copy.copy(layer)
        new.keys = layer.keys.expand(batch, -1, -1, -1)
        new.values = layer.values.expand(batch, -1, -1, -1)
        cache.layers.append(new)
    return cache


def packed_logprobs(model, rows: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]],
                    shared: int = 0, prefix_cache=None, pad_id: int = 0) -> list[list]:
    """The log-probability of every token of several continuations of several contexts, in
    one forward pass.

    `rows` holds (context ids after the `shared` prefix, continuations) per context. Each
    row runs its context once with all its continuations packed behind it in a tree-shaped
    attention mask (a continuation sees the context and itself, not the other
    continuations); `prefix_cache` (`run_prefix` of the `shared` tokens every context starts
    with) is broadcast to all rows; the vocabulary projection runs only where a token is
    read. Returns, per row and continuation, a 1-D tensor of its tokens' log-probabilities:
    equal to a plain forward per (context, continuation), and differentiable, so the same
    numbers are scored in search and trained on (`likelihood_ft`). `model` is a causal LM
    (`get_decoder`, `get_output_embeddings`).

    >>> (yes, no), = packed_logprobs(model, [(ids, [yes_ids, no_ids])])   # doctest: +SKIP
    """
    import torch

    window, softcap = attention_limits(model)
    lens = [len(ctx) + sum(len(y) - 1 for y in conts) for ctx, conts in rows]
    width, batch = max(lens), len(rows)
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    pos = torch.zeros((batch, width), dtype=torch.long)
    # mask[b, 0, q, k]: query q may attend to key k (keys: shared prefix, then the row)
    mask = torch.zeros((batch, 1, width, shared + width), dtype=torch.bool)
    mask[:, :, :, :shared] = True
    flat_b, flat_q, flat_t, sizes = [], [], [], []
    for b, (ctx, conts) in enumerate(rows):
        m = len(ctx)
        toks = list(ctx)
        positions = list(range(shared, shared + m))
        mask[b, 0, :m, shared:shared + m] = torch.tril(torch.ones((m, m), dtype=torch.bool))
        for y in conts:
            start = len(toks)
            body = list(y[:-1])
            toks += body
            positions += list(range(shared + m, shared + m + len(body)))
            k = len(body)
            if k:
                mask[b, 0, start:start + k, shared:shared + m] = True
                mask[b, 0, start:start + k, shared + start:shared + start + k] = \
                    torch.tril(torch.ones((k, k), dtype=torch.bool))
            # the position in the row whose output predicts y[j]
            for q, t in [(m - 1, y[0])] + [(start + j - 1, y[j]) for j in range(1, len(y))]:
                flat_b.append(b)
                flat_q.append(q)
                flat_t.append(t)
            sizes.append(len(y))
        n = len(toks)
        ids[b, :n] = torch.tensor(toks)
        pos[b, :n] = torch.tensor(positions)
        for q in range(n, width):                 # padding attends to itself only
            mask[b, 0, q, shared + q] = True
    cache = _expand_cache(prefix_cache, batch) if prefix_cache is not None else None
    attn = mask
    if window:
        key_pos = torch.cat([torch.arange(shared).expand(batch, -1), pos], dim=1)
        near = (pos[:, :, None] - key_pos[:, None, :]) < window
        attn = {"full_attention": mask, "sliding_attention": mask & near[:, None]}
    hidden = model.get_decoder()(input_ids=ids, position_ids=pos, attention_mask=attn,
                                 cache=cache, use_cache=cache is not None).last_hidden_state
    h = hidden[torch.tensor(flat_b), torch.tensor(flat_q)]
    logits = model.get_output_embeddings()(h).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    logp = torch.log_softmax(logits, dim=-1)
    pieces = iter(logp[torch.arange(len(flat_t)), torch.tensor(flat_t)].split(sizes))
    return [[next(pieces) for _ in conts] for _, conts in rows]
