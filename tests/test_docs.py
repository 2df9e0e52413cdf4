"""The documentation stays true: the configuration reference matches the config models,
the README stays short, and no relative link points at nothing."""
import re
from pathlib import Path

import pytest

from igtext import configref

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def test_configuration_reference_is_current():
    page = ROOT / "docs" / "configuration.md"
    assert page.read_text(encoding="utf-8") == configref.render(), (
        f"docs/configuration.md is out of date with igtext/config.py; regenerate it with "
        f"`{configref.COMMAND}` and commit it")


def test_readme_is_short():
    n = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n <= 200, f"README.md has {n} lines; keep it to 200 and move detail into docs/"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page (duplicates get -1, -2, ...)."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = "".join(ch for ch in m.group(1).lower() if ch.isalnum() or ch in "-_ ")
        slug = slug.replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)        # a link inside a code span is not a link
    return LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):      # http:, mailto:, ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: " + "; ".join(broken)


def test_link_checker_sees_links_and_anchors(tmp_path):
    """The checker itself: it finds a plain link, skips code, and knows GitHub's anchors."""
    page = tmp_path / "p.md"
    page.write_text("# A `b` c.d\n\n## Same\n\n## Same\n\n[x](q.md#y) `[no](z.md)`\n"
                    "```\n[no](z.md)\n```\n")
    assert _links(page) == ["q.md#y"]
    assert _anchors(page) == {"a-b-cd", "same", "same-1"}


def test_reference_picks_up_new_sections_without_edits():
    """A section added later (here a `lora:` section of named recipes) is rendered by the
    same generic walk: nested headings, map values, constraints, validator docstrings."""
    import types
    from typing import Optional

    from pydantic import BaseModel, ConfigDict, Field, model_validator

    mod = types.ModuleType("fake_config")

    class Recipe(BaseModel):
        """One LoRA recipe."""
        model_config = ConfigDict(extra="forbid")
        rank: int = Field(16, ge=1, le=256, description="adapter rank")

    class Lora(BaseModel):
        prior: Recipe = Recipe()
        named: dict[str, Recipe] = {}
        extra: Optional[Recipe] = None

        @model_validator(mode="after")
        def _check(self):
            """at most 8 named recipes"""
            return self

    class Root(BaseModel):
        seed: int = 0
        lora: Lora = Lora()

    for cls in (Recipe, Lora, Root):
        cls.__module__ = mod.__name__
        setattr(mod, cls.__name__, cls)
    assert configref.roots(mod) == [Root]
    text = configref.render(mod)
    for heading in ("## Root", "### `lora`", "### `lora.prior`", "### `lora.named.*`",
                    "### `lora.extra`"):
        assert f"\n{heading}\n" in text, heading
    assert "| `rank` | int | `16` | ≥ 1, ≤ 256 | adapter rank |" in text
    assert "Checked: at most 8 named recipes" in text
    assert "map from str to [section](#loranamed)" in text
