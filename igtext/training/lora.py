"""What the LoRA fits share: the adapter settings, the training loop (transformers' `Trainer`),
the data hash, saving and loading."""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from contextlib import contextmanager
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


def train(model, items: list, settings: LoraSettings, collate, what: str, progress: bool,
          loss=None) -> list[float]:
    """Minibatch AdamW over `items` for `settings.epochs` (see `lora_trainer`); returns the
    loss of every step."""
    with lora_trainer(model, items, settings, collate, what, progress, loss) as trainer:
        trainer.train()
    return trainer.losses


@contextmanager
def lora_trainer(model, items: list, settings: LoraSettings, collate, what: str, progress: bool,
                 loss=None, checkpoints: Path | None = None, on_save=None):
    """A transformers `Trainer` for minibatch AdamW over `items` for `settings.epochs`, with
    our progress bar (if `progress`) and no other output; `trainer.losses` gets the loss of
    every step it runs.

    `collate(chunk)` makes the batch of a chunk of `settings.batch_size` items (shuffled with
    `settings.seed`, `EpochShuffle`); `loss(model, batch)` is its loss (None: the model's own
    loss on the batch's `labels`). The learning rate warms up over `settings.warmup` of the
    steps, then follows `settings.schedule` (`lr_factor`); gradients are clipped to norm
    `settings.clip`. With `checkpoints`, the adapter, optimizer, schedule and RNG state are
    saved there after every epoch K as `epoch-K`, and `on_save(path, K)` adds to it;
    `trainer.train(resume_from_checkpoint=path)` continues from one. The model is left in
    eval mode."""
    import tempfile

    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    class LoraTrainer(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            return EpochShuffle(len(items), settings.seed)

        # The optimizer and the schedule's shape are ours (Trainer steps, saves and restores
        # them): AdamW with torch's defaults, and a warm-up that starts at lr / (warm-up + 1)
        # rather than at 0 as transformers' schedules do.
        def create_optimizer(self, model=None):
            if self.optimizer is None:
                self.optimizer = torch.optim.AdamW(
                    [p for p in self.model.parameters() if p.requires_grad], lr=settings.lr)
            return self.optimizer

        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                    optimizer or self.optimizer, lr_factor(settings, num_training_steps))
            return self.lr_scheduler

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if loss is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            value = loss(model, inputs)
            return (value, None) if return_outputs else value

    class Steps(TrainerCallback):
        """Each step's loss (Trainer logs every step) into `losses` and onto the bar; each
        epoch's checkpoint renamed `epoch-K` and completed by `on_save`."""

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                trainer.losses.append(logs["loss"])
                bar(state.global_step, logs["loss"])

        def on_save(self, args, state, control, **kw):
            epoch = round(state.epoch)
            path = Path(args.output_dir) / f"epoch-{epoch}"
            shutil.rmtree(path, ignore_errors=True)
            (Path(args.output_dir) / f"checkpoint-{state.global_step}").rename(path)
            if on_save:
                on_save(path, epoch)

    steps = settings.epochs * ((len(items) + settings.batch_size - 1) // settings.batch_size)
    with tempfile.TemporaryDirectory() as scratch, progress_bar(progress, steps, what) as bar:
        args = TrainingArguments(
            output_dir=str(checkpoints or scratch), num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size, per_device_eval_batch_size=8,
            max_grad_norm=settings.clip or 0.0, seed=settings.seed, use_cpu=True,
            save_strategy="epoch" if checkpoints else "no", logging_strategy="steps",
            logging_steps=1, logging_nan_inf_filter=False, report_to="none",
            disable_tqdm=True, dataloader_pin_memory=False, remove_unused_columns=False,
            prediction_loss_only=True)
        trainer = LoraTrainer(model=model, args=args, data_collator=collate,
                              train_dataset=items, callbacks=[Steps()])
        trainer.losses = []
        trainer.remove_callback(PrinterCallback)           # the bar is ours; no console logs
        try:
            yield trainer
        finally:
            model.eval()


class EpochShuffle:
    """Epoch e's order of n items: the (e + 1)-th shuffle of `random.Random(seed)`, as the
    hand-written loop had it; `set_epoch` (Trainer calls it) makes a resumed fit see the same
    orders as one that ran through."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        import random
        rng = random.Random(self.seed)
        for _ in range(self.epoch + 1):
            order = list(range(self.n))
            rng.shuffle(order)
        return iter(order)


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


def read_meta(path: str | Path, kind: str, field: str | None = None) -> dict:
    """The adapter's metadata, after checking it is an igtext `kind` adapter (an error names
    `field`, the setting that named the adapter, if given)."""
    p = Path(path)
    try:
        meta = json.loads((p / META).read_text())
    except FileNotFoundError:
        raise InputError(f"not an igtext {kind} adapter ({META} missing)", file=str(p),
                         field=field) from None
    if meta.get("kind") != kind:
        raise InputError(f"adapter is a {meta.get('kind')} adapter, not a {kind} one",
                         file=str(p), field=field)
    return meta


def adapter_hash(path: str | Path) -> str:
    """A short hash of the adapter weights (it keys the LM cache of a fine-tuned M_L)."""
    h = hashlib.sha256()
    for f in sorted(Path(path).glob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def progress_bar(enabled: bool, total: int, what: str):
    """A rich progress bar; `bar(done, loss)` moves it to `done` steps."""
    if not enabled:
        class _Null:
            def __enter__(self):
                return lambda done, loss: None

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
            return lambda done, loss: self.p.update(self.t, completed=done,
                                                    description=f"loss {loss:.3f}")

        def __exit__(self, *a):
            self.p.stop()
            return False
    return _Bar()


def pad_answers(chunk, pad) -> dict:
    """A batch of (context, answer) ids, right-padded, with `labels` on the answer tokens
    only (the loss of `igtext train-proposer` and of open-ended M_L fits)."""
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
    return {"input_ids": ids, "attention_mask": att, "labels": tgt}


def ship(src: str | Path, dst: str | Path) -> dict:
    """Copy the fitted adapter `src` to `dst` as it ships in the package: its weights cast to
    float16 (half the size; scores differ from the float32 fit's by rounding only) and
    `shipped_as` added to its metadata. Returns the metadata."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file
    src, dst = Path(src), Path(dst)
    meta = json.loads((src / META).read_text())
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(   # weights cast below; no model card
        "adapter_model.safetensors", "README.md", "checkpoint-*", "checkpoints"))
    weights = load_file(str(src / "adapter_model.safetensors"))
    save_file({k: v.to(torch.float16) if v.is_floating_point() else v
               for k, v in weights.items()}, str(dst / "adapter_model.safetensors"))
    meta["shipped_as"] = "float16 weights (igtext/adapters, from a float32 fit)"
    (dst / META).write_text(json.dumps(meta, indent=2))
    return meta
