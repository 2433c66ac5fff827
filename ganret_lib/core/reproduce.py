"""Reproduction with a verdict (`make reproduce`, the results page): every number of a re-run
results record against the committed one, under the tolerances of data/results/tolerances.toml.

A number is named by its path in the record, rows labelled by their method
(`rows[3: raw pixels].map_all`); its tolerance is looked up by the last key of that path
(`map_all`). Integers (sizes, counts, configuration) must be equal unless a rule says otherwise
(a choice made on validation data may flip on other hardware); timings (keys
ending in `_s`, `_ms`, `qps`, `_per_s`, with everything below them) and provenance are
measurements of the run, not results, and are never compared. A float whose key has no
tolerance in the section that applies is shown but not judged. Across machines a number may also
move as far as another seed moves it: where the chapter has a seed study of the same profile
(`make seeds`), a judged float's tolerance is at least `seed_spread_factor` times its own standard
deviation over those seeds.
"""
from __future__ import annotations

import math
import re
import statistics
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

TIMING = re.compile(r"(_s|_ms|qps|_per_s)$")
HARDWARE_KEYS = ("machine", "cpu", "simd", "cpu_count", "gpu")
VERSION_KEYS = ("torch", "torchvision", "faiss-cpu", "numpy", "scikit-learn")


@dataclass(frozen=True)
class Check:
    key: str
    committed: float | None  # None: the number is missing from that record
    reproduced: float | None
    tolerance: float | None  # None: shown, not judged

    @property
    def deviation(self) -> float:
        if self.committed is None or self.reproduced is None:
            return math.inf
        return abs(self.reproduced - self.committed)

    @property
    def judged(self) -> bool:
        return self.tolerance is not None or math.isinf(self.deviation)

    @property
    def ok(self) -> bool:
        if not self.judged:
            return True
        # a number missing from either record fails, even where a rule only shows it
        return self.tolerance is not None and self.deviation <= self.tolerance


def numbers(record: dict) -> dict[str, float | int]:
    """Every numeric leaf of a record but its provenance and timings, by path."""
    found: dict[str, float | int] = {}

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if not (path == "" and k == "provenance") and not TIMING.search(str(k)):
                    walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                label = f": {v['method']}" if isinstance(v, dict) and "method" in v else ""
                walk(v, f"{path}[{i}{label}]")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[path] = value

    walk(record, "")
    return found


def leaf(key: str) -> str:
    """The last key of a path: `rows[3: x].pr_curve.precision[7]` -> `precision`."""
    return re.sub(r"\[[^\]]*\]", "", key).rsplit(".", 1)[-1]


def same_machine(committed: dict, reproduced: dict) -> bool:
    """Same recorded hardware (processor and its vector instructions included) and package
    versions; a record that does not name both cannot be shown to be from the same machine."""
    a, b = committed["provenance"], reproduced["provenance"]
    hardware = all(a["hardware"].get(k) == b["hardware"].get(k) for k in HARDWARE_KEYS)
    versions = all(a["versions"].get(k) == b["versions"].get(k) for k in VERSION_KEYS)
    named = all(a["hardware"].get(k) is not None for k in ("cpu", "simd"))
    return hardware and versions and named


def load_tolerances(path: Path) -> dict:
    return tomllib.loads(Path(path).read_text())


def tolerance(key: str, value, chapter: str, section: dict) -> float | None:
    """The tolerance of one number: the first matching rule of the section (`shown = true`: not
    judged); else 0 for integers; else its `keys` table by leaf name, then its `default` (None,
    shown, when it has none)."""
    for rule in section.get("rules", []):
        if rule.get("chapter", chapter) == chapter and re.search(rule["match"], key):
            return None if rule.get("shown") else float(rule["tolerance"])
    if isinstance(value, int):
        return 0.0
    found = section.get("keys", {}).get(leaf(key), section.get("default"))
    return None if found is None else float(found)


def seed_spread(records: list[dict]) -> dict[str, float]:
    """{path: standard deviation} of every float that all the records hold (one chapter and
    profile, one record per seed); empty with fewer than two records."""
    if len(records) < 2:
        return {}
    found = [numbers(r) for r in records]
    common = [k for k, v in found[0].items() if isinstance(v, float) and all(k in f for f in found[1:])]
    return {k: statistics.stdev(f[k] for f in found) for k in common}


def compare(committed: dict, reproduced: dict, tolerances: dict, seeds: list[dict] = ()) -> dict:
    """The verdict on one chapter: every check, and a summary a results page can show. `seeds`: the
    chapter's records of other seeds in the committed record's profile (its seed study), whose
    spread, with the committed record's, widens a judged float's tolerance across machines."""
    same = same_machine(committed, reproduced)
    section = tolerances["same_machine" if same else "across_machines"]
    a, b = numbers(committed), numbers(reproduced)
    spread = {} if same else seed_spread([committed, *seeds])
    factor = float(section.get("seed_spread_factor", 0.0))

    def allowed(k):
        found = tolerance(k, a.get(k, b.get(k)), committed["chapter"], section)
        if found is None or k not in spread:
            return found
        return max(found, factor * spread[k])

    checks = [Check(k, a.get(k), b.get(k), allowed(k)) for k in list(a) + [k for k in b if k not in a]]
    judged = [c for c in checks if c.judged]
    failed = [c for c in judged if not c.ok]
    largest = max(judged, key=lambda c: (c.deviation, c.key), default=None)
    return {"chapter": committed["chapter"], "profile": committed["profile"],
            "verdict": "fail" if failed else "pass", "same_machine": same,
            "n_numbers": len(checks), "n_judged": len(judged), "n_failed": len(failed),
            "largest": asdict(largest) | {"deviation": largest.deviation} if largest else None,
            "failures": [asdict(c) | {"deviation": c.deviation} for c in failed[:50]],
            "checks": checks}
