"""`make sync`: update each chapter's .ipynb from its edited .py (jupytext --sync), safely.

papermill writes an empty `tags: []` into every cell it executes, and jupytext then restores
that empty list over tags added in the .py (a new `hide-input` tag would vanish on sync).
Empty tag lists are dropped first, keeping each notebook's modification time so that --sync
still takes the newer file as the source.
"""
import os
import subprocess
import sys
from pathlib import Path

import nbformat


def drop_empty_tags(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    empty = [cell for cell in nb.cells if cell.metadata.get("tags") == []]
    if empty:
        stat = path.stat()
        for cell in empty:
            del cell.metadata["tags"]
        nbformat.write(nb, path)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def main() -> int:
    sources = sorted(Path("notebooks").glob("*.py"))
    for py in sources:
        if py.with_suffix(".ipynb").exists():
            drop_empty_tags(py.with_suffix(".ipynb"))
    jupytext = Path(sys.executable).with_name("jupytext")
    return subprocess.run([str(jupytext), "-q", "--sync", *map(str, sources)]).returncode


if __name__ == "__main__":
    sys.exit(main())
