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


def _search(tmp_path, name, url, timeout_s, cache: str | None = None, **api):
    cfg = RunConfig.model_validate(
        {**CONFIG, "api": {**CONFIG["api"], "base_url": url, "timeout_s": timeout_s, **api}})
    return igtext.search(husky_task(n_train=8, n_test=4, seed=3), config=cfg,
                         out_dir=tmp_path / name, cache_dir=tmp_path / f"cache-{cache or name}")


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


def _report(name: str, figures: dict) -> None:
    """Figures a closing note quotes: written where IGTEXT_CHAT_REPORT names a folder."""
    folder = os.environ.get("IGTEXT_CHAT_REPORT")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(json.dumps(figures, indent=2))


def test_chat_scores_agree_with_the_local_model_under_its_chat_template(llama_server, real_lm):
    """The chat path (first answer token's top_logprobs from /v1/chat/completions) against
    the exact log-probabilities of the same weights here, on the same chat-formatted prompts
    (the model's chat template applied locally): 64 (z, x) pairs of M_L's questions."""
    from igtext.choice import Chooser, Question, log_normalise
    from igtext.likelihood import Likelihood
    from igtext.prompts import load_template
    api = OpenAILM("smollm2-135m", base_url=llama_server, api_key=KEY, logprob_method="chat")
    assert api.logprob_method == "chat" and api.probe_report["chat_top_logprobs"]
    task = husky_task(n_train=16, n_test=0, seed=1)
    zs = ["A husky has blue eyes. A labrador is yellow. A dalmatian has spots. A poodle has "
          "curly fur.", "Label every dog as a husky.", "Name the breed of the dog.",
          "Dogs in snow are huskies; dogs indoors are poodles."]
    lik = Likelihood(api, load_template("likelihood"), task.labels)
    questions = [Question(lik.prompt(z, e.input), task.labels) for z in zs for e in task.train]
    chooser, probe_calls = Chooser(api), api.stats.http_calls
    chat = chooser.ask(questions)
    assert api.stats.http_calls - probe_calls == len(questions) == 64    # one call a question
    agree, diffs = 0, []
    for q, dist in zip(questions, chat):
        shown = chooser._shown(q.options)
        text = real_lm.tok.apply_chat_template(
            [{"role": r, "content": c} for r, c in chooser.messages(q.prompt, q.options, shown)],
            add_generation_prompt=True, tokenize=False)
        exact = log_normalise({o: r.total for o, r in zip(
            q.options, real_lm.logprob([LogprobRequest(text, s) for s in shown]))})
        agree += max(exact, key=exact.get) == max(dist, key=dist.get)
        diffs += [abs(exact[o] - dist[o]) for o in q.options]
    figures = {"pairs": len(questions), "argmax_agreement": agree / len(questions),
               "mean_abs_logprob_difference": sum(diffs) / len(diffs),
               "option_keys": list(shown), "logprob_bounded": api.stats.logprob_bounded}
    _report("chat-agreement", figures)
    assert figures["argmax_agreement"] >= 0.9, figures


def test_chat_search_with_20_percent_faults_ends_with_the_same_z(llama_server, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("IGTEXT_TEST_KEY", KEY)
    with FaultProxy(llama_server) as clean:
        a = _search(tmp_path, "clean", clean.url, timeout_s=120, logprob_method="chat")
    with FaultProxy(llama_server, fault_rate=0.2, seed=11, stall_s=25.0) as faulty:
        b = _search(tmp_path, "faulty", faulty.url, timeout_s=20, logprob_method="chat")
    result = json.loads((tmp_path / "clean" / "result.json").read_text())
    assert result["logprob_method"] == "chat" and "first-token top_logprobs" in \
        json.loads((tmp_path / "clean" / "events.jsonl").read_text().splitlines()[0])["scoring"]
    assert b.best.id == a.best.id and b.record.lm_calls == a.record.lm_calls
    assert a.record.api["retries"] == 0 and b.record.api["retries"] > 0
    assert b.record.api["failures"] == 0
    _report("chat-faults", {"clean": a.record.api, "faulty": b.record.api,
                            "faults": dict(faulty.counts), "lm_calls": b.record.lm_calls,
                            "best": b.best.id, "test_accuracy": b.record.test_accuracy})


def test_a_server_without_logprobs_is_read_by_sampling(llama_server, tmp_path, monkeypatch):
    monkeypatch.setenv("IGTEXT_TEST_KEY", KEY)
    with FaultProxy(llama_server, strip="logprobs") as bare:
        probe = OpenAILM("smollm2-135m", base_url=bare.url, api_key=KEY)
        assert probe.logprob_method == "sample" and not probe.supports_logprobs
        a = _search(tmp_path, "first", bare.url, timeout_s=120, samples=4)
        calls = bare.counts["ok"]
        b = _search(tmp_path, "again", bare.url, timeout_s=120, cache="first", samples=4)
        again = bare.counts["ok"] - calls
    assert a.record.logprob_method == "sample"
    start = json.loads((tmp_path / "first" / "events.jsonl").read_text().splitlines()[0])
    assert "4 answers at temperature 1" in start["scoring"]
    assert b.best.id == a.best.id and b.record.lm_calls_cached == b.record.lm_calls
    assert again <= 6                                 # the probe's calls, none for the search
    _report("sampling", {"lm_calls": a.record.lm_calls, "http_calls": a.record.api["http_calls"],
                         "rerun_http_calls": again, "best": a.best.id,
                         "test_accuracy": a.record.test_accuracy})


def test_what_a_chat_server_cannot_score_is_refused_before_the_run(llama_server, tmp_path,
                                                                   monkeypatch, capsys):
    from igtext.cli import main
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    labels = [f"class {c}" for c in "abcdefghijklmnopqrstuvwxyz0"]
    task = tmp_path / "t.jsonl"
    task.write_text("\n".join(json.dumps(r) for r in [{"name": "t", "labels": labels}] + [
        {"split": "train", "id": i, "input": f"item {i}", "label": y}
        for i, y in enumerate(labels)]) + "\n")
    cfg = tmp_path / "c.yaml"

    def run(url, method):
        cfg.write_text(f"api: {{logprob_method: {method}}}\n")
        code = main(["run", str(task), "--out", str(tmp_path / "o"), "--model",
                     "openai:smollm2-135m", "--base-url", url, "--config", str(cfg)])
        return code, capsys.readouterr().err

    code, err = run(llama_server, "chat")
    assert code == 2 and "27 answers" in err and err.count("\n") == 1, err
    with FaultProxy(llama_server, strip="top_logprobs") as deaf:
        code, err = run(deaf.url, "chat")
    assert code == 2 and "ignores" in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()
