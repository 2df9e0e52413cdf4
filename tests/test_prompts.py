import pytest

from igtext.errors import TemplateError
from igtext.prompts import KINDS, load_template


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_default_templates_load(kind):
    t = load_template(kind)
    assert len(t.hash) == 12 and t.text


def test_unknown_placeholder_is_named(tmp_path):
    p = tmp_path / "refine.j2"
    p.write_text("Fix this:\n{{ z }}\nWrong: {{ erors }}\n")
    with pytest.raises(TemplateError) as e:
        load_template("refine", p)
    assert "'erors'" in str(e.value) and str(p) in str(e.value) and e.value.line == 3


def test_missing_value_is_an_error_not_empty():
    t = load_template("simplify")
    with pytest.raises(TemplateError, match="z"):
        t.render(labels=[], task_description="")


def test_render_and_hash_change_with_text(tmp_path):
    p = tmp_path / "s.j2"
    p.write_text("Shorten: {{ z }}")
    a = load_template("simplify", p)
    assert a.render(z="do X", labels=[], task_description="") == "Shorten: do X"
    p.write_text("Shorten please: {{ z }}")
    assert load_template("simplify", p).hash != a.hash


def test_syntax_error_names_line(tmp_path):
    p = tmp_path / "bad.j2"
    p.write_text("ok\n{% if z %}\nno end\n")
    with pytest.raises(TemplateError, match="syntax"):
        load_template("simplify", p)


def test_parsed_once_not_at_every_render(monkeypatch):
    import jinja2

    t = load_template("simplify")
    monkeypatch.setattr(jinja2.Environment, "parse", lambda *a, **k: pytest.fail("parsed again"))
    monkeypatch.setattr(jinja2.Environment, "from_string",
                        lambda *a, **k: pytest.fail("compiled again"))
    values = dict(z="do X", labels=["a", "b"], task_description="")
    assert t.render(**values) == t.render(**values) and "do X" in t.render(**values)


def test_pickles_and_copies():
    import copy
    import pickle

    t = load_template("refine")
    for u in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert u == t and u.hash == t.hash
        values = dict(z="z", errors=[], examples=[], labels=["a"], task_description="")
        assert u.render(**values) == t.render(**values)
