"""`make sync` (and each step of `make execute`): tidy the executed .ipynb, then pair it with its
.py (jupytext --sync).

Tidying, with each notebook's modification time kept so that --sync still takes the newer file
as the source:
- stderr outputs are dropped: they hold progress bars and their timings, which differ on every
  run and which the book does not show;
- empty tag lists are dropped: papermill writes `tags: []` into every cell it executes, and
  jupytext would restore that empty list over tags added in the .py;
- the install cell names the repository of _config.yml (scripts/install_cell.py).
"""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from install_cell import pin_notebook, pin_source, repository_url


def tidy(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
            changed = True
        outputs = [o for o in cell.get("outputs", []) if o.get("name") != "stderr"]
        if cell.cell_type == "code" and len(outputs) != len(cell.outputs):
            cell.outputs, changed = outputs, True
    if changed:
        stat = path.stat()
        nbformat.write(nb, path)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def main(paths: list[str]) -> int:
    sources = [Path(p).with_suffix(".py") for p in paths] or sorted(Path("notebooks").glob("*.py"))
    repository = repository_url()
    for py in sources:
        pin_source(py, repository)
        if py.with_suffix(".ipynb").exists():
            tidy(py.with_suffix(".ipynb"))
            pin_notebook(py.with_suffix(".ipynb"), repository)
    jupytext = Path(sys.executable).with_name("jupytext")
    return subprocess.run([str(jupytext), "-q", "--sync", *map(str, sources)]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
