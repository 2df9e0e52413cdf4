"""One process per run directory: a second run/resume/judge/label is refused with one line,
and `show` tells a running run from a killed one."""
import os
import signal
import subprocess
import sys
import time

import pytest

from igtext.errors import RunDirError
from igtext.runlock import locked, status

HOLD = """
import sys, time
from igtext.runlock import locked
with locked(sys.argv[1], "igtext run"):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(root):
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_second_process_is_refused_and_a_killed_one_is_seen(tmp_path):
    p = _holder(tmp_path)
    try:
        assert status(tmp_path) == ("working", {"pid": p.pid, "what": "igtext run",
                                                "started": status(tmp_path)[1]["started"]})
        with pytest.raises(RunDirError) as e:
            with locked(tmp_path, "igtext resume"):
                pass
        assert f"in use by process {p.pid} (igtext run, since" in str(e.value)
        assert str(e.value).startswith(str(tmp_path))
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    state, holder = status(tmp_path)
    assert state == "killed" and holder["pid"] == p.pid
    with locked(tmp_path, "igtext resume") as mine:        # the dead holder's lock is gone
        assert status(tmp_path)[0] == "working" and mine["pid"] == os.getpid()
    assert status(tmp_path) == ("idle", None)             # a clean exit leaves no holder


def test_show_and_a_second_resume_of_a_running_run(tmp_path, capsys):
    from igtext.cli import main
    from test_inspect import _copy, _unfinish
    run = _copy(tmp_path)
    _unfinish(run)
    p = _holder(run)
    try:
        assert main(["show", str(run)]) == 0
        assert f"running (process {p.pid}" in " ".join(capsys.readouterr().out.split())
        t0 = time.monotonic()
        assert main(["resume", str(run)]) == 2
        err = capsys.readouterr().err
        assert "in use by process" in err and len(err.strip().splitlines()) == 1
        assert time.monotonic() - t0 < 30
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert main(["show", str(run)]) == 0
    assert f"killed (process {p.pid} died" in " ".join(capsys.readouterr().out.split())
