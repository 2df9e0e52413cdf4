"""llama-cpp-python's OpenAI-compatible server, each prompt evaluated from scratch (test code).

Run as `python tests/llama_server_fresh.py ARGS` with the arguments of `python -m
llama_cpp.server`. The stock server keeps the previous prompt's key/value cache and
evaluates only the part of a new prompt after the shared prefix. That changes how the
float sums are split, so the same request gets other log-probabilities depending on the
request before it (measured with 0.3.36: -12.4315 alone, -12.4997 after a request sharing
its first 40 characters). Tests that compare two runs request by request need every
answer to depend on its request alone, so this turns the prefix reuse off.

It also loads the weights without llama.cpp's extra CPU buffer types (AMX and repacked
weights, `use_extra_bufts`): with them, 0.3.36 built on a CPU with AMX (the 2-core machines
of December 2026) dies with SIGSEGV on the first prompt of more than one token.
"""
import llama_cpp
import llama_cpp.llama_cpp as low
from llama_cpp.server.__main__ import main

_generate = llama_cpp.Llama.generate
_default_params = low.llama_model_default_params


def _generate_from_scratch(self, tokens, *args, **kwargs):
    self.reset()          # no tokens kept: no prefix match, the whole prompt is decoded
    return _generate(self, tokens, *args, **kwargs)


def _plain_cpu_buffers():
    params = _default_params()
    params.use_extra_bufts = False
    return params


if __name__ == "__main__":
    llama_cpp.Llama.generate = _generate_from_scratch
    low.llama_model_default_params = _plain_cpu_buffers
    main()
