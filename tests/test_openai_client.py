"""The OpenAI-compatible client against a local stub server (fast): retries, error tree,
Retry-After, timeouts, concurrency, budgets and secrets."""
import json
import time

import pytest

from igtext.errors import (APITimeoutError, AuthenticationError, BadRequestError, BudgetExceeded,
                           NotFoundError, ServerError)
from igtext.lm.base import GenerationRequest, LogprobRequest
from igtext.lm.budget import Budget
from igtext.lm.cache import DiskCache, MeteredLM
from igtext.lm.openai_api import OpenAILM, Price

from fault_proxy import FaultProxy

KEY = "sk-SECRET-key-123"


def _lm(proxy, **kw):
    kw.setdefault("backoff_s", 0.01)
    return OpenAILM("m", base_url=proxy.url, api_key=KEY, **kw)


def _gen(i=0):
    return GenerationRequest((("user", f"hello {i}"),), max_new_tokens=4, sample_index=i)


def test_probe_generate_and_method():
    with FaultProxy(None) as p:
        lm = _lm(p)
        assert lm.logprob_method == "top_logprobs" and lm.supports_logprobs
        assert [g.text for g in lm.generate([_gen(0), _gen(1)])] == ["ok", "ok"]
        r = lm.logprob([LogprobRequest("say", " ok")])[0]
        assert r.token_logprobs == (-0.1,)
        bounded = lm.stats.logprob_bounded
        lm.logprob([LogprobRequest("say", " maybe")])      # not in the top k: bounded, counted
        assert lm.stats.logprob_bounded == bounded + 1
        assert all(h.get("authorization") == f"Bearer {KEY}" for h in p.headers_seen)


def test_unknown_model_and_demanded_method_fail_clearly():
    with FaultProxy(None) as p:
        with pytest.raises(NotFoundError, match="'other' is not served"):
            OpenAILM("other", base_url=p.url, api_key=KEY)
        from igtext.errors import UnsupportedError
        with pytest.raises(UnsupportedError, match="echo"):
            _lm(p, logprob_method="echo")


@pytest.mark.parametrize("status, error", [("401", AuthenticationError), ("403", AuthenticationError),
                                           ("404", NotFoundError), ("400", BadRequestError)])
def test_client_errors_fail_at_once(status, error):
    with FaultProxy(None) as p:
        lm = _lm(p)
        p.script = [status]
        calls = lm.stats.http_calls
        with pytest.raises(error) as e:
            lm.generate([_gen()])
        assert lm.stats.http_calls == calls + 1 and lm.stats.retries == 0
        assert KEY not in str(e.value) and p.url not in str(e.value)


def test_retries_are_bounded():
    with FaultProxy(None) as p:
        lm = _lm(p, max_attempts=3)
        p.script = ["503"] * 10
        with pytest.raises(ServerError, match="3 attempts"):
            lm.generate([_gen()])
        assert lm.stats.retries == 2 and lm.stats.failures == 1


def test_the_start_up_probe_is_retried_and_attempts_are_counted_truly():
    with FaultProxy(None, script=["503", "429", "truncate"]) as p:   # /models, then more
        lm = _lm(p)
        assert lm.logprob_method == "top_logprobs" and lm.stats.retries == 3
    with FaultProxy(None) as p:
        p.script = ["503"] * 2
        lm = _lm(p, max_attempts=2, probe=False)
        with pytest.raises(ServerError, match=r"after 2 attempts"):
            lm.generate([_gen()])
        p.script = ["400"]                               # not retried: one attempt
        with pytest.raises(BadRequestError):
            lm.generate([_gen()])
        assert lm.stats.http_calls == 3


def test_retry_after_is_honoured():
    with FaultProxy(None, retry_after="0.6") as p:
        lm = _lm(p)
        p.script = ["429", "429"]
        t = time.perf_counter()
        assert lm.generate([_gen()])[0].text == "ok"
        assert time.perf_counter() - t >= 1.2 and lm.stats.retries == 2


def test_retry_after_as_an_http_date_is_honoured():
    from email.utils import formatdate
    when = formatdate(time.time() + 2.0, usegmt=True)      # whole seconds: 1 to 2 s from now
    with FaultProxy(None, retry_after=when) as p:
        lm = _lm(p)
        p.script = ["429"]
        t = time.perf_counter()
        assert lm.generate([_gen()])[0].text == "ok"
        assert 0.9 <= time.perf_counter() - t < 5 and lm.stats.retries == 1


def test_stall_reset_truncate_and_5xx_are_retried():
    with FaultProxy(None, stall_s=1.5) as p:
        lm = _lm(p, timeout_s=0.5, max_attempts=8)
        p.script = ["stall", "reset", "truncate", "500", "409", "408"]
        assert lm.generate([_gen()])[0].text == "ok"
        assert lm.stats.retries == 6
        assert "APITimeoutError" in lm.stats.errors
        with pytest.raises(APITimeoutError):
            p.script = ["stall"] * 3
            _lm(p, timeout_s=0.3, max_attempts=3, probe=False).generate([_gen()])


def test_concurrency_overlaps_requests():
    with FaultProxy(None, latency_s=0.3) as p:
        lm = _lm(p, concurrency=8)
        t = time.perf_counter()
        lm.generate([_gen(i) for i in range(8)])
        assert time.perf_counter() - t < 1.2           # sequential would be >= 2.4 s


def test_dollar_and_token_caps_hold_under_concurrency(tmp_path):
    with FaultProxy(None) as p:
        lm = _lm(p, concurrency=16, price=Price(input=1000.0, output=1000.0))
        metered = MeteredLM(lm, DiskCache(tmp_path), Budget(max_dollars=0.2))
        with pytest.raises(BudgetExceeded, match="dollars"):
            for i in range(20):
                metered.generate([_gen(100 * i + j) for j in range(10)])
        assert 0 < metered.usage.dollars <= 0.2
        tok = MeteredLM(_lm(p, concurrency=16), None, Budget(max_tokens=300))
        with pytest.raises(BudgetExceeded, match="tokens"):
            for i in range(20):
                tok.logprob([LogprobRequest(f"context number {i} {j}", " ok") for j in range(10)])
        assert tok.usage.tokens <= 300


def test_secrets_stay_out_of_cache_logs_and_results(tmp_path, monkeypatch):
    import igtext
    from conftest import toy_task
    from igtext.config import RunConfig

    with FaultProxy(None) as p:
        monkeypatch.setenv("MY_KEY", KEY)
        cfg = RunConfig.model_validate({
            "model": "openai:m", "api": {"base_url": p.url, "api_key_env": "MY_KEY"},
            "search": {"generations": 1, "population": 2, "offspring": 2, "elite": 1},
            "likelihood": {"search_examples": 4}})
        res = igtext.search(toy_task(8), config=cfg, out_dir=tmp_path / "run",
                            cache_dir=tmp_path / "cache")
        assert res.record.logprob_method == "top_logprobs"
        assert res.record.api["http_calls"] > 0
        for f in list((tmp_path / "run").iterdir()) + list((tmp_path / "cache").iterdir()):
            data = f.read_bytes()
            assert KEY.encode() not in data and p.url.encode() not in data, f
            assert b"127.0.0.1" not in data, f


def test_cli_bad_api_inputs(tmp_path, monkeypatch, capsys):
    from igtext.cli import main
    task = tmp_path / "t.jsonl"
    task.write_text(json.dumps({"name": "t", "labels": ["a", "b"]}) + "\n" +
                    json.dumps({"split": "train", "id": 1, "input": "x", "label": "a"}) + "\n")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def run(*args):
        code = main(["run", str(task), "--out", str(tmp_path / "o"), *args])
        return code, capsys.readouterr().err

    code, err = run("--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and "cannot reach the API server" in err and "127.0.0.1:9" not in err
    with FaultProxy(None) as p:
        code, err = run("--model", "openai:nope", "--base-url", p.url)
        assert code == 2 and "'nope' is not served" in err
        p.script = ["401"]
        code, err = run("--model", "openai:m", "--base-url", p.url)
        assert code == 2 and "refused the key" in err and KEY not in err
        cfg = tmp_path / "c.yaml"
        cfg.write_text("api: {logprob_method: none}\n")
        code, err = run("--model", "openai:m", "--base-url", p.url, "--config", str(cfg))
        assert code == 2 and "gives no log-probabilities" in err
    import copy

    from fault_proxy import CANNED
    bare = copy.deepcopy(CANNED)
    bare["completions"]["choices"][0]["logprobs"] = None
    with FaultProxy(None, canned=bare) as p:              # a server without log-probabilities
        for method, says in (("top_logprobs", "no top log-probabilities"),
                             ("chat", "ignores `logprobs`/`top_logprobs`")):
            cfg.write_text(f"api: {{logprob_method: {method}}}\n")
            code, err = run("--model", "openai:m", "--base-url", p.url, "--config", str(cfg))
            assert code == 2 and says in err and err.count("\n") == 1, err
    monkeypatch.delenv("OPENAI_API_KEY")
    code, err = run("--model", "openai:m")
    assert code == 2 and "OPENAI_API_KEY" in err
    assert not (tmp_path / "o").exists()


def test_api_counts_add_up_across_a_failed_process_and_its_resume(tmp_path, monkeypatch):
    """A fatal error is logged as an event, and result.json's `api` counts every process of
    the run: the one that failed and the one that resumed it."""
    import igtext
    from conftest import toy_task
    from igtext.config import RunConfig
    from igtext.errors import BadRequestError
    from igtext.runlog import read_events

    cfg = RunConfig.model_validate({
        "model": "openai:m", "api": {"base_url": "http://unused", "max_attempts": 2},
        "search": {"generations": 2, "population": 2, "offspring": 2, "elite": 1},
        "likelihood": {"search_examples": 4}})
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FaultProxy(None) as p:
        cfg = cfg.with_overrides(**{"api.base_url": p.url})
        igtext.search(toy_task(8), config=cfg, out_dir=tmp_path / "ref",
                      cache_dir=tmp_path / "ref-cache")
        clean = sum(p.counts.values())
    with FaultProxy(None, script=[None] * (clean - 10) + ["503", "400"]) as p:
        cfg = cfg.with_overrides(**{"api.base_url": p.url})
        with pytest.raises(BadRequestError):
            igtext.search(toy_task(8), config=cfg, out_dir=tmp_path / "run",
                          cache_dir=tmp_path / "cache")
        events, _ = read_events(tmp_path / "run" / "events.jsonl")
        assert events[-1].event == "failed" and events[-1].error == "BadRequestError"
        res = igtext.resume(tmp_path / "run", model=_lm(p), cache_dir=tmp_path / "cache")
        api = res.record.api
        assert api["http_calls"] == sum(p.counts.values()) > clean
        assert api["retries"] == 1 and api["failures"] == 1


def test_resume_takes_api_settings_that_do_not_change_the_search(tmp_path, monkeypatch, capsys):
    """A run that failed on api.timeout_s resumes with a longer one; the log says so."""
    from conftest import toy_task
    from igtext.cli import main
    from igtext.runlog import read_events
    from igtext.tasks.taskfile import write_task_jsonl

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_task_jsonl(toy_task(8), tmp_path / "t.jsonl")
    (tmp_path / "c.yaml").write_text(
        "api: {timeout_s: 0.3, max_attempts: 1}\nlikelihood: {search_examples: 4}\n"
        "search: {generations: 1, population: 2, offspring: 2, elite: 1}\n")
    run = tmp_path / "run"
    with FaultProxy(None, stall_s=1.0) as p:
        p.script = [None] * 40 + ["stall"]                # mid-search
        code = main(["run", str(tmp_path / "t.jsonl"), "--out", str(run), "--model", "openai:m",
                     "--config", str(tmp_path / "c.yaml"), "--base-url", p.url, "--quiet",
                     "--cache-dir", str(tmp_path / "cache")])
        assert code == 1 and "did not answer within 0.3 s (1 attempt)" in capsys.readouterr().err
        code = main(["resume", str(run), "--base-url", p.url, "--timeout-s", "30",
                     "--max-attempts", "3", "--quiet", "--cache-dir", str(tmp_path / "cache")])
        assert code == 0, capsys.readouterr().err
    events, _ = read_events(run / "events.jsonl")
    resumed = [e for e in events if e.event == "resume"]
    assert resumed and resumed[-1].changed == {"api.timeout_s": 30.0, "api.max_attempts": 3}
    assert json.loads((run / "config.json").read_text())["api"]["timeout_s"] == 0.3


def test_run_survives_faults_at_start_up_through_the_cli(tmp_path, monkeypatch, capsys):
    """One 503 or 429 while the server is probed no longer aborts `igtext run`."""
    from conftest import toy_task
    from igtext.cli import main
    from igtext.tasks.taskfile import write_task_jsonl

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_task_jsonl(toy_task(8), tmp_path / "t.jsonl")
    (tmp_path / "c.yaml").write_text("likelihood: {search_examples: 4}\nsearch: {generations: 1, "
                                     "population: 2, offspring: 2, elite: 1}\n")
    with FaultProxy(None, script=["503", "429", "reset"]) as p:
        code = main(["run", str(tmp_path / "t.jsonl"), "--out", str(tmp_path / "run"),
                     "--model", "openai:m", "--config", str(tmp_path / "c.yaml"),
                     "--base-url", p.url, "--quiet", "--cache-dir", str(tmp_path / "cache")])
    assert code == 0, capsys.readouterr().err
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["api"]["retries"] >= 3
