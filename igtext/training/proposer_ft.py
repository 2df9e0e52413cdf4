"""A proposal model that writes hypotheses the way people do: LoRA supervised fine-tuning
on hypothesis-writing traces (`igtext.traces`).

Each trace becomes the proposer's own chat prompt for its operator (rendered from the same
`igtext/templates/propose_*.j2` templates the search uses, so the adapter is trained on exactly the
prompts it will see) followed by what the person wrote and the end-of-turn token; the loss
is on those answer tokens only. The adapter, with the optimizer, schedule and RNG state,
is saved after every epoch under `OUT/checkpoints/epoch-K` (`resume=True` continues from the
latest one exactly where it stopped) and at the end in
`OUT`, with `igtext_adapter.json` recording the base model, the settings, the sha256 of the
training traces and the held-out report.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Mapping, Sequence

from igtext.errors import InputError
from igtext.prompts import Template, load_template
from igtext.traces import Trace
from igtext.training.lora import (LoraSettings, data_hash, lora_trainer, pad_answers, read_meta,
                                  save_meta)

KIND = "proposer"


def _templates(templates: Mapping[str, Template] | None) -> dict[str, Template]:
    return {op: (templates or {}).get(op) or load_template(op)
            for op in ("initial", "refine", "describe")}


def encode(tok, trace: Trace, templates: Mapping[str, Template]) -> tuple[list[int], list[int]]:
    """(prompt ids, answer ids) of a trace, as the proposer would prompt the model."""
    from igtext.lm.hf import chat_prompt_ids
    prompt = templates[trace.operator].render(**trace.template_vars())
    ctx = chat_prompt_ids(tok, (("user", prompt),))
    ans = list(tok(trace.target, add_special_tokens=False).input_ids)
    if tok.eos_token_id is not None:
        ans.append(tok.eos_token_id)
    return ctx, ans


def _encode_all(tok, traces: Sequence[Trace], templates, max_length: int,
                source: str) -> list[tuple[list[int], list[int]]]:
    out = []
    for t in traces:
        ctx, ans = encode(tok, t, templates)
        if len(ctx) + len(ans) > max_length:
            raise InputError(f"trace is {len(ctx) + len(ans)} tokens, more than max_length "
                             f"{max_length} (raise max_length up to the model's context, or "
                             f"show fewer examples)", file=source, line=t.line or None)
        out.append((ctx, ans))
    return out


def _latest_checkpoint(out: Path) -> tuple[int, Path | None]:
    found = sorted(((int(p.name.split("-")[1]), p) for p in (out / "checkpoints").glob("epoch-*")
                    if p.name.split("-")[1].isdigit()), key=lambda x: x[0])
    return found[-1] if found else (0, None)


def fit_proposer(traces: Sequence[Trace], base_dir: str | Path, out: str | Path,
                 settings: LoraSettings = LoraSettings(), heldout: Sequence[Trace] = (),
                 templates: Mapping[str, Template] | None = None, base_name: str = "",
                 source: str = "traces", resume: bool = False, progress: bool = True) -> dict:
    """Fine-tune the proposal model on `traces`; report the held-out answer loss of the base
    and the tuned model."""
    import time

    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not traces:
        raise InputError("no traces to train on", file=source)
    templates = _templates(templates)
    out = Path(out)
    t0, w0 = time.process_time(), time.perf_counter()
    torch.manual_seed(settings.seed)
    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    context = getattr(model.config, "max_position_embeddings", None)
    if context and settings.max_length > context:
        raise InputError(f"max_length {settings.max_length} is more than the model's context "
                         f"({context})", field="max_length")
    seqs = _encode_all(tok, traces, templates, settings.max_length, source)
    held = _encode_all(tok, heldout, templates, settings.max_length, source)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    report: dict = {"train_traces": len(seqs), "heldout_traces": len(held)}
    if not resume:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)   # stale ones of another fit
    done, ckpt = _latest_checkpoint(out) if resume else (0, None)
    records = [t.to_dict() for t in traces]
    base = base_name or str(base_dir)
    if ckpt is not None:
        meta = read_meta(ckpt, KIND)
        same = {"base model": (meta["base_model"], base),
                "traces (sha256)": (meta["data_sha256"], data_hash(records)),
                "settings": ({k: v for k, v in meta["settings"].items() if k != "epochs"},
                             {k: v for k, v in json.loads(json.dumps(asdict(settings))).items()
                              if k != "epochs"})}
        for what, (was, now) in same.items():
            if was != now:
                raise InputError(f"cannot resume: the checkpoint's {what} differ from this "
                                 f"run's (start again without --resume)", file=str(ckpt))
        if not (ckpt / "trainer_state.json").exists():
            raise InputError("cannot resume: the checkpoint has no optimizer state (an older "
                             "igtext saved it; start again without --resume)", file=str(ckpt))
    # On resume, Trainer loads the checkpoint's adapter, optimizer, schedule and RNG state.
    model = get_peft_model(model, settings.peft_config("CAUSAL_LM",
                                                       model.config.num_hidden_layers))

    def saved(path: Path, epoch: int) -> None:
        save_meta(path, KIND, base, settings, data_hash(records), {"epoch": epoch})
    with lora_trainer(model, seqs, settings, lambda chunk: pad_answers(chunk, pad),
                      "train proposer", progress, checkpoints=out / "checkpoints",
                      on_save=saved) as trainer:
        if held:
            with model.disable_adapter():
                report["heldout_loss_base"] = trainer.evaluate(held)["eval_loss"]
        trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
        if held:
            report["heldout_loss_tuned"] = trainer.evaluate(held)["eval_loss"]
    losses = trainer.losses
    if losses:
        report["final_train_loss"] = sum(losses[-5:]) / len(losses[-5:])
    report["resumed_from_epoch"] = done
    report["cpu_s"] = round(time.process_time() - t0, 1)
    report["wall_s"] = round(time.perf_counter() - w0, 1)
    model.save_pretrained(out)
    save_meta(out, KIND, base, settings, data_hash(records), report)
    return report
