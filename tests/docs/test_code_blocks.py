"""The documentation: every ```python block of the README and of docs/*.md runs, page by page in one
namespace (a page reads like one session), in a fresh folder; there is no way to skip a block, so
a page that needs data makes it. ``RNNKIT_DOCS_QUICK=1`` is set while they run: the switch an example
too long for the test suite reads to shrink its settings (docs/choosing.md uses it: one seed instead
of three).
And the MkDocs site builds with --strict."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def blocks(page: Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNKIT_DOCS_QUICK", "1")
    namespace = {"__name__": "__docs__"}
    for i, code in enumerate(blocks(page)):
        try:
            exec(compile(code, f"{page.name}[block {i + 1}]", "exec"), namespace)
        except Exception as e:   # noqa: BLE001 - any failure of an example fails the page
            raise AssertionError(f"{page.name}, python block {i + 1} fails: {type(e).__name__}: {e}\n{code}") from e


def test_the_block_finder_finds_blocks():
    assert len(blocks(ROOT / "README.md")) >= 2
    assert sum(len(blocks(p)) for p in PAGES) >= 8


def test_the_site_builds_strictly(tmp_path):
    """`make docs`: the MkDocs site with the API reference, no broken link or reference (--strict)."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir",
                        str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stderr
    api = (tmp_path / "site" / "api" / "ops" / "index.html").read_text(encoding="utf-8")
    assert "rnnkit.ops.lstm" in api and "backward" in api        # the docstrings made it into the pages
    for page in ("your-data", "sklearn", "deploy", "distributed", "gradients", "design", "choosing", "ragged",
                 "interop", "speed", "troubleshooting", "course/sequences", "course/forward-and-bptt",
                 "course/cost-and-overfitting", "course/gated-and-deep", "course/applications", "course/future"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page
