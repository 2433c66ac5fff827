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

from ganret_lib import viz
from ganret_lib.core import runs

# %%
PROFILES = ["smoke", "quick", "full"]
HIDDEN = {"pr_curve", "n_queries", "n_queries_without_relevant", "n_relevant"}


def hardware(record):
    hw = record["provenance"]["hardware"]
    return hw.get("gpu") or f"{hw.get('cpu_count')} CPU cores"


def heading(record):
    p, prov = record["protocol"], record["provenance"]
    commit = (prov.get("commit") or "uncommitted")[:10]
    # a run from a modified tree names the commit it started from, and says so
    changed = {True: " with uncommitted changes",
               None: " (tree state not recorded)"}
    sizes = ""
    if p.get("n_queries"):  # retrieval chapters
        sizes = (f"{p['n_queries']} queries, {p.get('n_db')} database images, "
                 f"subset: {p.get('subset', 'n/a')}; ")
    return (f"**{record['profile']} profile**: {sizes}seed {prov['seed']}, "
            f"{prov['wall_s']:.0f} s on {hardware(record)}, commit `{commit}`"
            f"{changed.get(prov.get('dirty'), '')}, {prov.get('date', '')}.")


# %%
def stale_curves(record):
    """Curves written before the interpolation fix have no `interpolation`."""
    return any("pr_curve" in r and "interpolation" not in r["pr_curve"]
               for r in record["rows"])


STALE = ("*The precision–recall curves in this record were computed before the "
         "fix of their interpolation (a recall level could be read at the next "
         "relevant item); its mAP and precision@k are unaffected. Re-run the "
         "chapter in this profile to refresh them.*")

# %%
# smoke runs only test the code; benchmarks (bench/) are quoted by chapters
folder = runs.results_root()
records = [path for path in sorted(folder.glob("*/*.json"))
           if path.parent.name in ("quick", "full")]
by_chapter = {}
for path in records:
    record = json.loads(path.read_text())
    by_chapter.setdefault(record["chapter"], []).append(record)

# %%
for chapter, chapter_records in sorted(by_chapter.items()):
    display(Markdown(f"## {chapter}"))
    for record in sorted(chapter_records,
                         key=lambda r: PROFILES.index(r["profile"])):
        display(Markdown(heading(record)))
        # long records carry a compact summary
        rows = record.get("summary_rows") or record["rows"]
        columns = [k for k in rows[0]
                   if k not in HIDDEN and not k.startswith("r_at_")]
        display(Markdown(viz.results_table(rows, columns=columns)))
        if stale_curves(record):
            display(Markdown(STALE))

# %% [markdown]
# ## Provenance, run times and reproduction
#
# For each chapter's last recorded run per profile: the commit it ran at, its date and hardware,
# its wall time in seconds (a chapter that found its trained models in `runs/` reports the time
# to load them) and the training time of its models, summed over all sessions of their runs.
# The last column is the verdict of the last `make reproduce` of that chapter and profile (every
# number of a re-run compared with this record, under `data/results/tolerances.toml`) with its
# largest deviation; a dash where none has run.

# %%
def reproduction(record):
    path = (runs.results_root() / record["profile"] / "reproduction"
            / f"{record['chapter']}.json")
    if not path.is_file():
        return "-"
    found = json.loads(path.read_text())
    largest = found["largest"] or {}
    deviation = largest.get("deviation")
    how = "same machine" if found["same_machine"] else "across machines"
    return (f"{found['verdict']} ({found['n_judged']} numbers, {how}; largest "
            f"deviation {'-' if deviation is None else f'{deviation:.2g}'}), "
            f"{found['reproduced']['date']}")


lines = ["| chapter | profile | commit | date | hardware | wall time (s) "
         "| model training (s) | reproduction |", "|---" * 8 + "|"]
for chapter, chapter_records in sorted(by_chapter.items()):
    for record in sorted(chapter_records,
                         key=lambda r: PROFILES.index(r["profile"])):
        prov = record["provenance"]
        # every model's training time, summed
        training = record.get("training", {})
        times = [v for k, v in training.items() if k.endswith("train_s")]
        trained = round(sum(times), 1) if times else ""
        commit = (prov.get("commit") or "none")[:10]
        lines.append(f"| {chapter} | {record['profile']} | `{commit}` | "
                     f"{prov.get('date', '')} | {hardware(record)} | "
                     f"{prov['wall_s']:.0f} | {trained} | "
                     f"{reproduction(record)} |")
display(Markdown("\n".join(lines)))
