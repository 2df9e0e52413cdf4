"""What the LoRA fits share: the adapter settings, the data hash, saving and loading."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from igtext.errors import InputError

META = "igtext_adapter.json"


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    top_layers: int | None = None     # adapt only the last N layers (None: all)
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    lr: float = 1e-3
    epochs: int = 2
    batch_size: int = 8
    max_length: int = 256
    seed: int = 0
    warmup: float = 0.0               # share of the steps with a linear warm-up of the lr
    schedule: str = "constant"        # constant | linear | cosine (decay after the warm-up)
    clip: float | None = None         # max gradient norm (None: no clipping)

    def peft_config(self, task_type: str, n_layers: int, modules_to_save=None):
        from peft import LoraConfig
        layers = None
        if self.top_layers:
            layers = list(range(max(0, n_layers - self.top_layers), n_layers))
        return LoraConfig(task_type=task_type, r=self.rank, lora_alpha=self.alpha,
                          lora_dropout=self.dropout, target_modules=list(self.targets),
                          layers_to_transform=layers, modules_to_save=modules_to_save)


def train(model, items: list, settings: LoraSettings, loss_fn, what: str,
          progress: bool) -> list[float]:
    """Minibatch AdamW over `items` for `settings.epochs`, shuffled with `settings.seed`;
    `loss_fn(batch)` gives the loss of a batch. The learning rate warms up over
    `settings.warmup` of the steps, then follows `settings.schedule`; gradients are clipped
    to norm `settings.clip`. Returns the loss of every step."""
    import random

    import torch
    rng = random.Random(settings.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lr)
    steps = settings.epochs * ((len(items) + settings.batch_size - 1) // settings.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(settings, steps))
    losses: list[float] = []
    model.train()
    with progress_bar(progress, steps, what) as tick:
        for _ in range(settings.epochs):
            order = items[:]
            rng.shuffle(order)
            for i in range(0, len(order), settings.batch_size):
                loss = loss_fn(order[i:i + settings.batch_size])
                opt.zero_grad()
                loss.backward()
                if settings.clip:
                    torch.nn.utils.clip_grad_norm_(params, settings.clip)
                opt.step()
                sched.step()
                losses.append(loss.item())
                tick(losses[-1])
    model.eval()
    return losses


def lr_factor(settings: LoraSettings, steps: int):
    """The learning-rate multiplier at each step: linear warm-up, then the schedule."""
    import math
    if settings.schedule not in ("constant", "linear", "cosine"):
        raise InputError(f"unknown learning-rate schedule {settings.schedule!r}",
                         field="schedule")
    warm = int(settings.warmup * steps)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        if settings.schedule == "constant":
            return 1.0
        done = (step - warm) / max(1, steps - warm)
        if settings.schedule == "linear":
            return max(0.0, 1.0 - done)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))
    return factor


def data_hash(records: list[dict]) -> str:
    blob = json.dumps(records, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def save_meta(out: Path, kind: str, base: str, settings: LoraSettings, records_hash: str,
              report: dict) -> None:
    meta = {"kind": kind, "base_model": base, "data_sha256": records_hash,
            "settings": asdict(settings), "report": report, "saved": time.time()}
    (out / META).write_text(json.dumps(meta, indent=2))


def read_meta(path: str | Path, kind: str) -> dict:
    p = Path(path)
    try:
        meta = json.loads((p / META).read_text())
    except FileNotFoundError:
        raise InputError(f"not an igtext {kind} adapter ({META} missing)", file=str(p)) from None
    if meta.get("kind") != kind:
        raise InputError(f"adapter is a {meta.get('kind')} adapter, not a {kind} one",
                         file=str(p))
    return meta


def adapter_hash(path: str | Path) -> str:
    """A short hash of the adapter weights (it keys the LM cache of a fine-tuned M_L)."""
    h = hashlib.sha256()
    for f in sorted(Path(path).glob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def progress_bar(enabled: bool, total: int, what: str):
    """A rich progress bar; `advance(loss)` moves it."""
    if not enabled:
        class _Null:
            def __enter__(self):
                return lambda loss: None

            def __exit__(self, *a):
                return False
        return _Null()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    class _Bar:
        def __enter__(self):
            self.p = Progress(TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("{task.description}"), TimeElapsedColumn())
            self.p.start()
            self.t = self.p.add_task("", total=total)
            return lambda loss: self.p.update(self.t, advance=1, description=f"loss {loss:.3f}")

        def __exit__(self, *a):
            self.p.stop()
            return False
    return _Bar()


def answer_loss(model, chunk, pad):
    """Mean next-token loss on the answer tokens of a batch of (context, answer) ids."""
    import torch
    width = max(len(c) + len(a) for c, a in chunk)
    ids = torch.full((len(chunk), width), pad)
    tgt = torch.full((len(chunk), width), -100)
    att = torch.zeros((len(chunk), width), dtype=torch.long)
    for b, (c, a) in enumerate(chunk):
        seq = c + a
        ids[b, :len(seq)] = torch.tensor(seq)
        att[b, :len(seq)] = 1
        tgt[b, len(c):len(seq)] = torch.tensor(a)
    return model(input_ids=ids, attention_mask=att, labels=tgt).loss
