"""`make execute`: run one chapter with papermill into a file beside it, and put the result in
place only when the run succeeded. An interrupted or failed run leaves the notebook exactly as it
was (a failed run is kept under _build/failed/ for reading); papermill alone, writing in place,
would leave a half-executed notebook behind.

A successful run also pins the chapter's install cell (scripts/install_cell.py) to HEAD, the
commit whose library produced its outputs.

Usage: python scripts/execute_notebook.py notebooks/NN_slug.ipynb [papermill options ...]
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from install_cell import head_commit, pin_notebook


def main(argv: list[str]) -> int:
    if not argv or not Path(argv[0]).is_file():
        print("usage: execute_notebook.py NOTEBOOK.ipynb [papermill options]; the notebook must exist")
        return 2
    notebook, options = Path(argv[0]), argv[1:]
    running = notebook.with_name(f".{notebook.stem}.running.ipynb")  # hidden; _config.yml excludes it
    papermill = Path(sys.executable).with_name("papermill")
    command = [str(papermill), "-k", "python3", "--cwd", str(notebook.parent),
               str(notebook), str(running), *options]
    try:
        code = subprocess.run(command).returncode
    except KeyboardInterrupt:
        running.unlink(missing_ok=True)
        print(f"\ninterrupted: {notebook} is unchanged")
        return 130
    if code != 0:
        if running.exists():
            failed = Path("_build/failed") / notebook.name
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(running, failed)
            print(f"the run of {notebook} failed: the notebook is unchanged; the failed run is {failed}")
        return code
    commit, dirty = head_commit()
    if commit and pin_notebook(running, commit=commit) and dirty:
        print(f"note: {notebook} was executed with uncommitted library changes; its install cell "
              f"pins {commit[:10]}, which does not hold them: commit, then execute again")
    os.replace(running, notebook)  # same folder: atomic
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
