"""The chapters' install cell (scripts/install_cell.py): it names _config.yml's repository and the
commit each page was executed with; `make execute` pins the commit, `make sync` the repository."""
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import install_cell  # noqa: E402

CHAPTERS = sorted(p for p in (REPO / "notebooks").glob("[0-8]*.ipynb"))
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def the_cell(cells):
    return next(c for c in cells if c.cell_type == "code" and install_cell.is_install_cell(c.source))


def test_every_chapter_has_one_install_cell_naming_the_configured_repository():
    url = install_cell.repository_url()
    assert url.startswith("https://")
    assert len(CHAPTERS) >= 5
    for path in CHAPTERS:
        assert install_cell.problems(jupytext.read(path).cells, url) == [], path.name


def test_rewrite_changes_only_the_two_assignments():
    source = the_cell(jupytext.read(CHAPTERS[0]).cells).source
    new = install_cell.rewrite(source, "https://example.org/fork", COMMIT)
    assert install_cell.pinned(new) == ("https://example.org/fork", COMMIT)
    assert [a for a in source.splitlines() if "repository =" not in a and "commit =" not in a] == \
           [b for b in new.splitlines() if "repository =" not in b and "commit =" not in b]


def test_problems_name_a_wrong_repository_and_a_missing_pin():
    cells = jupytext.read(CHAPTERS[0]).cells
    cell = the_cell(cells)
    cell.source = install_cell.rewrite(cell.source, "https://example.org/fork", "main")
    found = install_cell.problems(cells, install_cell.repository_url())
    assert len(found) == 2 and "make sync" in found[0] and "'main', not a commit" in found[1]


def test_a_successful_run_pins_the_install_cell_to_head(tmp_path):
    chapter = nbformat.read(CHAPTERS[0], as_version=4)
    cell = the_cell(chapter.cells)
    cell.source = install_cell.rewrite(cell.source, commit="not-yet-pinned")
    notebook = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell("print(1)")],
                                        metadata=chapter.metadata)
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "execute_notebook.py"), path.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert install_cell.pinned(the_cell(nbformat.read(path, as_version=4).cells).source)[1] == head
