"""Generic figures used across chapters: image grids, retrieval galleries, precision-recall
curves, results tables. Chapter-specific figures live with their method."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

CORRECT, WRONG = "#1a9850", "#d73027"


def tile(images: np.ndarray, ncols: int = 10) -> np.ndarray:
    """(N, H, W) grayscale images (uint8, or floats in [0, 1]) tiled into one float array in
    [0, 1], with a one-pixel border of ones around each image."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    nrows = -(-n // ncols)
    canvas = np.ones((nrows * (h + 1) + 1, ncols * (w + 1) + 1), dtype=np.float32)
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = img / scale
    return canvas


def image_grid(images: np.ndarray, ncols: int = 10, ax=None, title: str | None = None):
    """Tile (N, H, W) grayscale images into one picture (dark garments on white)."""
    canvas = tile(images, ncols)
    if ax is None:
        nrows = -(-len(images) // ncols)
        _, ax = plt.subplots(figsize=(ncols * 0.5, nrows * 0.5))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def save_grid_png(images: np.ndarray, path, ncols: int = 10, zoom: int = 2):
    """The tiled images as a small grayscale PNG (each pixel repeated `zoom` times each way),
    drawn as `image_grid` draws them; for pictures committed beside a results record."""
    from pathlib import Path

    canvas = np.kron(tile(images, ncols), np.ones((zoom, zoom), dtype=np.float32))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, 1 - canvas, cmap="gray", vmin=0, vmax=1)
    return Path(path)


def _result_row(row, db_images, db_labels, ids, query_label, linewidth: float) -> None:
    """Results in row[1:], framed green (same class as the query) or red; no ticks anywhere."""
    for ax, idx in zip(row[1:], ids):
        ax.imshow(db_images[idx], cmap="gray_r", interpolation="nearest")
        for spine in ax.spines.values():
            spine.set(color=CORRECT if db_labels[idx] == query_label else WRONG, linewidth=linewidth)
    for ax in row:
        ax.set_xticks([]), ax.set_yticks([])


def retrieval_gallery(query_images, query_labels, db_images, db_labels, I, k: int = 8,
                      class_names=None, title: str | None = None):
    """One row per query: the query, then its top-k results framed green (relevant) or red."""
    nq = len(query_images)
    fig, axes = plt.subplots(nq, k + 1, figsize=((k + 1) * 0.8, nq * 0.85), squeeze=False)
    for q in range(nq):
        row = axes[q]
        row[0].imshow(query_images[q], cmap="gray_r", interpolation="nearest")
        label = class_names[query_labels[q]] if class_names else str(query_labels[q])
        row[0].set_title(label, fontsize=6)
        _result_row(row, db_images, db_labels, I[q, :k], query_labels[q], linewidth=2.5)
    axes[0, 0].set_ylabel("query", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def pr_curves(curves: dict[str, dict], ax=None, title: str = "Precision-recall (interpolated, mean over queries)"):
    """Plot {method: {"recall": [...], "precision": [...]}} on one axis."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.6))
    for name, curve in curves.items():
        ax.plot(curve["recall"], curve["precision"], marker=".", label=name)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


TABLE_COLUMNS = ("method", "metric", "dim", "label_free", "map_all", "map_1000", "p_at_10", "p_at_100")


def find_comparison(comparisons: list[dict], a: str, b: str) -> dict:
    """The paired comparison "a − b" of a record's list (`metrics.paired_bootstrap` rows)."""
    found = [c for c in comparisons if c["a"] == a and c["b"] == b]
    if not found:
        raise KeyError(f"no comparison {a!r} − {b!r} in the record")
    return found[0]


def interval_text(c: dict, digits: int = 3) -> str:
    """A comparison as "+0.004 [+0.002, +0.005]": the difference and its interval."""
    return f"{c['diff']:+.{digits}f} [{c['low']:+.{digits}f}, {c['high']:+.{digits}f}]"


def goal_verdict(c: dict, at_least: float) -> str:
    """"met" when the difference is at least `at_least` and its interval lies above 0."""
    return "met" if c["diff"] >= at_least and c["low"] > 0 else "not met"


def results_table(rows: list[dict], columns=TABLE_COLUMNS, digits: int = 3) -> str:
    """A Markdown table of results rows (numbers rounded), for `IPython.display.Markdown`."""
    columns = [c for c in columns if any(c in row for row in rows)]

    def cell(value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "–"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def method_gallery(query_images, query_labels, db_images, db_labels, results: dict, k: int = 8,
                   class_names=None, title: str | None = None):
    """For each query, one row per method (results[method] = top-k ids, one row per query)."""
    methods = list(results)
    nq = len(query_images)
    size = ((k + 1) * 0.75, nq * len(methods) * 0.78)
    fig, axes = plt.subplots(nq * len(methods), k + 1, figsize=size, squeeze=False)
    for q in range(nq):
        for m, method in enumerate(methods):
            row = axes[q * len(methods) + m]
            row[0].imshow(query_images[q], cmap="gray_r", interpolation="nearest")
            label = class_names[query_labels[q]] if class_names else str(query_labels[q])
            row[0].set_ylabel(method, fontsize=6, rotation=0, ha="right", va="center")
            if m == 0:
                row[0].set_title(f"query: {label}", fontsize=6)
            _result_row(row, db_images, db_labels, results[method][q][:k], query_labels[q], linewidth=2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def record_table(chapter: str, profile: str = "full", rows: str = "rows", limit: int | None = None,
                 keep=None) -> str:
    """A committed results record's table as Markdown, under a line with its protocol and commit;
    if the record does not exist, the line that says how to produce it. `keep(row)` selects rows."""
    from .core.runs import read_results

    try:
        record = read_results(chapter, profile)
    except FileNotFoundError as missing:
        return f"*{missing}*"
    shown = [r for r in record[rows] if keep is None or keep(r)][:limit]
    if not shown:
        return f"*the {profile} record of {chapter} has no such rows*"
    columns = [c for c in shown[0] if c != "pr_curve" and not c.startswith(("r_at_", "n_"))]
    p, commit = record["protocol"], record["provenance"].get("commit") or "uncommitted"
    sizes = f"{p['n_queries']} queries, {p.get('n_db')} database images, " if p.get("n_queries") else ""
    return f"{profile} profile: {sizes}commit `{commit[:10]}`\n\n" + results_table(shown, columns=columns)


def seed_summary(records: dict[int, dict], methods: list[str], metric: str = "map_all",
                 differences: list[tuple[str, str]] = ()) -> list[dict]:
    """Mean and standard deviation over seeds of each method's `metric`, and of differences
    between methods ({seed: results record}, as `core.runs.seed_records` gives them).

    A row per method, then a row per (a, b) difference; the sd is over seeds (ddof 1) and is
    the spread that training noise (and the seeded subsets) produce."""
    def values(name):
        return {seed: {r["method"]: r[metric] for r in rec["rows"]}.get(name) for seed, rec in records.items()}

    def row(label, per_seed):
        found = np.array([v for v in per_seed.values() if v is not None], dtype=np.float64)
        sd = float(found.std(ddof=1)) if len(found) > 1 else float("nan")
        return {"method": label, "seeds": len(found), "mean": float(found.mean()) if len(found) else float("nan"),
                "sd": sd, **{f"seed {s}": v for s, v in per_seed.items()}}

    rows = [row(name, values(name)) for name in methods]
    for a, b in differences:
        va, vb = values(a), values(b)
        rows.append(row(f"{a} - {b}", {s: None if va[s] is None or vb[s] is None else va[s] - vb[s]
                                       for s in records}))
    return rows


def seed_differences(records: dict[int, dict], differences: list[tuple[str, str]], columns: list[str],
                     rows: str = "rows", where: dict | None = None, digits: int = 3) -> list[dict]:
    """How a difference between two methods moves over seeds, column by column (chapter 5: one
    column per degradation of its `summary_rows`): a row per (a, b), each cell the per-seed values
    of a - b in seed order ("+0.091 / +0.309 / +0.130"), and `same sign`, the columns in which
    every seed agrees on the sign. `where` keeps the rows whose fields equal it (a protocol)."""
    def table(record):
        return {r["method"]: r for r in record[rows] if all(r.get(k) == v for k, v in (where or {}).items())}

    tables = [table(record) for record in records.values()]
    out = []
    for a, b in differences:
        row, agree = {"difference": f"{a} − {b}"}, 0
        for column in columns:
            values = [t[a][column] - t[b][column] for t in tables if a in t and b in t]
            row[column] = " / ".join(f"{v:+.{digits}f}" for v in values)
            agree += len(values) > 0 and (all(v > 0 for v in values) or all(v < 0 for v in values))
        out.append(row | {"same sign": f"{agree} of {len(columns)}"})
    return out
