"""One process per run directory: a run, a resume, a judging session or a labelling job
holds the directory's lock while it works in it, and a second one is refused with one line.

The lock is an advisory `flock` on RUNDIR/lock, so the system drops it when its process
dies, however it dies: there is no stale lock to clean up. While held, the file names the
holder (pid, command, start time); a clean exit empties it. A file that still names a
process but is not held tells `igtext show` that the process was killed.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

from igtext.errors import RunDirError

LOCK_NAME = "lock"
WAIT_S = 1.0        # how long a second process tries before it is refused (a reader, `show`,
                    # may hold the lock shared for a moment)


def _path(root: str | os.PathLike) -> Path:
    return Path(root) / LOCK_NAME


@contextlib.contextmanager
def locked(root: str | os.PathLike, what: str):
    """Hold `root`'s lock while `what` ("igtext run", ...) works in it; raise `RunDirError`
    naming the holder if another process has it. A directory this process may not write in
    (someone else's finished run, labelled or judged into a store elsewhere) is not
    locked: yields None."""
    path = _path(root)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if os.access(root, os.W_OK):
            raise
        yield None
        return
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(root, _read(path)) from None
                time.sleep(0.05)
        holder = {"pid": os.getpid(), "what": what,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        try:
            yield holder
        finally:
            os.ftruncate(fd, 0)             # a clean exit: nobody was killed here
    finally:
        os.close(fd)                        # drops the flock


def check_free(root: str | os.PathLike) -> None:
    """Refuse early (before a model loads) a run directory another process works in."""
    state, holder = status(root)
    if state == "working":
        raise _busy(root, holder)


def _busy(root: str | os.PathLike, held: dict | None) -> RunDirError:
    who = (f"process {held.get('pid', '?')} ({held.get('what', '?')}, since "
           f"{held.get('started', '?')})" if held else "another process")
    return RunDirError(f"the run directory is in use by {who}; wait for it to end or stop it",
                       file=str(root))


def _read(path: Path) -> dict | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        got = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    return got if isinstance(got, dict) else None


def status(root: str | os.PathLike) -> tuple[str, dict | None]:
    """("working", holder) while a process holds the lock; ("killed", last holder) where
    the file names a process that no longer holds it (it died without a clean exit);
    ("idle", None) otherwise."""
    path = _path(root)
    if not path.exists():
        return "idle", None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return "idle", None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "working", _read(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    held = _read(path)
    return ("killed", held) if held else ("idle", None)
