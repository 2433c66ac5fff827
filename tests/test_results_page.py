"""The results page is never stale: its provenance table says what the committed records say
(re-execute it, `make book`, whenever a record changes)."""
import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data" / "results"


def page_rows() -> dict:
    nb = nbformat.read(ROOT / "notebooks" / "90_results.ipynb", as_version=4)
    texts = [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if "text/markdown" in o.get("data", {})]
    table = next(t for t in texts if t.startswith("| chapter | profile | commit |"))
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {(r[0], r[1]): r for r in rows}


def test_the_provenance_table_matches_every_record():
    rows = page_rows()
    records = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*/*.json"))
               if p.parent.name in ("quick", "full")]  # not smoke runs, not benchmarks
    assert len(records) >= 10 and set(rows) == {(r["chapter"], r["profile"]) for r in records}
    for record in records:
        chapter, commit, date, _, wall, _, reproduction = rows[record["chapter"], record["profile"]][:1] + \
            rows[record["chapter"], record["profile"]][2:]
        prov = record["provenance"]
        assert commit == f"`{(prov.get('commit') or 'none')[:10]}`", chapter
        assert date == prov.get("date", "") and wall == f"{prov['wall_s']:.0f}", (chapter, record["profile"])
        verdict = RESULTS / record["profile"] / "reproduction" / f"{record['chapter']}.json"
        if verdict.is_file():
            found = json.loads(verdict.read_text())
            assert reproduction.startswith(found["verdict"]) and found["reproduced"]["date"] in reproduction
        else:
            assert reproduction == "-"
