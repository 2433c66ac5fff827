"""The install cell each chapter opens with: on Colab it installs ganret_lib from the book's
repository (`repository.url` in _config.yml, the one place it is set) at the commit the page was
executed with. `make execute` pins the commit after a successful run; `make sync` writes the
repository URL into every chapter (so a fork changes _config.yml and runs `make sync`);
`scripts/check_sync.py` checks both.

The cell, as the chapters hold it (its two assignments are what this module rewrites):

    if "google.colab" in sys.modules:
        repository = "https://github.com/ganret/ganret"  # _config.yml
        commit = "<40 hex digits>"  # the commit this page was executed with
        source = os.environ.get("GANRET_INSTALL", f"git+{repository}@{commit}")
        %pip install -q "ganret_lib @ {source}"
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = re.compile(r'^(    repository = )"[^"]*"', re.M)
COMMIT = re.compile(r'^(    commit = )"[^"]*"', re.M)
HEX40 = re.compile(r"[0-9a-f]{40}")


def repository_url(root: Path = ROOT) -> str:
    return yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]


def head_commit(root: Path = ROOT) -> tuple[str | None, bool]:
    """(HEAD's commit, whether the library or chapters differ from it), or (None, False) outside git."""
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return None, False
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                             "ganret_lib"], capture_output=True, text=True)
    return head.stdout.strip(), bool(status.stdout.strip())


def is_install_cell(source: str) -> bool:
    return '"google.colab" in sys.modules' in source and bool(REPOSITORY.search(source))


def pinned(source: str) -> tuple[str | None, str | None]:
    """(repository, commit) that an install cell's source names."""
    repo, commit = REPOSITORY.search(source), COMMIT.search(source)
    value = re.compile(r'"([^"]*)"')
    return (value.search(repo.group(0)).group(1) if repo else None,
            value.search(commit.group(0)).group(1) if commit else None)


def rewrite(source: str, repository: str | None = None, commit: str | None = None) -> str:
    if repository is not None:
        source = REPOSITORY.sub(lambda m: f'{m.group(1)}"{repository}"', source)
    if commit is not None:
        source = COMMIT.sub(lambda m: f'{m.group(1)}"{commit}"', source)
    return source


def problems(notebook_cells: list, repository: str) -> list[str]:
    """What is wrong with a chapter's install cell (empty when it is right)."""
    cells = [c for c in notebook_cells if c.cell_type == "code" and is_install_cell(c.source)]
    if len(cells) != 1:
        return [f"{len(cells)} install cells (want 1)"]
    repo, commit = pinned(cells[0].source)
    found = []
    if repo != repository:
        found.append(f"install cell names {repo}, _config.yml {repository}: run `make sync`")
    if not (commit and HEX40.fullmatch(commit)):
        found.append(f"install cell pins {commit!r}, not a commit: re-execute the chapter (`make book`)")
    return found


def pin_notebook(path: Path, repository: str | None = None, commit: str | None = None) -> bool:
    """Rewrite the install cell of an .ipynb in place, keeping its modification time (which
    `jupytext --sync` reads); False if the notebook has none."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and is_install_cell(c.source)]
    new = [rewrite(c.source, repository, commit) for c in cells]
    if any(n != c.source for n, c in zip(new, cells)):
        for cell, source in zip(cells, new):
            cell.source = source
        stat = path.stat()
        nbformat.write(nb, path)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return bool(cells)


def pin_source(path: Path, repository: str) -> bool:
    """Rewrite the repository of a chapter's .py twin in place, keeping its modification time."""
    text = path.read_text()
    new = rewrite(text, repository)
    if new != text:
        stat = path.stat()
        path.write_text(new)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return new != text
