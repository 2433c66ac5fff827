"""make reproduce's comparison (ganret_lib.core.reproduce) on hand-made records."""
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ganret_lib.core import reproduce

TOLERANCES = {"same_machine": {"default": 0.0, "rules": [{"chapter": "04_x", "match": r"\+ re-ranking",
                                                           "tolerance": 1e-4}]},
              "across_machines": {"keys": {"map_all": 0.08},
                                  "rules": [{"chapter": "04_x", "match": r"chosen\.", "shown": True}]}}


def record(chapter="04_x", cpu="cpu A", simd="avx2", **rows):
    return {"chapter": chapter, "profile": "full", "protocol": {"n_db": 100},
            "rows": [{"method": m, "label_free": True, "map_all": v, "dim": 64} for m, v in rows.items()],
            "training": {"train_s": 12.0},
            "provenance": {"seed": 0, "wall_s": 30.0, "versions": {"torch": "2.14.1", "numpy": "2.0"},
                           "hardware": {"machine": "x86_64", "cpu": cpu, "simd": simd, "cpu_count": 2,
                                        "gpu": None}}}


def test_numbers_name_rows_by_method_and_skip_timings_and_provenance():
    rec = record(pixels=0.5)
    rec["cost_ms"] = {"pixels": 3.2}  # a table of timings is skipped whole
    found = reproduce.numbers(rec)
    assert found == {"protocol.n_db": 100, "rows[0: pixels].map_all": 0.5, "rows[0: pixels].dim": 64}
    assert reproduce.leaf("rows[3: a.b].pr_curve.precision[7]") == "precision"


def test_same_machine_is_exact_except_where_a_rule_says_why():
    committed = record(pixels=0.5, **{"pixels + re-ranking": 0.6})
    within = copy.deepcopy(committed)
    within["rows"][1]["map_all"] += 5e-5  # inside the re-ranking rule
    within["provenance"]["wall_s"] = 99.0  # timings are never compared
    result = reproduce.compare(committed, within, TOLERANCES)
    assert result["same_machine"] and result["verdict"] == "pass" and result["n_judged"] == 5
    assert result["largest"]["key"] == "rows[1: pixels + re-ranking].map_all"
    assert result["largest"]["deviation"] == pytest.approx(5e-5)
    outside = copy.deepcopy(committed)
    outside["rows"][0]["map_all"] += 1e-12  # exact means exact
    result = reproduce.compare(committed, outside, TOLERANCES)
    assert result["verdict"] == "fail" and [f["key"] for f in result["failures"]] == ["rows[0: pixels].map_all"]


def test_across_machines_uses_the_stated_tolerances_and_integers_stay_exact():
    committed = record(pixels=0.50)
    other = record(cpu="cpu B", pixels=0.57)
    result = reproduce.compare(committed, other, TOLERANCES)
    assert not result["same_machine"] and result["verdict"] == "pass"
    other = record(cpu="cpu B", pixels=0.59)
    assert reproduce.compare(committed, other, TOLERANCES)["verdict"] == "fail"
    other = record(cpu="cpu B", pixels=0.50)
    other["rows"][0]["dim"] = 65
    failures = reproduce.compare(committed, other, TOLERANCES)["failures"]
    assert [f["key"] for f in failures] == ["rows[0: pixels].dim"]


def test_across_machines_a_row_may_move_as_far_as_the_seed_study_moves_it():
    tolerances = copy.deepcopy(TOLERANCES)
    tolerances["across_machines"]["seed_spread_factor"] = 3.0
    committed = record(pixels=0.50, noisy=0.60)
    seeds = [record(pixels=0.50, noisy=0.40), record(pixels=0.50, noisy=0.50)]  # noisy: sd 0.1
    assert reproduce.seed_spread([committed, *seeds])["rows[1: noisy].map_all"] == pytest.approx(0.1)
    moved = record(cpu="cpu B", pixels=0.50, noisy=0.35)  # 0.25 off: beyond 0.08, within 3 x 0.1
    assert reproduce.compare(committed, moved, tolerances)["verdict"] == "fail"
    result = reproduce.compare(committed, moved, tolerances, seeds)
    assert result["verdict"] == "pass" and result["largest"]["tolerance"] == pytest.approx(0.3)
    steady = record(cpu="cpu B", pixels=0.59, noisy=0.60)  # a row the seeds do not move keeps 0.08
    assert reproduce.compare(committed, steady, tolerances, seeds)["verdict"] == "fail"
    too_far = record(cpu="cpu B", pixels=0.50, noisy=0.25)
    assert reproduce.compare(committed, too_far, tolerances, seeds)["verdict"] == "fail"
    same = record(pixels=0.50, noisy=0.61)  # the same machine stays exact, seed study or not
    assert reproduce.compare(committed, same, tolerances, seeds)["verdict"] == "fail"


def test_a_record_without_its_processor_is_not_taken_for_the_same_machine():
    assert not reproduce.same_machine(record(cpu=None), record(cpu=None))
    assert not reproduce.same_machine(record(simd=None), record(simd=None))  # records made before simd
    assert reproduce.same_machine(record(), record())


def test_the_same_processor_name_with_other_vector_instructions_is_another_machine():
    committed = record(pixels=0.50)
    wider = record(simd="avx512f", pixels=0.501)
    result = reproduce.compare(committed, wider, TOLERANCES)
    assert not result["same_machine"] and result["verdict"] == "pass"


def test_a_rule_can_leave_a_learned_integer_unjudged_across_machines_only():
    committed, other = record(pixels=0.5), record(cpu="cpu B", pixels=0.5)
    committed["chosen"] = {"pca_dim": 32}
    other["chosen"] = {"pca_dim": 64}  # a choice on validation data that flipped on other hardware
    result = reproduce.compare(committed, other, TOLERANCES)
    assert result["verdict"] == "pass" and result["n_judged"] == result["n_numbers"] - 1
    same = copy.deepcopy(committed)
    same["chosen"]["pca_dim"] = 64
    assert reproduce.compare(committed, same, TOLERANCES)["verdict"] == "fail"  # on the same machine it must repeat


def test_a_number_missing_from_either_record_fails():
    committed = record(pixels=0.5, pca=0.6)
    result = reproduce.compare(committed, record(pixels=0.5), TOLERANCES)
    assert result["verdict"] == "fail" and result["failures"][0]["reproduced"] is None


def test_a_number_missing_where_a_rule_only_shows_it_fails_without_crashing():
    committed, other = record(pixels=0.5), record(cpu="cpu B", pixels=0.5)
    committed["chosen"] = {"layers": [1, 2, 3]}
    other["chosen"] = {"layers": [3]}  # a shown list of another length: two numbers missing
    result = reproduce.compare(committed, other, TOLERANCES)
    assert result["verdict"] == "fail" and {f["key"] for f in result["failures"]} == {"chosen.layers[1]",
                                                                                     "chosen.layers[2]"}


def test_the_committed_tolerance_file_parses_and_covers_the_headline_metric():
    tolerances = reproduce.load_tolerances(Path(__file__).resolve().parents[1] / "data" / "results" / "tolerances.toml")
    assert tolerances["same_machine"]["default"] == 0.0
    assert tolerances["across_machines"]["keys"]["map_all"] > 0
    json.dumps(tolerances)


SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reproduce.py"
COMMITTED = Path(__file__).resolve().parents[1] / "data" / "results" / "quick" / "01_retrieval_baselines.json"


def compare_records(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--profile", "quick", "--chapter", "01", "--records",
                           str(folder)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("shift, code", [(0.01, 0), (0.5, 1)])
def test_make_tests_comparison_judges_records_written_elsewhere_and_executes_nothing(tmp_path, shift, code):
    rec = json.loads(COMMITTED.read_text())
    rec["rows"][0]["map_all"] += shift
    rec["provenance"]["hardware"]["simd"] = "avx512f"  # another machine: the stated tolerances apply
    (tmp_path / "quick").mkdir()
    (tmp_path / "quick" / COMMITTED.name).write_text(json.dumps(rec))
    reproductions = COMMITTED.parent / "reproduction"
    before = {p.name: p.read_bytes() for p in reproductions.glob("*.json")}
    done = compare_records(tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    assert ("PASS" if code == 0 else "FAIL") in done.stdout and "comparing" in done.stdout
    assert {p.name: p.read_bytes() for p in reproductions.glob("*.json")} == before  # nothing written


def test_make_tests_comparison_fails_when_a_chapter_wrote_no_record(tmp_path):
    (tmp_path / "quick").mkdir()
    done = compare_records(tmp_path)
    assert done.returncode == 1 and "no new record" in done.stdout
