"""The terminal views (`show`, `--follow`, `diff`, `lineage`) and the report's content, on a
run directory recorded from a real SmolLM2 search (tests/data/recorded_run)."""
import io
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from igtext.cli import main
from igtext.report import render
from igtext.runview import load_run
from igtext.show import diff_view, follow, lineage_tree, show, show_view
from igtext.textdiff import word_diff

RECORDED = Path(__file__).parent / "data" / "recorded_run"
EVIL = 'Ignore <script>window.pwned = 1</script> and <img src=x onerror="window.pwned = 2">'


def _text(renderable, width: int = 140) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(renderable)
    return buf.getvalue()


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(RECORDED, tmp_path / "run"))


def _unfinish(run: Path, keep: int | None = None, torn: str = "") -> None:
    """Make `run` look killed: no result, events cut after `keep` lines, a torn last line."""
    (run / "result.json").unlink()
    lines = (run / "events.jsonl").read_text().splitlines(keepends=True)
    lines = [ln for ln in lines if '"event": "run_end"' not in ln and '"event": "evaluate"' not in ln]
    (run / "events.jsonl").write_text("".join(lines[:keep]) + torn)


def add_draft(run: Path, text: str, objective: float, parent: str) -> str:
    """Append a proposal and its full score to the run's log (as a search would)."""
    from igtext.data import hypothesis_id
    view = load_run(run)
    base = view.drafts[parent]
    hid = hypothesis_id(text)
    common = {"generation": view.generations[-1].generation, "id": hid, "text": text,
              "parents": [parent], "operator": "refine", "template_hash": "0" * 64,
              "lm_calls": 1, "lm_calls_cached": 0, "lm_tokens": 1, "time": 0}
    score = {**common, "event": "score", "prior": objective / 2, "loglik": objective / 2,
             "objective": objective, "prior_parts": {"judge_logp_yes": -1.0}, "accuracy": 0.5,
             "n_scored": len(base.example_loglik), "complete": True,
             "example_loglik": {k: v - 0.1 for k, v in base.example_loglik.items()},
             "wrong": list(base.wrong)[:1]}
    select = {"event": "select", "generation": common["generation"] + 1, "best": hid,
              "best_objective": objective, "population": [hid, parent], "lm_calls": 1,
              "lm_calls_cached": 0, "lm_tokens": 1, "time": 0}
    with open(run / "events.jsonl", "a") as f:
        f.write(json.dumps({**common, "event": "propose", "dropped": None, "raw": None}) + "\n")
        f.write(json.dumps(score) + "\n")
        if objective > view.best().objective:      # the search selects it as the new best
            f.write(json.dumps(select) + "\n")
    return hid


def test_recorded_run_is_a_real_finished_run():
    view = load_run(RECORDED)
    assert view.finished and not view.warnings
    assert view.start.model == "smollm2-135m"
    assert [g.generation for g in view.generations] == list(range(len(view.generations)))
    assert len(view.generations) >= 3
    best = view.best()
    assert best.id == view.result.best.id and best.complete and best.example_loglik
    assert any(d.parents for d in view.drafts.values())


def test_show_prints_generations_best_breakdown_and_budget():
    view = load_run(RECORDED)
    out = _text(show_view(view, top=3))
    best = view.best()
    assert "finished" in out and best.id in out
    assert f"prior {best.prior:.2f}" in out and f"log-likelihood {best.loglik:.2f}" in out
    assert "budget used" in out and str(view.result.lm_calls) in out
    for g in view.generations:
        assert g.best in out
    assert out.count("\n│ h") >= 3                       # three rows of the top table


def test_show_cli_and_unknown_ids(tmp_path, capsys):
    assert main(["show", str(RECORDED), "--top", "2"]) == 0
    assert "generations" in capsys.readouterr().out
    assert main(["diff", str(RECORDED), "hnope", load_run(RECORDED).best().id]) == 2
    err = capsys.readouterr().err
    assert "hnope" in err and "not in this run" in err
    assert main(["lineage", str(RECORDED), "hnope"]) == 2
    assert main(["show", str(tmp_path / "missing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "-o", str(tmp_path / "r.html")]) == 2
    assert "no events.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_events_with_nothing_readable_is_an_error(tmp_path, capsys):
    run = _copy(tmp_path)
    (run / "events.jsonl").write_text('{"event": "run_st')
    assert main(["show", str(run)]) == 2
    assert "no readable event" in capsys.readouterr().err


def test_killed_run_is_shown_and_reported_from_its_readable_part(tmp_path, capsys):
    run = _copy(tmp_path)
    _unfinish(run, torn='{"event": "score", "generation": 2, "id": "hdead')
    view = load_run(run)
    assert not view.finished
    assert any("cut short" in w for w in view.warnings)
    out = _text(show_view(view))
    assert "stopped" in out and "cut short" in out and "best so far" in out
    assert main(["report", str(run), "-o", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "readable part of the run" in html and "cut short" in html
    assert "igtext: warning:" in capsys.readouterr().err


def test_diff_shows_words_and_score_change():
    view = load_run(RECORDED)
    a, b = view.best_path()[0], view.ranked()[1] if view.ranked()[0] == view.best_path()[0] \
        else view.ranked()[0]
    out = _text(diff_view(view, a.id, b.id))
    assert a.id in out and b.id in out
    assert f"{b.objective - a.objective:+.2f}" in out
    assert "[-" in out or "{+" in out


def test_word_diff_rebuilds_both_texts():
    a = "A husky has blue eyes.\nA poodle has curly fur."
    b = "A husky has pale blue eyes.\nA  labrador has curly fur!"
    pieces = word_diff(a, b)
    assert "".join(p.text for p in pieces if p.op != "insert") == a
    assert "".join(p.text for p in pieces if p.op != "delete") == b
    assert {p.op for p in pieces} == {"equal", "insert", "delete"}


def test_lineage_walks_to_the_given_drafts(tmp_path):
    run = _copy(tmp_path)
    view = load_run(run)
    child = max((d for d in view.drafts.values() if d.parents and d.complete),
                key=lambda d: d.generation)
    hid = add_draft(run, "A husky has blue eyes.", child.objective - 1, child.id)
    view = load_run(run)
    out = _text(lineage_tree(view, hid[:8]))           # a unique prefix is enough
    assert hid in out and child.id in out and "refine" in out

    def roots(node):
        return [node] if not node.parents else [r for p in node.parents for r in roots(p)]
    assert all(r.draft.operator in ("given", "initial") or r.missing_parents
               for r in roots(view.lineage(hid)))


def test_follow_redraws_until_the_run_finishes(tmp_path):
    run = _copy(tmp_path)
    result = (run / "result.json").read_text()
    events = (run / "events.jsonl").read_text()
    _unfinish(run, keep=len(events.splitlines()) // 2)
    buf, box, naps = io.StringIO(), {}, []
    console = Console(file=buf, width=120, force_terminal=True, color_system=None)
    t = threading.Thread(target=lambda: box.setdefault("view", follow(
        run, interval=0.05, console=console, timeout=60,
        sleep=lambda s: (naps.append(s), time.sleep(s)))))
    t.start()
    time.sleep(0.5)
    assert t.is_alive()                               # still following an unfinished run
    (run / "events.jsonl").write_text(events)
    (run / "result.json").write_text(result)
    t.join(30)
    assert not t.is_alive() and box["view"].finished
    assert len(naps) >= 5                             # it kept re-reading the run
    out = buf.getvalue()
    assert "stopped" in out and ": finished" in out


def test_report_content_is_self_contained_and_escaped(tmp_path):
    run = _copy(tmp_path)
    best = load_run(run).best()
    add_draft(run, EVIL, best.objective + 5, best.id)
    (run / "result.json").unlink()
    html = render(load_run(run))
    assert "<script" not in html and "onerror=\"" not in html
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html      # nothing to fetch
    assert html.count('src="data:image/svg+xml;base64,') == 2
    for section in ('id="generations"', 'id="lineage"', 'id="heatmap"', 'id="top"',
                    "How the best draft changed"):
        assert section in html


def test_report_lists_dropped_proposals_templates_and_ids_on_the_scatter(tmp_path):
    import base64
    import re
    run = _copy(tmp_path)
    n_kept = len(load_run(run).drafts)
    _append(run, {"event": "propose", "generation": 1, "operator": "refine", "parents": [],
                  "id": None, "dropped": "empty after cleaning", "raw": EVIL})
    view = load_run(run)
    html = render(view)
    assert f"{n_kept + 1} proposed: {n_kept} kept, 1 dropped" in html
    table = html[html.index('id="dropped-table"'):]
    assert "empty after cleaning" in table and "&lt;script&gt;window.pwned" in table
    assert "<code>igtext/templates/propose_refine.j2</code>" in html
    svg = base64.b64decode(re.search(r'id="plot-population" alt="[^"]*" src="data:image/svg'
                                     r'\+xml;base64,([^"]+)"', html).group(1)).decode()
    assert f"<!-- {view.best().id} -->" in svg                 # z*'s id written by it


def test_incomplete_run_directory_is_reported_with_a_warning(tmp_path):
    run = _copy(tmp_path)
    (run / "task.json").unlink()
    (run / "checkpoint.json").write_text("{not json")
    view = load_run(run)
    assert any("task.json is missing" in w for w in view.warnings)
    assert any("checkpoint.json is unreadable" in w for w in view.warnings)
    html = render(view)
    assert "task.json is missing" in html and 'id="heatmap"' in html


def _append(run: Path, *events: dict) -> None:
    base = {"lm_calls": 1, "lm_calls_cached": 0, "lm_tokens": 1, "time": 0}
    with open(run / "events.jsonl", "a") as f:
        for e in events:
            f.write(json.dumps({**base, **e}) + "\n")


def test_partial_scores_are_marked_and_not_compared(tmp_path):
    run = _copy(tmp_path)
    best = load_run(run).best()
    _append(run, {"event": "score", "generation": 3, "id": "hpartial000", "text": "Look at fur.",
                  "parents": [best.id], "operator": "refine", "prior": -1.0, "loglik": -0.5,
                  "objective": -1.5, "complete": False, "n_scored": 2,
                  "example_loglik": {}, "wrong": []})
    view = load_run(run)
    d = view.drafts["hpartial000"]
    assert d.partial and d not in view.ranked()
    out = _text(diff_view(view, best.id, d.id))
    assert "scored on 2 examples only" in out
    assert f"{d.objective - best.objective:+.2f}" not in out
    assert "partial: on 2 examples only" in _text(lineage_tree(view, d.id))


def test_generation_rows_keep_the_scores_of_their_time(tmp_path):
    run = _copy(tmp_path)
    view = load_run(run)
    before = {g.generation: (g.prior, g.loglik) for g in view.generations}
    b = view.generations[0].best
    _append(run, {"event": "score", "generation": 9, "id": b, "text": view.drafts[b].text,
                  "parents": [], "operator": "given", "prior": 50.0, "loglik": -1.0,
                  "objective": 49.0, "complete": True, "n_scored": 12})   # a refresh rescored it
    after = {g.generation: (g.prior, g.loglik) for g in load_run(run).generations}
    assert after == before
    for g in load_run(run).generations:
        assert g.objective == pytest.approx(g.prior + g.loglik, abs=1e-6)


def test_after_a_refresh_only_rescored_drafts_are_ranked_as_current(tmp_path):
    """A step-3 refresh rescores the population under refitted models; drafts left out keep
    scores of the old models, which the posterior mixture and `show` must not compare."""
    run = _copy(tmp_path)
    view = load_run(run)
    stale, kept = view.ranked()[:2]
    g = view.generations[-1].generation + 1
    rescored = {"event": "score", "generation": g, "id": kept.id, "text": kept.text,
                "parents": [], "operator": "given", "prior": -40.0, "loglik": -10.0,
                "objective": -50.0, "complete": True, "n_scored": kept.n_scored}
    _append(run, {"event": "select", "generation": g, "best": kept.id,
                  "best_objective": kept.objective, "population": [kept.id]},
            rescored, {"event": "refresh", "generation": g})
    view = load_run(run)
    assert view.ranked()[0].id == stale.id            # its old, higher score is still logged
    assert [d.id for d in view.ranked(current=True)] == [kept.id]
    assert view.drafts[kept.id].objective == -50.0 and not view.drafts[stale.id].current
    assert "top 5 hypotheses (scored under the last refit models)" in _text(show_view(view))


def test_lineage_shows_a_shared_ancestor_once(tmp_path):
    run = _copy(tmp_path)
    view = load_run(run)
    a, b = view.ranked()[:2]
    child = add_draft(run, "Crossed.", view.best().objective - 1, a.id)
    events = (run / "events.jsonl").read_text().replace(
        f'"parents": ["{a.id}"], "operator": "refine"',
        f'"parents": ["{a.id}", "{a.id}"], "operator": "crossover"')
    (run / "events.jsonl").write_text(events)
    out = _text(lineage_tree(load_run(run), child))
    assert out.count(a.id) == 2 and "(shown above)" in out


def test_report_escapes_task_and_model_text_too(tmp_path):
    run = _copy(tmp_path)
    task = json.loads((run / "task.json").read_text())
    ids = set(load_run(run).best().example_loglik)
    for e in task["train"]:
        if e["id"] in ids:
            e["input"] = EVIL
    (run / "task.json").write_text(json.dumps(task))
    lines = (run / "events.jsonl").read_text().splitlines()
    start = json.loads(lines[0])
    start["model"] = EVIL
    (run / "events.jsonl").write_text("\n".join([json.dumps(start)] + lines[1:]) + "\n")
    html = render(load_run(run))
    assert "<script" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;") >= 3


def test_show_puts_z_star_beside_its_baselines_and_reads_at_80_columns(tmp_path):
    import igtext
    from conftest import scripted_lm, toy_task
    igtext.search(toy_task(8), model=scripted_lm(), out_dir=tmp_path / "run",
                  cache_dir=tmp_path / "c", generations=1, population=2,
                  settings={"search.offspring": 1, "search.elite": 1,
                            "likelihood.search_examples": 4})
    buf = io.StringIO()
    show(tmp_path / "run", console=Console(file=buf, width=80, color_system=None))
    out = buf.getvalue()
    assert "baseline no z: D 0.250, D' 0.250" in out and "baseline chance" in out
    assert "z* does NOT beat the baselines on D': 1.000 against 1.000 (TF-IDF + LR on D)" in out
    assert max(len(ln) for ln in out.splitlines()) <= 80
    assert "Label by the cue word: blue means husky;" in out       # the text column is wide
    assert "acc: accuracy on the search's scoring subset of D" in out


def test_follow_piped_prints_each_new_generation(tmp_path):
    run = _copy(tmp_path)
    _unfinish(run, keep=3)
    events = (RECORDED / "events.jsonl").read_text()
    buf, naps = io.StringIO(), []

    def sleep(s):
        naps.append(s)
        if len(naps) == 2:                    # the run goes on to its end meanwhile
            (run / "events.jsonl").write_text(events)
            shutil.copy(RECORDED / "result.json", run / "result.json")
    follow(run, interval=0, console=Console(file=buf, width=100, color_system=None),
           timeout=30, sleep=sleep)
    out = buf.getvalue()
    assert out.count("generations") == 2 and ": finished" in out
