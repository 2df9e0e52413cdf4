"""llama-cpp-python's OpenAI-compatible server, each prompt evaluated from scratch (test code).

Run as `python tests/llama_server_fresh.py ARGS` with the arguments of `python -m
llama_cpp.server`. The stock server keeps the previous prompt's key/value cache and
evaluates only the part of a new prompt after the shared prefix. That changes how the
float sums are split, so the same request gets other log-probabilities depending on the
request before it (measured with 0.3.36: -12.4315 alone, -12.4997 after a request sharing
its first 40 characters). Tests that compare two runs request by request need every
answer to depend on its request alone, so this turns the prefix reuse off.
"""
import llama_cpp
from llama_cpp.server.__main__ import main

_generate = llama_cpp.Llama.generate


def _generate_from_scratch(self, tokens, *args, **kwargs):
    self.reset()          # no tokens kept: no prefix match, the whole prompt is decoded
    return _generate(self, tokens, *args, **kwargs)


if __name__ == "__main__":
    llama_cpp.Llama.generate = _generate_from_scratch
    main()
