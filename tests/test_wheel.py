"""The built wheel works when installed for real (not editable), away from the checkout.

The wheel is built offline from a copy of the sources, installed without dependencies into
a fresh venv, and a tiny search runs there on the scripted LM from a folder outside the
repository. The dependencies come from the running environment through a `.pth` line: a
path in a `.pth` file is only added to sys.path, the `.pth` files inside it are not run, so
that environment's editable igtext stays out (the script checks it).
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

from igtext.prompts import load_template

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.append(sys.argv[1])            # the tests folder, for conftest's toy task and LM
    import igtext
    from igtext.prompts import KINDS, load_template
    from conftest import scripted_lm, toy_task

    cfg = igtext.RunConfig.model_validate(
        {"search": {"generations": 2, "population": 3, "offspring": 2},
         "likelihood": {"search_examples": 6}})
    res = igtext.search(toy_task(), config=cfg, model=scripted_lm(), out_dir="run",
                        cache_dir="cache")
    print(json.dumps({
        "igtext": igtext.__file__,
        "editable": sorted(m for m in sys.modules if "editable" in m),
        "templates": {k: [load_template(k).source, load_template(k).hash] for k in KINDS},
        "best": res.best.hypothesis.text}))
""")


def _run(*cmd, cwd=None, env=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{cmd} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_wheel_installs_and_searches(tmp_path):
    src = tmp_path / "src"                  # a copy, so the build writes nothing into the repo
    shutil.copytree(REPO / "igtext", src / "igtext",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(tmp_path / "dist"), str(src))
    wheel, = (tmp_path / "dist").glob("igtext-*.whl")

    data = {f.relative_to(REPO).as_posix() for f in (REPO / "igtext").rglob("[!.]*")
            if f.is_file() and f.suffix not in (".py", ".pyc") and "__pycache__" not in f.parts}
    assert data and data <= set(zipfile.ZipFile(wheel).namelist())   # package data shipped

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    py = venv / "bin" / "python"
    _run(*pip, "--python", str(py), "install", "--no-deps", "--no-index", str(wheel))
    site = Path(_run(str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .strip()).resolve()
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    work = tmp_path / "work"
    work.mkdir()
    (work / "search.py").write_text(SCRIPT)
    out = json.loads(_run(str(py), "search.py", str(TESTS), cwd=work, env=env)
                     .strip().splitlines()[-1])

    # An editable finder would sit behind the installed copy, so __file__ alone cannot tell.
    assert Path(out["igtext"]).resolve().is_relative_to(site) and out["editable"] == []
    for kind, (source, digest) in out["templates"].items():
        assert Path(source).resolve().is_relative_to(site / "igtext" / "templates"), kind
        assert digest == load_template(kind).hash, kind       # the same text as the repo's
    events = [json.loads(ln) for ln in (work / "run" / "events.jsonl").read_text().splitlines()]
    assert any(e.get("template_hash") for e in events) and out["best"]
