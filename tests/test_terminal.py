"""Untrusted text (task data, z's, LM output) never reaches the terminal raw: every command
that prints it shows control characters visibly and rich markup as text."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from igtext.terminal import safe

ROOT = Path(__file__).resolve().parents[1]
ESC = "\x1b"
# clear screen, red, a window-title change, a hyperlink to an outside address, a bare CR,
# a backspace, NUL, a C1 CSI, a bidi override, and rich markup
HOSTILE = (f"{ESC}[2J{ESC}[31m red {ESC}]0;pwned-title\x07 {ESC}]8;;http://evil.example/"
           f"{ESC}\\click{ESC}]8;;{ESC}\\ over\rwrite back\x08space nul\x00byte c1\x9bx "
           f"bidi\u202eevil [bold red]loud[/bold red] [link=http://evil.example]link[/link]")
RAW = ("\x1b", "\x07", "\x00", "\x08", "\r", "\x9b", "\u202e")


def test_safe_shows_controls_and_keeps_newlines_and_tabs():
    out = safe(HOSTILE + "\nnext\tline")
    assert not any(c in out for c in RAW)
    assert "\\x1b[2J" in out and "\\x07" in out and "\\x00" in out and "\\x0d" in out
    assert "\\x9b" in out and "\\u202e" in out and out.endswith("\nnext\tline")
    assert safe("[bold red]x[/bold red]", markup=True) == "\\[bold red]x\\[/bold red]"


def _scripted_hostile():
    from conftest import scripted_lm
    lm = scripted_lm("hostile")
    inner = lm.generate_fn
    lm.generate_fn = lambda req: (inner(req) + " Also: " + HOSTILE + " read every word of "
                                  "the description carefully")
    return lm


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, tiny_dir):
    """A finished run whose task file and proposals hold HOSTILE, on the tiny model's name
    (so `label` can load a real model)."""
    import igtext
    from conftest import toy_task
    d = tmp_path_factory.mktemp("hostile")
    toy = toy_task()
    task = d / "task.jsonl"
    rows = [{"name": "toy", "labels": list(toy.labels), "initial_hypothesis":
             "Name the breed. " + HOSTILE}]
    rows += [{"split": s, "id": e.id, "input": f"{e.input} {HOSTILE}", "label": e.label}
             for s, exs in (("train", toy.train), ("test", toy.test)) for e in exs]
    task.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    cfg = igtext.RunConfig.model_validate({
        "model": f"hf:{tiny_dir}", "search": {"generations": 1, "population": 3,
                                               "offspring": 2, "elite": 1},
        "likelihood": {"search_examples": 4}})
    igtext.search(igtext.load_task(task), config=cfg, model=_scripted_hostile(),
                  out_dir=d / "run", cache_dir=d / "cache")
    return d


def _cli(*args, stdin: str = "", cwd=None) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "igtext.cli", *map(str, args)], input=stdin.encode(),
                       capture_output=True, env=env, timeout=300, cwd=cwd)
    out = (r.stdout + r.stderr).decode("utf-8")
    return r.returncode, out


def _clean(out: str) -> None:
    bad = sorted({repr(c) for c in RAW if c in out})
    assert not bad, f"raw control characters reached the terminal: {bad}"


def test_every_command_prints_hostile_text_safely(hostile_run, tmp_path):
    from igtext.runview import load_run
    run = hostile_run / "run"
    view = load_run(run)
    ids = [d.id for d in view.ranked()]
    hostile_ids = [d.id for d in view.drafts.values() if HOSTILE in d.text]
    assert len(ids) >= 2 and hostile_ids             # the proposals did carry the sequences
    calls = {
        "show": ("show", run),
        "diff": ("diff", run, ids[0], ids[1]),
        "lineage": ("lineage", run, hostile_ids[0]),
        "label": ("label", run, "--out", tmp_path / "labels.jsonl"),
        "judge compare": ("judge", run, "--kind", "compare", "--n", "2", "--store",
                          tmp_path / "j.sqlite"),
        "judge label": ("judge", run, "--kind", "label", "--n", "2", "--store",
                        tmp_path / "j.sqlite"),
    }
    for name, args in calls.items():
        code, out = _cli(*args, stdin="a\n1\nb\n2\n")
        assert code == 0, (name, out)
        _clean(out)
        if name not in ("diff", "label"):
            assert "\\x1b[2J" in out, name           # the text is there, visibly
        if name == "show":
            assert "[bold red]loud[/bold red]" in out  # markup shown as text


def test_error_messages_quoting_input_are_safe(tmp_path):
    code, out = _cli("run", tmp_path / f"missing{ESC}]0;pwned\x07.jsonl", "--out", tmp_path / "o")
    assert code == 2 and "task file not found" in out and "\\x1b]0;pwned\\x07" in out
    _clean(out)
    code, out = _cli("show", "x", f"--{ESC}[2Jbogus")          # argparse quotes the flag
    assert code == 2 and "\\x1b[2J" in out
    _clean(out)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_under_tmux_the_title_and_screen_are_unchanged(hostile_run, tmp_path):
    sock = str(tmp_path / "tmux.sock")

    def tmux(*args) -> str:
        return subprocess.run(["tmux", "-S", sock, *args], capture_output=True, text=True,
                              check=True).stdout

    tmux("new-session", "-d", "-x", "200", "-y", "150", "-s", "t")
    try:
        title = tmux("display", "-p", "-t", "t", "#{pane_title}")
        cmd = (f"echo MARKER-BEFORE; PYTHONPATH={ROOT} {sys.executable} -m igtext.cli show "
               f"{hostile_run / 'run'}; echo DONE-$?")
        tmux("send-keys", "-t", "t", cmd, "Enter")
        deadline = time.time() + 120
        screen = ""
        while time.time() < deadline and "DONE-" not in screen.replace(cmd, ""):
            time.sleep(0.5)
            screen = tmux("capture-pane", "-p", "-t", "t")
        assert "DONE-0" in screen, screen
        assert tmux("display", "-p", "-t", "t", "#{pane_title}") == title
        assert "pwned" not in tmux("display", "-p", "-t", "t", "#{pane_title} #{window_name}")
        assert "MARKER-BEFORE" in screen                # the screen was not cleared
        assert "\\x1b[2J" in screen and "[bold red]loud" in screen
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)
