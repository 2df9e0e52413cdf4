"""The API backend against a real OpenAI-compatible server: llama-cpp-python's, serving the
embedded SmolLM2 GGUF on 127.0.0.1, with and without a fault-injecting proxy (slow). The
server runs with its prompt-prefix reuse off (`llama_server_fresh.py`), so that an answer
depends on its request alone and two searches can be compared request by request."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import igtext
from igtext.config import RunConfig
from igtext.lm.base import GenerationRequest, LogprobRequest
from igtext.lm.openai_api import OpenAILM
from igtext.tasks.husky import husky_task

from fault_proxy import FaultProxy

pytestmark = pytest.mark.slow
KEY = "test-key-not-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    from igtext.lm.registry import _smollm2_gguf
    port = _free_port()
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "w")
    server = Path(__file__).with_name("llama_server_fresh.py")
    proc = subprocess.Popen(
        [sys.executable, str(server), "--model", str(_smollm2_gguf()),
         "--model_alias", "smollm2-135m", "--host", "127.0.0.1", "--port", str(port),
         "--api_key", KEY, "--n_ctx", "4096", "--n_threads", "2", "--logits_all", "true"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while True:
        try:
            req = urllib.request.Request(url + "/models", headers={"authorization": f"Bearer {KEY}"})
            urllib.request.urlopen(req, timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"llama.cpp server did not start; see {log.name}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:     # still busy with requests a failed test left queued
        proc.kill()
        proc.wait(timeout=30)


def test_probe_uses_only_verified_methods(llama_server):
    lm = OpenAILM("smollm2-135m", base_url=llama_server, api_key=KEY)
    # llama.cpp's echo log-probabilities disagree with its own next-token ones: not used.
    assert lm.probe_report["echo_verified"] is False
    assert lm.logprob_method == "top_logprobs"
    from igtext.errors import UnsupportedError
    with pytest.raises(UnsupportedError, match="echo"):
        OpenAILM("smollm2-135m", base_url=llama_server, api_key=KEY, logprob_method="echo")


def test_wrong_key_is_refused_at_once(llama_server, tmp_path, monkeypatch, capsys):
    from igtext.cli import main
    from igtext.tasks.taskfile import write_task_jsonl
    write_task_jsonl(husky_task(n_train=4, n_test=2), tmp_path / "t.jsonl")
    monkeypatch.setenv("OPENAI_API_KEY", "wrong-key")
    code = main(["run", str(tmp_path / "t.jsonl"), "--out", str(tmp_path / "o"),
                 "--model", "openai:smollm2-135m", "--base-url", llama_server])
    err = capsys.readouterr().err
    assert code == 2 and "refused the key" in err and "wrong-key" not in err
    assert llama_server not in err and not (tmp_path / "o").exists()


def test_api_logprobs_match_local_weights(llama_server, real_lm):
    lm = OpenAILM("smollm2-135m", base_url=llama_server, api_key=KEY)
    ctx = "The capital of France is Paris. The capital of Germany is"
    reqs = [LogprobRequest(ctx, " Berlin"), LogprobRequest(ctx, " Berlin.")]
    api = lm.logprob(reqs)
    local = real_lm.logprob(reqs)
    for a, b in zip(api, local):          # Q4_1 in llama.cpp vs dequantised fp32 here
        assert len(a.token_logprobs) == len(b.token_logprobs)
        assert a.total == pytest.approx(b.total, abs=0.1)
    assert lm.stats.logprob_bounded == 0


def test_seeded_generation_is_repeatable(llama_server):
    lm = OpenAILM("smollm2-135m", base_url=llama_server, api_key=KEY, concurrency=4)
    reqs = [GenerationRequest((("user", "Name a dog breed."),), max_new_tokens=12,
                              temperature=0.8, sample_index=i) for i in range(4)]
    a, b = lm.generate(reqs), lm.generate(reqs)
    assert a == b and len({g.text for g in a}) > 1


CONFIG = {"model": "openai:smollm2-135m", "seed": 2,
          "api": {"api_key_env": "IGTEXT_TEST_KEY", "concurrency": 4,
                  "max_attempts": 10},
          "search": {"generations": 1, "population": 2, "offspring": 2, "elite": 1},
          "likelihood": {"search_examples": 4},
          "proposer": {"max_new_tokens": 32, "n_examples": 3},
          "evaluation": {"baselines": False}}    # z* is what is compared; the rest is slow here


def _search(tmp_path, name, url, timeout_s):
    cfg = RunConfig.model_validate(
        {**CONFIG, "api": {**CONFIG["api"], "base_url": url, "timeout_s": timeout_s}})
    return igtext.search(husky_task(n_train=8, n_test=4, seed=3), config=cfg,
                         out_dir=tmp_path / name, cache_dir=tmp_path / f"cache-{name}")


def test_search_with_20_percent_faults_ends_with_the_same_z(llama_server, tmp_path, monkeypatch):
    monkeypatch.setenv("IGTEXT_TEST_KEY", KEY)
    # Timeouts far above an answer's time on a loaded 2-core machine (4 requests queue at a
    # server that answers one at a time): only the injected faults make the client retry.
    with FaultProxy(llama_server) as clean:
        a = _search(tmp_path, "clean", clean.url, timeout_s=120)
    with FaultProxy(llama_server, fault_rate=0.2, seed=7, stall_s=25.0) as faulty:
        b = _search(tmp_path, "faulty", faulty.url, timeout_s=20)
    assert b.best.id == a.best.id
    assert b.record.lm_calls == a.record.lm_calls
    assert a.record.api["retries"] == 0 and b.record.api["retries"] > 0
    assert b.record.api["failures"] == 0
    assert sum(v for k, v in faulty.counts.items() if k != "ok") > 0.1 * sum(faulty.counts.values())
    events = [json.loads(x) for x in (tmp_path / "faulty" / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "checkpoint" and e["api"]["retries"] > 0 for e in events)
    summary = {"clean": a.record.api, "faulty": b.record.api, "faults": dict(faulty.counts),
               "lm_calls": b.record.lm_calls, "best": b.best.id}
    out = os.environ.get("IGTEXT_FAULT_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(summary, f, indent=2)
