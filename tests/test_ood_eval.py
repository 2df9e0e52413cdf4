"""eval/ood.py end to end on the tiny model: every method on a classification benchmark
and on an Instruction Induction task, the table and JSON written."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (SHARED / "data" / "instruction_induction").is_dir(),
                    reason="Instruction Induction data not in ../shared/data")
def test_ood_eval_quick_on_the_tiny_model(tmp_path, tiny_dir):
    cmd = [sys.executable, str(ROOT / "eval" / "ood.py"), "--quick", "--model",
           f"hf:{tiny_dir}", "--benchmarks", "husky,ii:antonyms", "--calls", "600",
           "--population", "2", "--search-examples", "4", "--clf-epochs", "1",
           "--out-dir", str(tmp_path), "--work", str(tmp_path / "work")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                               "IGTEXT_CACHE_DIR": str(tmp_path / "cache"),
                               "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    res = json.loads((tmp_path / "ood-quick.json").read_text())
    husky = res["summary"]["husky"]
    assert set(husky) == {"tfidf_lr", "lora_clf", "zero_shot", "likelihood_only", "ig",
                          "ig_distil"}
    assert husky["tfidf_lr"]["acc_Dprime"]["mean"] <= 0.15      # the shortcut breaks (chance 0.25)
    assert husky["ig"]["lm_calls"]["mean"] <= 600
    assert set(res["summary"]["ii:antonyms"]) == {"zero_shot", "likelihood_only", "ig",
                                                  "human_mean", "human_best"}
    table = (tmp_path / "ood-quick.md").read_text()
    assert "| husky | ig |" in table and "APE, InstructGPT" in table
