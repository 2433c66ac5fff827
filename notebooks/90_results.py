# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -papermill,-execution
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

# %% [markdown]
# (ch-results)=
# # Results
#
# Every table on this page is rendered from the results records in `data/results/`, written by the
# chapters themselves; none is typed by hand. Quick-profile numbers come from class-balanced
# subsets (the protocol line of each table says which); full-profile numbers use the whole
# protocol. Run times are the wall times recorded by each run, on the hardware it names.

# %% tags=["parameters"]
profile = "quick"  # unused: this page shows every profile's records
seed = 0

# %%
import json

from IPython.display import Markdown, display

from ganret_lib import runs, viz

records = sorted((runs.project_root() / "data" / "results").glob("*/*.json"))
records = [path for path in records if path.parent.name != "smoke"]  # smoke runs only test the code
by_chapter = {}
for path in records:
    record = json.loads(path.read_text())
    by_chapter.setdefault(record["chapter"], []).append(record)

# %%
for chapter, chapter_records in sorted(by_chapter.items()):
    display(Markdown(f"## {chapter}"))
    for record in sorted(chapter_records, key=lambda r: ["smoke", "quick", "full"].index(r["profile"])):
        p, prov = record["protocol"], record["provenance"]
        display(Markdown(
            f"**{record['profile']} profile**: {p.get('n_queries')} queries, {p.get('n_db')} database "
            f"images, subset: {p.get('subset', 'n/a')}; seed {prov['seed']}, "
            f"{prov['wall_s']:.0f} s on {prov['hardware'].get('gpu') or str(prov['hardware'].get('cpu_count')) + ' CPU cores'}, "
            f"commit `{(prov.get('commit') or 'uncommitted')[:10]}`."))
        rows = record.get("summary_rows") or record["rows"]  # long records carry a compact summary
        hidden = {"pr_curve", "n_queries", "n_queries_without_relevant", "n_relevant"}
        columns = [k for k in rows[0] if k not in hidden and not k.startswith("r_at_")]
        display(Markdown(viz.results_table(rows, columns=columns)))

# %% [markdown]
# ## Run times
#
# Wall time of each chapter's last recorded run, per profile, in seconds. A chapter that found its
# trained models in `runs/` reports the time to load them; the training time of its models, over
# all sessions of the run, is the last column.

# %%
lines = ["| chapter | profile | wall time (s) | hardware | model training (s) |", "|---|---|---|---|---|"]
for chapter, chapter_records in sorted(by_chapter.items()):
    for record in chapter_records:
        hw = record["provenance"]["hardware"]
        training = record.get("training", {})  # every model's training time, summed
        times = [v for k, v in training.items() if k.endswith("train_s")]
        trained = round(sum(times), 1) if times else ""
        lines.append(f"| {chapter} | {record['profile']} | {record['provenance']['wall_s']:.0f} | "
                     f"{hw.get('gpu') or str(hw.get('cpu_count')) + ' CPU cores'} | {trained} |")
display(Markdown("\n".join(lines)))
