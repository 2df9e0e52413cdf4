"""The typed run records: what run writes is what readers read, and a run directory of
another format is named as such."""
import json
import shutil
from pathlib import Path

import pytest

from igtext.errors import RunDirError
from igtext.records import (FORMAT, EVENTS, Checkpoint, RunResult, parse_event, read_record)
from igtext.rundir import RunDir, read_result
from igtext.runview import load_run

RECORDED = Path(__file__).parent / "data" / "recorded_run"


def _copy(tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(RECORDED, run)
    return run


def test_every_record_of_a_real_run_reads_typed():
    rd = RunDir(RECORDED)
    result = read_result(rd)
    assert isinstance(result, RunResult) and result.best.text and result.lm_calls > 0
    assert isinstance(read_record(Checkpoint, rd.checkpoint).log_offset, int)
    for line in rd.events.read_text().splitlines():
        data = json.loads(line)
        event = parse_event(data)
        assert type(event) is EVENTS[data["event"]]
        # nothing the writer put in the line is lost by the record
        assert set(data) <= set(event.to_dict())


def test_records_round_trip_through_json():
    result = read_result(RunDir(RECORDED))
    again = RunResult.model_validate(json.loads(json.dumps(result.to_dict())))
    assert again == result


def test_a_run_directory_of_a_newer_format_is_refused_by_name(tmp_path):
    run = _copy(tmp_path)
    data = json.loads((run / "result.json").read_text())
    (run / "result.json").write_text(json.dumps({**data, "format": FORMAT + 1}))
    with pytest.raises(RunDirError, match=r"result\.json.*newer igtext \(format 2\)"):
        read_result(RunDir(run))
    with pytest.raises(RunDirError, match="newer igtext"):
        load_run(run)


def test_an_older_file_missing_a_field_says_it_is_older(tmp_path):
    run = _copy(tmp_path)
    data = json.loads((run / "result.json").read_text())
    data.pop("format", None)
    del data["lm_calls"]
    (run / "result.json").write_text(json.dumps(data))
    with pytest.raises(RunDirError) as e:
        read_result(RunDir(run))
    msg = str(e.value)
    assert "result.json" in msg and "field 'lm_calls'" in msg and "older igtext: format 0" in msg
    view = load_run(run)                       # the viewer shows the rest and says why
    assert view.result is None and any("older igtext" in w for w in view.warnings)


def test_an_event_line_of_the_wrong_shape_is_skipped_with_its_line_and_field(tmp_path):
    run = _copy(tmp_path)
    lines = (run / "events.jsonl").read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if json.loads(line)["event"] == "score")
    bad = json.loads(lines[n])
    bad["complete"] = "not a boolean"
    lines[n] = json.dumps(bad)
    (run / "events.jsonl").write_text("\n".join(lines) + "\n")
    view = load_run(run)
    assert any(f"events.jsonl:{n + 1}: a 'score' event with field 'complete'" in w
               for w in view.warnings)
