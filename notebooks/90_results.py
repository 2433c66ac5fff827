# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] papermill={"duration": 0.002219, "end_time": "2026-11-22T18:36:24.713650+00:00", "exception": false, "start_time": "2026-11-22T18:36:24.711431+00:00", "status": "completed"}
# (ch-results)=
# # Results
#
# Every table on this page is rendered from the results records in `data/results/`, written by the
# chapters themselves; none is typed by hand. Quick-profile numbers come from class-balanced
# subsets (the protocol line of each table says which); full-profile numbers use the whole
# protocol. Run times are the wall times recorded by each run, on the hardware it names.

# %% papermill={"duration": 0.014293, "end_time": "2026-11-22T18:36:24.729931+00:00", "exception": false, "start_time": "2026-11-22T18:36:24.715638+00:00", "status": "completed"} tags=["parameters"]
profile = "quick"  # unused: this page shows every profile's records
seed = 0

# %% papermill={"duration": 0.516472, "end_time": "2026-11-22T18:36:25.248353+00:00", "exception": false, "start_time": "2026-11-22T18:36:24.731881+00:00", "status": "completed"}
import json

from IPython.display import Markdown, display

from ganret_lib import runs, viz

records = sorted((runs.project_root() / "data" / "results").glob("*/*.json"))
by_chapter = {}
for path in records:
    record = json.loads(path.read_text())
    by_chapter.setdefault(record["chapter"], []).append(record)

# %% papermill={"duration": 0.013207, "end_time": "2026-11-22T18:36:25.262818+00:00", "exception": false, "start_time": "2026-11-22T18:36:25.249611+00:00", "status": "completed"}
for chapter, chapter_records in sorted(by_chapter.items()):
    display(Markdown(f"## {chapter}"))
    for record in sorted(chapter_records, key=lambda r: ["smoke", "quick", "full"].index(r["profile"])):
        p, prov = record["protocol"], record["provenance"]
        display(Markdown(
            f"**{record['profile']} profile**: {p.get('n_queries')} queries, {p.get('n_db')} database "
            f"images, subset: {p.get('subset', 'n/a')}; seed {prov['seed']}, "
            f"{prov['wall_s']:.0f} s on {prov['hardware'].get('gpu') or str(prov['hardware'].get('cpu_count')) + ' CPU cores'}, "
            f"commit `{(prov.get('commit') or 'uncommitted')[:10]}`."))
        display(Markdown(viz.results_table(record["rows"])))

# %% [markdown] papermill={"duration": 0.001125, "end_time": "2026-11-22T18:36:25.265374+00:00", "exception": false, "start_time": "2026-11-22T18:36:25.264249+00:00", "status": "completed"}
# ## Run times
#
# Wall time of each chapter's last recorded run, per profile, in seconds.

# %% papermill={"duration": 0.010428, "end_time": "2026-11-22T18:36:25.276942+00:00", "exception": false, "start_time": "2026-11-22T18:36:25.266514+00:00", "status": "completed"}
lines = ["| chapter | profile | wall time (s) | hardware |", "|---|---|---|---|"]
for chapter, chapter_records in sorted(by_chapter.items()):
    for record in chapter_records:
        hw = record["provenance"]["hardware"]
        lines.append(f"| {chapter} | {record['profile']} | {record['provenance']['wall_s']:.0f} | "
                     f"{hw.get('gpu') or str(hw.get('cpu_count')) + ' CPU cores'} |")
display(Markdown("\n".join(lines)))
