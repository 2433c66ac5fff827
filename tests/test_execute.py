"""`make execute` runs each chapter through scripts/execute_notebook.py: an interrupted or failed
run must leave the notebook byte for byte as it was."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "execute_notebook.py"


def write_notebook(path: Path, *sources: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path.read_bytes()


def run(notebook: Path, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), str(notebook.relative_to(cwd))], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_a_successful_run_replaces_the_notebook(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    before = write_notebook(notebook, "print(6 * 7)")
    process = run(notebook, tmp_path)
    assert process.wait(timeout=120) == 0, process.stdout.read()
    assert notebook.read_bytes() != before and "42" in notebook.read_text()
    assert not any(p.name.endswith(".running.ipynb") for p in tmp_path.iterdir())


def test_a_failed_run_leaves_the_notebook_unchanged_and_keeps_the_run(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    before = write_notebook(notebook, "print('first')", "raise ValueError('planted')")
    process = run(notebook, tmp_path)
    assert process.wait(timeout=120) != 0
    assert "unchanged" in process.stdout.read()
    assert notebook.read_bytes() == before
    assert "planted" in (tmp_path / "_build" / "failed" / "nb.ipynb").read_text()


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a process group")
def test_an_interrupted_run_leaves_the_notebook_unchanged(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    started = tmp_path / "started"
    before = write_notebook(notebook, "print('first cell done')",
                            f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(60)")
    # a background job (CI, `make test &`) inherits SIGINT ignored; a terminal's Ctrl-C is not
    process = run(notebook, tmp_path, start_new_session=True,
                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 90
        while not started.exists():  # interrupt during the second cell, after the first has output
            assert time.time() < deadline and process.poll() is None, process.stdout.read()
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends to `make book`
        assert process.wait(timeout=60) != 0
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # nothing of the run outlives the test
        except ProcessLookupError:
            pass
    assert "unchanged" in process.stdout.read()
    assert notebook.read_bytes() == before
    assert not any(p.name.endswith(".running.ipynb") for p in tmp_path.iterdir())
