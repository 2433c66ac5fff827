"""`make reproduce [CHAPTER=04] [PROFILE=full]`: execute chapters into a scratch folder, compare
every number of each new record with the committed one (ganret_lib.core.reproduce, tolerances in
data/results/tolerances.toml), print the verdict, write a small reproduction record to
data/results/<profile>/reproduction/<chapter>.json, and exit non-zero on a failure.

The committed records are left alone: the chapters write into _build/reproduce/results (a copy of
data/results, so that chapters that show other records still find them), through GANRET_RESULTS.
Trained models found in runs/ are loaded, not retrained; on a fresh clone everything trains.

With --records DIR nothing is executed and nothing is written: the records that something else
already re-wrote into DIR/<profile>/ (`make test` points its nbval run there) are compared with
the committed ones, and every chapter must have re-written its record.

Usage: python scripts/reproduce.py [--chapter NN] [--profile full|quick] [--records DIR]
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ganret_lib.core import reproduce, runs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data" / "results"


def chapters(prefix: str | None) -> list[Path]:
    found = [p for p in sorted((ROOT / "notebooks").glob("[0-8]*.ipynb")) if not prefix or p.name.startswith(prefix)]
    if not found:
        raise SystemExit(f"no chapter notebooks/{prefix}*.ipynb; give CHAPTER as its number, e.g. CHAPTER=01")
    return found


def execute(notebook: Path, profile: str, scratch: Path) -> tuple[int, float]:
    env = os.environ | {runs.RESULTS_ENV: str(scratch / "results")}
    started = time.time()
    code = subprocess.run([str(Path(sys.executable).with_name("papermill")), "-k", "python3", "--cwd",
                           str(notebook.parent), str(notebook),
                           str(scratch / notebook.name), "-p", "profile", profile], env=env).returncode
    return code, time.time() - started


def number(x) -> str:
    return "-" if x is None else f"{x:.6g}"


def table(result: dict, shown: int = 12) -> str:
    """The failures, then the largest deviations, as a plain-text table."""
    checks = sorted(result["checks"], key=lambda c: (c.ok, -min(c.deviation, 1e300), c.key))
    rows = [c for c in checks if not c.ok] or checks[:shown]
    lines = [f"{'key':70s} {'committed':>12s} {'reproduced':>12s} {'deviation':>10s} {'tolerance':>10s}  ok"]
    for c in rows[: max(shown, len([c for c in checks if not c.ok]))]:
        tol = "shown" if c.tolerance is None else f"{c.tolerance:.3g}"
        dev = "missing" if math.isinf(c.deviation) else f"{c.deviation:.3g}"
        lines.append(f"{c.key[:70]:70s} {number(c.committed):>12s} {number(c.reproduced):>12s} {dev:>10s} "
                     f"{tol:>10s}  {'yes' if c.ok else 'NO'}")
    return "\n".join(lines)


def finite(entry: dict | None) -> dict | None:
    """A check for JSON: a missing number has no deviation."""
    if entry is None:
        return None
    return entry | {"deviation": None if math.isinf(entry["deviation"]) else entry["deviation"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapter", help="a chapter's number (e.g. 04); default: every chapter")
    parser.add_argument("--profile", default="full", choices=("quick", "full"))
    parser.add_argument("--records", type=Path,
                        help="compare the records already in this results folder; execute nothing")
    args = parser.parse_args()
    tolerances = reproduce.load_tolerances(RESULTS / "tolerances.toml")
    scratch = ROOT / "_build" / "reproduce" / args.profile
    if not args.records:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(RESULTS, scratch / "results")
    failed = 0
    for notebook in chapters(args.chapter):
        chapter = notebook.stem
        committed_path = RESULTS / args.profile / f"{chapter}.json"
        if not committed_path.is_file():
            print(f"{chapter}: no committed {args.profile} record to reproduce; skipped")
            continue
        committed = json.loads(committed_path.read_text())
        print(f"== {chapter}, {args.profile} profile: {'comparing' if args.records else 'executing'} "
              f"(committed record: {(committed['provenance'].get('commit') or '?')[:10]}, "
              f"{committed['provenance']['wall_s']:.0f} s)")
        code, wall = execute(notebook, args.profile, scratch) if not args.records else (0, 0.0)
        fresh_path = (args.records or scratch / "results") / args.profile / f"{chapter}.json"
        if code != 0 or not fresh_path.is_file() or fresh_path.read_bytes() == committed_path.read_bytes():
            why = f"the run failed (exit {code})" if code else f"no new record in {fresh_path.parent}"
            print(f"{chapter}: FAIL — {why}; see {args.records or scratch / notebook.name}")
            failed += 1
            continue
        fresh = json.loads(fresh_path.read_text())
        seed_study = sorted((RESULTS / args.profile / "seeds").glob(f"{chapter}-seed*.json"))
        seeds = [json.loads(p.read_text()) for p in seed_study]
        result = reproduce.compare(committed, fresh, tolerances, seeds)
        print(table(result))
        largest = result["largest"]
        print(f"{chapter}: {result['verdict'].upper()} — {result['n_judged']} of {result['n_numbers']} numbers "
              f"judged ({'same machine: exact' if result['same_machine'] else 'across machines'}), "
              f"{result['n_failed']} outside tolerance; largest deviation "
              f"{'-' if not largest else number(largest['deviation'])} ({largest['key'] if largest else '-'})"
              + ("" if args.records else f"; {wall:.0f} s"))
        failed += result["verdict"] != "pass"
        if args.records:
            continue
        prov = fresh["provenance"]
        record = {k: v for k, v in result.items() if k not in ("checks", "largest", "failures")} | {
            "largest": finite(largest), "failures": [finite(f) for f in result["failures"]],
            "committed_commit": committed["provenance"].get("commit"),
            "reproduced": {k: prov.get(k) for k in ("commit", "dirty", "date", "hardware", "versions")},
            "wall_s": round(wall, 1)}
        runs.atomic_write_bytes(RESULTS / args.profile / "reproduction" / f"{chapter}.json",
                                (json.dumps(record, indent=1) + "\n").encode())
    print("reproduction: " + ("every chapter passed" if not failed else f"{failed} chapter(s) FAILED"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
