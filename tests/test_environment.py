"""The conda environment and the pip lock file must pin the same versions."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(text: str) -> dict[str, str]:
    return {m[1].lower(): m[2] for m in re.finditer(r"^[\s-]*([A-Za-z0-9_.-]+)==([^\s#]+)", text, re.M)}


def test_environment_yml_agrees_with_lock():
    lock = pins((ROOT / "requirements.lock").read_text())
    env = pins((ROOT / "environment.yml").read_text())
    assert env, "environment.yml pins nothing"
    disagree = {name: (v, lock.get(name)) for name, v in env.items() if lock.get(name) != v}
    assert not disagree, f"environment.yml vs requirements.lock: {disagree}"
