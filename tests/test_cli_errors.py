"""Bad input: one clear line naming file, line and field; exit 2; no run directory."""
import json
import subprocess
import sys

import pytest

from igtext.cli import main


def _task_file(tmp_path, rows, header=None):
    p = tmp_path / "task.jsonl"
    head = header or {"name": "t", "labels": ["a", "b"]}
    p.write_text("\n".join(json.dumps(r) for r in [head] + rows) + "\n")
    return p


GOOD = [{"split": "train", "id": "1", "input": "x", "label": "a"},
        {"split": "test", "id": "2", "input": "y"}]


def _run(capsys, tmp_path, *args):
    out = tmp_path / "run"
    code = main(["run", *map(str, args), "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    return code, err, out


@pytest.mark.parametrize("rows, expect", [
    ([{"split": "train", "id": "1", "input": "x"}], ":2: field 'label': missing"),
    ([{"split": "train", "id": "1", "input": "x", "label": "z"}], ":2: field 'label': unknown label"),
    ([{"split": "test", "id": "1", "input": "x"}], "field 'train': no train examples"),
    (GOOD + [{"split": "train", "id": "1", "input": "x", "label": "a"}], ":4: field 'id': duplicate"),
    ([{"split": "train", "id": [1], "input": "x", "label": "a"}], ":2: field 'id': must be"),
    ([{"split": "train", "id": "1", "input": 3, "label": "a"}], ":2: field 'input': must be"),
])
def test_bad_task_files(capsys, tmp_path, rows, expect):
    code, err, out = _run(capsys, tmp_path, _task_file(tmp_path, rows))
    assert code == 2 and expect in err and "task.jsonl" in err
    assert err.count("\n") == 1 and not out.exists()


def test_bad_bytes_and_huge_line(capsys, tmp_path):
    p = tmp_path / "task.jsonl"
    p.write_bytes(b'{"name": "t"}\n{"split": "train", "id": "1", "input": "\xc3\x28", "label": "a"}\n')
    code, err, out = _run(capsys, tmp_path, p)
    assert code == 2 and "task.jsonl:2:" in err and "UTF-8" in err and not out.exists()
    p.write_bytes(b'{"name": "t"}\n{"split": "train", "id": "1", "input": "' + b"x" * (10 << 20)
                  + b'", "label": "a"}\n')
    code, err, out = _run(capsys, tmp_path, p)
    assert code == 2 and "task.jsonl:2:" in err and "longer than" in err and not out.exists()


@pytest.mark.parametrize("config, expect", [
    ("search:\n  population: -1\n", ":2: field 'search.population'"),
    ("search:\n  strategy: annealing\n", ":2: field 'search.strategy'"),
    ("budget:\n  max_calls: 0\n", ":2: field 'budget.max_calls'"),
    ("seach:\n  population: 3\n", ":1: field 'seach': unknown field (did you mean 'search'?)"),
    ("prior: [1, 2\n", "not valid YAML"),
])
def test_bad_configs(capsys, tmp_path, config, expect):
    c = tmp_path / "cfg.yaml"
    c.write_text(config)
    code, err, out = _run(capsys, tmp_path, _task_file(tmp_path, GOOD), "--config", c)
    assert code == 2 and "cfg.yaml" in err and expect in err and not out.exists()


@pytest.mark.parametrize("args, expect", [
    (["--model", "gpt-9"], "unknown model 'gpt-9'"),
    (["--model", "hf:/nonexistent"], "no transformers model directory"),
    (["--max-calls", "0"], "field 'budget.max_calls'"),
    (["--max-calls", "3"], "cannot score even one hypothesis"),
])
def test_bad_flags(capsys, tmp_path, args, expect):
    code, err, out = _run(capsys, tmp_path, _task_file(tmp_path, GOOD), *args)
    assert code == 2 and expect in err and not out.exists()


def test_unknown_task_and_template_placeholder(capsys, tmp_path):
    code, err, out = _run(capsys, tmp_path, "builtin:nope")
    assert code == 2 and "unknown built-in task 'nope'" in err
    code, err, out = _run(capsys, tmp_path, tmp_path / "missing.jsonl")
    assert code == 2 and "missing.jsonl: task file not found" in err
    tpl = tmp_path / "p.j2"
    tpl.write_text("Improve {{ z }} using {{ mistakes }}")
    code, err, out = _run(capsys, tmp_path, _task_file(tmp_path, GOOD), "--proposal-prompt", tpl)
    assert code == 2 and "unknown placeholder 'mistakes'" in err and "p.j2:1" in err
    code, err, out = _run(capsys, tmp_path, _task_file(tmp_path, GOOD),
                          "--proposal-prompt", f"mutate={tpl}")
    assert code == 2 and "unknown operator 'mutate'" in err


def test_non_empty_out_dir_is_refused(capsys, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    code, err, _ = _run(capsys, tmp_path, _task_file(tmp_path, GOOD))
    assert code == 2 and "not empty" in err and (out / "keep.txt").read_text() == "precious"


def test_resume_and_show_on_missing_dirs(capsys, tmp_path):
    assert main(["resume", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["show", str(tmp_path)]) == 2


def test_no_traceback_from_the_real_command(tmp_path):
    p = _task_file(tmp_path, [{"split": "train", "id": "1", "input": "x", "label": "q"}])
    r = subprocess.run([sys.executable, "-m", "igtext.cli", "run", str(p), "--out",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("igtext: error:") and r.stderr.count("\n") == 1


@pytest.mark.parametrize("text, expect", [
    ("Fix: {{ z | no_such_filter }}", "No filter named 'no_such_filter'"),
    ("{% include 'other.j2' %} {{ z }}", "fails when rendered with sample values"),
    ("{{ z }} {{ 1 // 0 }}", "ZeroDivisionError"),
    ("   \n", "the template is empty"),
    ("{% if false %}{{ z }}{% endif %}", "renders as empty text"),
    ("{{ z }} " + "word " * 20000, "at most 65536 fit"),
])
def test_template_errors_found_before_anything_is_written(capsys, tmp_path, text, expect):
    bad = tmp_path / "bad.j2"
    bad.write_text(text)
    code, err, out = _run(capsys, tmp_path, "builtin:husky", "--proposal-prompt",
                          f"refine={bad}")
    assert code == 2 and expect in err and "bad.j2" in err, err
    assert err.count("\n") == 1 and not out.exists()


def _deep_jsonl(tmp_path):
    p = tmp_path / "deep.jsonl"
    p.write_text(json.dumps({"name": "t", "labels": ["a", "b"]}) + "\n" + "[" * 200_000 + "\n")
    return p, ":2: nested more than 64 levels deep"


def _deep_yaml(tmp_path):
    p = tmp_path / "deep.yaml"
    p.write_text("name: t\nlabels: [a, b]\ntrain: " + "[" * 100_000 + "\n")
    return p, "deep.yaml: nested more than 64 levels deep"


def _huge_id(tmp_path):
    p = tmp_path / "huge.jsonl"
    p.write_text(json.dumps({"name": "t", "labels": ["a", "b"]}) + "\n"
                 + '{"split": "train", "id": ' + "7" * 5000 + ', "input": "x", "label": "a"}\n')
    return p, ":2: not usable JSON: Exceeds the limit"


def _duplicate_yaml_key(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("name: t\nlabels: [a, b]\nname: u\ntrain:\n  - {id: 1, input: x, label: a}\n")
    return p, "dup.yaml:3: not valid YAML: duplicate key 'name' (first on line 1)"


@pytest.mark.parametrize("make", [_deep_jsonl, _deep_yaml, _huge_id, _duplicate_yaml_key])
def test_deep_huge_and_duplicate_input_is_one_line(capsys, tmp_path, make):
    p, expect = make(tmp_path)
    code, err, out = _run(capsys, tmp_path, p)
    assert code == 2 and expect in err, err
    assert err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("line, expect", [
    ("[" * 200_000, ":1: nested more than 64 levels deep"),
    ('{"kind": "comparison", "z_a": "x", "z_b": "y", "winner": "a", "annotator": "p", '
     '"source": "person", "time": Infinity}', ":1: not usable JSON: Infinity is not a finite"),
])
def test_judgment_imports_refuse_deep_and_infinite_input(capsys, tmp_path, line, expect):
    f = tmp_path / "j.jsonl"
    f.write_text(line + "\n")
    code = main(["judgments", "import", str(f), "--store", str(tmp_path / "s.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and expect in err and err.count("\n") == 1, err


def test_a_one_label_task_is_refused(capsys, tmp_path):
    p = tmp_path / "one.jsonl"
    p.write_text(json.dumps({"name": "t", "labels": ["a"]}) + "\n"
                 + json.dumps({"split": "train", "id": 1, "input": "x", "label": "a"}) + "\n")
    code, err, out = _run(capsys, tmp_path, p)
    assert code == 2 and "one.jsonl:1: field 'labels': needs at least two labels" in err
    assert not out.exists()


def test_a_corrupt_lm_cache_is_named_before_anything_is_written(capsys, tmp_path):
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "lm_cache.sqlite").write_bytes(b"this is not a database" * 100)
    code, err, out = _run(capsys, tmp_path, "builtin:husky")
    assert code == 2 and "lm_cache.sqlite" in err and "move it aside" in err, err
    assert err.count("\n") == 1 and not out.exists()


def test_bare_igtext_prints_help_and_version_is_known(capsys):
    assert main([]) == 0
    assert "usage: igtext" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    from igtext import __version__
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"igtext {__version__}"


@pytest.mark.parametrize("command", [
    ["fit-prior", "--store", "{tmp}/j.sqlite", "--out", "{tmp}/a"],
    ["fit-likelihood", "--store", "{tmp}/j.sqlite", "--task", "builtin:husky", "--out", "{tmp}/a"],
    ["train-proposer", "--data", "{tmp}/traces.jsonl", "--out", "{tmp}/a"],
])
@pytest.mark.parametrize("recipe, expect", [
    ("epochs: 2\nrnak: 4\n", ":2: field 'rnak': unknown field (did you mean 'rank'?)"),
    ("epochs: 2\nlr: -0.1\n", ":2: field 'lr'"),
    ("targets: [q_proj]\nschedule: step\n", ":2: field 'schedule'"),
])
def test_bad_recipe_file_on_a_fit_command(capsys, tmp_path, command, recipe, expect):
    c = tmp_path / "lora.yaml"
    c.write_text(recipe)
    code = main([a.format(tmp=tmp_path) for a in command] + ["--config", str(c)])
    err = capsys.readouterr().err
    assert code == 2 and f"{c}{expect}" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lora.yaml"]     # nothing made


def test_bad_flag_on_a_fit_command(capsys, tmp_path):
    code = main(["fit-prior", "--store", str(tmp_path / "j.sqlite"), "--out", str(tmp_path / "a"),
                 "--rank", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "command line: field 'rank'" in err and err.count("\n") == 1


def test_fit_follower_needs_an_out_or_an_adapter_to_calibrate(capsys, tmp_path):
    assert main(["fit-follower"]) == 2
    err = capsys.readouterr().err
    assert "field '--out': required" in err and err.count("\n") == 1
    assert main(["fit-follower", "--calibrate", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "no such adapter directory" in err and err.count("\n") == 1
    prior = tmp_path / "prior"
    prior.mkdir()
    (prior / "igtext_adapter.json").write_text(json.dumps({"kind": "prior",
                                                           "base_model": "smollm2-135m"}))
    assert main(["fit-follower", "--calibrate", str(prior)]) == 2
    err = capsys.readouterr().err
    assert "not a likelihood" in err and err.count("\n") == 1
    (prior / "igtext_adapter.json").write_text(json.dumps({"kind": "likelihood",
                                                           "base_model": "smollm2-135m"}))
    assert main(["fit-follower", "--calibrate", str(prior)]) == 2
    err = capsys.readouterr().err
    assert "reads z whole" in err and "field '--calibrate'" in err and err.count("\n") == 1
    assert main(["fit-follower", "--prior", "--out", str(tmp_path / "p2"),
                 "--init", str(prior)]) == 2
    err = capsys.readouterr().err
    assert "not a prior" in err and "field '--init'" in err and err.count("\n") == 1


@pytest.mark.parametrize("text, expect", [
    ("seed: true\n", "c.yaml:1: field 'seed': Input should be a valid integer"),
    ("prior:\n  weight: .inf\n", "c.yaml:2: field 'prior.weight': Input should be a finite number"),
    ("seed: 1\nsearch: {generations: 2}\nseed: 2\n", "c.yaml:3: not valid YAML/JSON: duplicate key 'seed'"),
    ("search: " + "[" * 100_000 + "\n", "c.yaml: nested more than 64 levels deep"),
])
def test_config_values_are_taken_strictly(capsys, tmp_path, text, expect):
    (tmp_path / "c.yaml").write_text(text)
    code, err, out = _run(capsys, tmp_path, "builtin:husky", "--config", tmp_path / "c.yaml")
    assert code == 2 and expect in err, err
    assert err.count("\n") == 1 and not out.exists()
