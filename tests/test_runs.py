import json

import numpy as np
import pytest
import torch

from ganret_lib.core import runs


def test_unknown_profile_lists_the_choices():
    with pytest.raises(ValueError, match="smoke.*quick.*full"):
        runs.profile_config("fast", {"smoke": 1, "quick": 2, "full": 3})
    assert runs.profile_config("quick", {"smoke": 1, "quick": 2, "full": 3}) == 2


def test_seeding_repeats_every_generator():
    def draw():
        runs.seed_everything(7, threads=1)
        return np.random.rand(), torch.rand(3).tolist(), __import__("random").random()

    assert draw() == draw()
    assert torch.get_num_threads() == 1


def test_results_record_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    rows = [{"method": "raw", "label_free": True, "map_all": 0.5}]
    path = runs.write_results("ch", "quick", {"dataset": "d", "n_db": 1, "n_queries": 1}, rows,
                              seed=0, wall_s=1.23, config={"a": 1})
    assert path == tmp_path / "data" / "results" / "quick" / "ch.json"
    record = json.loads(path.read_text())
    assert {"chapter", "profile", "protocol", "rows", "provenance"} <= record.keys()
    assert {"seed", "versions", "hardware", "commit", "dirty", "wall_s"} <= record["provenance"].keys()
    assert record["provenance"]["seed"] == 0 and record["rows"] == rows
    assert record["provenance"]["commit"] is None and record["provenance"]["dirty"] is None  # no git here
    assert runs.read_results("ch", "quick") == record
    other = runs.write_results("ch", "quick", {}, rows, seed=3, wall_s=1.0)
    assert other == tmp_path / "data" / "results" / "quick" / "seeds" / "ch-seed3.json"
    assert path.read_text() == json.dumps(record, indent=1) + "\n"  # seed 0's record untouched
    assert list(runs.seed_records("ch", "quick")) == [0, 3]
    assert runs.read_results("ch", "quick", seed=3)["provenance"]["seed"] == 3
    with pytest.raises(FileNotFoundError, match="profile='full'"):
        runs.read_results("ch", "full")
    assert runs.read_results("ch", "full", missing_ok=True) == {}
    with pytest.raises(ValueError, match="label_free"):
        runs.write_results("ch", "quick", {}, [{"method": "x"}], seed=0, wall_s=0)


def test_provenance_says_whether_the_tree_was_dirty(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    (tmp_path / "ganret_lib").mkdir()
    (tmp_path / "ganret_lib" / "a.py").write_text("x = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "c"]):
        subprocess.run(git + args, cwd=tmp_path, check=True)
    assert runs.provenance(0, 1.0)["dirty"] is False
    (tmp_path / "ganret_lib" / "a.py").write_text("x = 2\n")
    assert runs.provenance(0, 1.0)["dirty"] is True


def test_a_chapter_is_dirty_only_through_the_library_or_its_own_source(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    for path in ("ganret_lib/a.py", "notebooks/01_one.py", "notebooks/01_one.ipynb", "notebooks/02_two.py"):
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text("x = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "c"]):
        subprocess.run(git + args, cwd=tmp_path, check=True)
    # an earlier chapter's fresh outputs, as `make book` leaves them
    (tmp_path / "notebooks" / "01_one.ipynb").write_text("executed\n")
    (tmp_path / "notebooks" / "01_one.py").write_text("x = 2\n")
    assert runs.provenance(0, 1.0, chapter="02_two")["dirty"] is False
    assert runs.provenance(0, 1.0, chapter="01_one")["dirty"] is True
    (tmp_path / "ganret_lib" / "a.py").write_text("x = 2\n")
    assert runs.provenance(0, 1.0, chapter="02_two")["dirty"] is True


def test_the_processors_widest_vector_instructions_are_recorded(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("model name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 fma\n")
    assert runs.simd_level(info) == "avx2"
    info.write_text("flags\t\t: fpu sse4_2 avx avx2 avx512f avx512bw\n")
    assert runs.simd_level(info) == "avx512f"
    assert runs.simd_level(tmp_path / "absent") is None
    assert "simd" in runs.provenance(seed=0, wall_s=1.0)["hardware"]
