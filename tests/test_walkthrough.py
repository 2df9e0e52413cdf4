"""docs/walkthrough.md, run as written (its `$ ` lines, in order, in a fresh folder), with
the search on a tiny model so that it takes seconds: every command succeeds and says what
the walkthrough shows it saying."""
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "walkthrough.md"


def commands() -> list[str]:
    out, inside = [], False
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```console"
            continue
        if inside and line.startswith("$ "):
            out.append(line[2:])
    return out


def test_the_walkthrough_runs_as_written(tmp_path, tiny_dir):
    cmds = commands()
    assert [c.split()[:2] for c in cmds if c.startswith("igtext")] == [
        ["igtext", "init"], ["igtext", "run"], ["igtext", "show"], ["igtext", "report"],
        ["igtext", "label"]]
    igtext = f"{shlex.quote(sys.executable)} -m igtext.cli"
    env = {**os.environ, "COLUMNS": "100", "OMP_NUM_THREADS": "1"}
    said = {}
    for cmd in cmds:
        run = cmd.replace("igtext ", igtext + " ", 1) if cmd.startswith("igtext") else cmd
        if cmd.startswith("igtext run"):
            run += f" --model hf:{shlex.quote(str(tiny_dir))} --cache-dir cache"
        if cmd.startswith("igtext label"):
            run += " --cache-dir cache"
        p = subprocess.run(run, shell=True, cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=600)
        assert p.returncode == 0, f"{cmd}\n{p.stdout}\n{p.stderr}"
        said[cmd.split()[1] if cmd.startswith("igtext") else cmd.split()[0]] = p.stdout
    assert said["init"] == ("wrote reviews.yaml; fill it in, then: igtext run reviews.yaml "
                            "--out runs/reviews\n")
    assert "baseline TF-IDF + LR on D" in said["run"] and "z* " in said["run"]
    assert any(ln.startswith(("z* beats", "z* does NOT beat")) for ln in
               said["run"].splitlines())
    assert "runs/reviews: finished" in said["show"]
    assert json.loads(said["report"])["finished"] is True
    assert json.loads(said["label"])["examples"] == 2
    rows = [json.loads(r) for r in said["head"].splitlines()]
    assert rows[0]["input"] == "Fell apart in the wash, sending it back." and rows[0]["id"] == "2"
    assert (tmp_path / "runs" / "reviews" / "report.html").exists()
