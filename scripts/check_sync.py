"""Each notebooks/NN_slug.py and its NN_slug.ipynb must hold the same cells (type, source, tags),
and no committed output may be stderr (progress bars and their timings differ between runs;
`make sync` drops them).

Each chapter's install cell must name the repository of _config.yml and pin a commit
(scripts/install_cell.py).

Compares the parsed notebooks, so the check does not depend on file times (unlike `jupytext --sync`).
"""
import sys
from pathlib import Path

import jupytext
from install_cell import problems, repository_url


def cells(path: Path):
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in jupytext.read(path).cells]


def main() -> int:
    bad = 0
    pairs = sorted(Path("notebooks").glob("*.py"))
    repository = repository_url()
    for py in pairs:
        nb = py.with_suffix(".ipynb")
        if not nb.exists():
            print(f"{nb} is missing: run `make sync`, then execute it")
            bad += 1
            continue
        noisy = [i for i, c in enumerate(jupytext.read(nb).cells) if c.cell_type == "code"
                 and any(o.get("name") == "stderr" for o in c.get("outputs", []))]
        if noisy:
            print(f"{nb}: cells {noisy} keep stderr outputs (progress bars); run `make sync`")
            bad += 1
            continue
        chapter = int(py.stem.split("_")[0]) < 90  # 90_results is rendered from records, installs nothing
        wrong = problems(jupytext.read(nb).cells, repository) if chapter else []
        if wrong:
            print(f"{nb}: " + "; ".join(wrong))
            bad += 1
            continue
        a, b = cells(py), cells(nb)
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            print(f"{py} and {nb} disagree from cell {first}: edit the .py, run `make sync`, re-execute")
            bad += 1
    print(f"notebook pairs in sync: {len(pairs) - bad} of {len(pairs)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
