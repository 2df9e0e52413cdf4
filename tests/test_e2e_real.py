"""End to end on the real SmolLM2 weights, through the real command line (slow)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from igtext.tasks.husky import husky_task
from igtext.tasks.taskfile import write_task_jsonl

pytestmark = pytest.mark.slow

CONFIG = """
seed: 3
search: {strategy: evolution, generations: 2, population: 3, offspring: 3, elite: 1}
likelihood: {search_examples: 8}
proposer: {max_new_tokens: 48, n_examples: 4}
budget: {max_calls: 5000}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory, real_lm):   # real_lm: converts the model once before the CLI runs
    d = tmp_path_factory.mktemp("e2e")
    write_task_jsonl(husky_task(n_train=24, n_test=16, seed=1), d / "task.jsonl")
    (d / "cfg.yaml").write_text(CONFIG)
    return d


def _igtext(*args, **kw):
    return subprocess.run([sys.executable, "-m", "igtext.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=900, **kw)


def _run(setup, name, cache):
    r = _igtext("run", setup / "task.jsonl", "--config", setup / "cfg.yaml", "--out",
                setup / name, "--cache-dir", setup / cache, "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads((setup / name / "result.json").read_text())


@pytest.fixture(scope="module")
def reference(setup):
    return _run(setup, "ref", "cache-ref")


def test_search_result_on_real_model(reference):
    r = reference
    assert r["best"]["text"] and r["best"]["id"].startswith("h")
    assert 0 <= r["train_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
    assert r["lm_calls"] <= 5000 and r["lm_tokens"] > 0 and r["wall_s"] > 0
    assert r["best"]["objective"] == pytest.approx(r["best"]["prior"] + r["best"]["loglik"])


def test_rerun_is_served_from_cache(setup, reference):
    again = _run(setup, "again", "cache-ref")
    assert again["lm_calls_cached"] == again["lm_calls"]          # 0 uncached calls
    assert again["best"]["id"] == reference["best"]["id"]


def test_resume_after_kill_9(setup, reference):
    out = setup / "killed"
    p = subprocess.Popen([sys.executable, "-m", "igtext.cli", "run", str(setup / "task.jsonl"),
                          "--config", str(setup / "cfg.yaml"), "--out", str(out),
                          "--cache-dir", str(setup / "cache-killed"), "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    killed = False
    while time.time() < deadline and p.poll() is None:
        ev = out / "events.jsonl"
        if ev.exists() and '"generation": 2' in ev.read_text():
            os.kill(p.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.2)
    p.wait()
    assert killed, "the run ended before it could be killed"
    assert not (out / "result.json").exists()
    r = _igtext("resume", out, "--cache-dir", setup / "cache-killed", "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    resumed = json.loads((out / "result.json").read_text())
    assert resumed["best"]["id"] == reference["best"]["id"]
    assert resumed["lm_calls"] == reference["lm_calls"]


def test_label_and_show(setup, reference):
    out = setup / "labels.jsonl"
    r = _igtext("label", setup / "ref", "--split", "test", "--out", out,
                "--cache-dir", setup / "cache-ref")
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 16
    for row in rows:
        assert sum(row["probs"].values()) == pytest.approx(1.0, abs=1e-6)
        assert row["label"] == max(row["probs"], key=row["probs"].get)
    acc = sum(r_["label"] == r_["gold"] for r_ in rows) / len(rows)
    assert acc == pytest.approx(reference["test_accuracy"])
    s = _igtext("show", setup / "ref")
    assert s.returncode == 0 and reference["best"]["id"] in s.stdout
