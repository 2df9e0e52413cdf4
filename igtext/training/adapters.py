"""Adapters at the seams of a run: checked before anything starts, loaded merged."""
from __future__ import annotations

from pathlib import Path

from igtext.errors import InputError
from igtext.training.lora import adapter_hash, read_meta


def check_adapter(path: str | Path, kind: str, base_name: str, field: str | None = None) -> dict:
    """The adapter's metadata, after checking it exists, is a `kind` adapter and was made for
    `base_name`; anything else is an `InputError` naming the path (and the config field)."""
    if not Path(path).is_dir():
        raise InputError("no such adapter directory", file=str(path), field=field)
    from igtext.lm.registry import base_name as runs_on
    meta = read_meta(path, kind, field)
    if runs_on(str(meta.get("base_model"))) != runs_on(base_name):
        raise InputError(f"adapter was made for {meta.get('base_model')!r}, not for "
                         f"{base_name!r}", file=str(path), field=field)
    return meta


def load_adapter_lm(adapter: str | Path, kind: str, base_dir: str | Path, base_name: str):
    """A `TransformersLM` with a LoRA adapter of `kind` merged in; its name carries the
    adapter's hash (so the LM cache never mixes it up with the base model)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from igtext.lm.hf import TransformersLM

    check_adapter(adapter, kind, base_name)
    tok = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    return TransformersLM(model, tok, name=f"{base_name}+{kind}:{adapter_hash(adapter)}")
