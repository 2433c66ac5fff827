import matplotlib.pyplot as plt
import numpy as np
import pytest

from ganret_lib import viz


def test_figures_draw():
    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8), dtype=np.uint8)
    ax = viz.image_grid(images, ncols=5)
    assert ax.images[0].get_array().shape == (3 * 9 + 1, 5 * 9 + 1)
    labels = np.arange(12) % 3
    I = np.arange(12).reshape(3, 4)
    fig = viz.retrieval_gallery(images[:3], labels[:3], images, labels, I, k=4)
    assert len(fig.axes) == 3 * 5
    frame = fig.axes[1].spines["left"].get_edgecolor()  # query 0, result 0 = item 0, same label
    assert np.allclose(frame[:3], plt.matplotlib.colors.to_rgb(viz.CORRECT))
    ax = viz.pr_curves({"a": {"recall": [0, 1], "precision": [1, 0.5]}})
    assert len(ax.lines) == 1
    plt.close("all")


def test_results_table_rounds_and_marks_label_use():
    rows = [{"method": "raw", "label_free": True, "map_all": 0.123456},
            {"method": "clf", "label_free": False, "map_all": 0.9}]
    table = viz.results_table(rows, digits=2)
    assert table.splitlines() == ["| method | label_free | map_all |", "|---|---|---|",
                                  "| raw | yes | 0.12 |", "| clf | no | 0.90 |"]
    missing = viz.results_table([{"method": "x", "map_all": float("nan"), "p_at_10": None}])
    assert missing.splitlines()[-1] == "| x | – | – |"


def test_record_table_reads_a_record_or_says_how_to_make_one(tmp_path, monkeypatch):
    from ganret_lib.core import runs
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    assert "run the chapter 'demo'" in viz.record_table("demo")
    rows = [{"method": "a", "label_free": True, "map_all": 0.5, "pr_curve": {}, "r_at_10": 0.1, "n_queries": 3}]
    runs.write_results("demo", "full", {"n_db": 10, "n_queries": 3}, rows, seed=0, wall_s=1.0)
    table = viz.record_table("demo")
    assert "3 queries, 10 database images" in table and "| a | yes | 0.500 |" in table
    assert "pr_curve" not in table and "r_at_10" not in table
    runs.write_results("gen", "full", {"n_db": 0, "n_queries": 0}, rows, seed=0, wall_s=1.0)
    assert viz.record_table("gen").startswith("full profile: commit")  # no retrieval sizes to state
    assert "no such rows" in viz.record_table("demo", keep=lambda row: False)


def test_galleries_frame_relevant_results_green_and_others_red():
    import matplotlib.colors as mcolors
    imgs = np.zeros((5, 28, 28), np.uint8)
    labels = np.array([0, 1, 0, 1, 0])
    fig = viz.method_gallery(imgs[:1], labels[:1], imgs, labels, {"a": np.array([[2, 1]])}, k=2)
    row = fig.axes[:3]
    assert mcolors.to_hex(row[1].spines["top"].get_edgecolor()) == viz.CORRECT
    assert mcolors.to_hex(row[2].spines["top"].get_edgecolor()) == viz.WRONG


def test_seed_summary_gives_mean_and_sd_over_seeds_and_of_differences():
    def record(a, b):
        return {"rows": [{"method": "A", "map_all": a}, {"method": "B", "map_all": b}]}

    records = {0: record(0.50, 0.40), 1: record(0.54, 0.46), 2: record(0.52, 0.37)}
    rows = viz.seed_summary(records, ["A", "B"], differences=[("A", "B")])
    a, b, diff = rows
    assert (a["seeds"], a["mean"], a["sd"]) == (3, pytest.approx(0.52), pytest.approx(0.02))
    assert b["mean"] == pytest.approx(0.41) and b["seed 2"] == 0.37
    assert diff["method"] == "A - B" and diff["mean"] == pytest.approx(0.11)
    assert diff["sd"] == pytest.approx(np.std([0.10, 0.08, 0.15], ddof=1))
    del records[2]["rows"][1]  # a seed without B: left out of B's statistics, not counted as 0
    b = viz.seed_summary(records, ["B"])[0]
    assert b["seeds"] == 2 and b["mean"] == pytest.approx(0.43)


def test_seed_differences_show_each_seeds_difference_and_where_the_seeds_agree_on_its_sign():
    def record(a_noise, b_noise, a_blur, b_blur):
        return {"summary_rows": [{"method": "A", "level": "class", "noise": a_noise, "blur": a_blur},
                                 {"method": "B", "level": "class", "noise": b_noise, "blur": b_blur},
                                 {"method": "A", "level": "item", "noise": 9.0, "blur": 9.0}]}

    records = {0: record(0.6, 0.5, 0.4, 0.45), 1: record(0.7, 0.4, 0.5, 0.45)}
    row, = viz.seed_differences(records, [("A", "B")], ["noise", "blur"], rows="summary_rows",
                                where={"level": "class"})
    assert row == {"difference": "A − B", "noise": "+0.100 / +0.300", "blur": "-0.050 / +0.050",
                   "same sign": "1 of 2"}


def test_a_grid_saves_as_a_small_png_drawn_like_the_figure(tmp_path):
    images = np.zeros((5, 4, 4), dtype=np.uint8)
    images[0] = 255  # one full "garment"
    path = viz.save_grid_png(images, tmp_path / "sub" / "grid.png", ncols=3, zoom=2)
    png = plt.imread(path)
    assert png.shape[:2] == (2 * (2 * 5 + 1), 2 * (3 * 5 + 1))  # 2 rows, 3 columns, borders, zoom 2
    # as image_grid draws with gray_r: bright garment pixels and the borders dark, background white
    assert png[2, 2, 0] == 0.0 and png[0, 0, 0] == 0.0 and png[2, 12, 0] == 1.0


def test_comparison_helpers_find_format_and_judge_a_difference():
    rows = [{"a": "x", "b": "y", "diff": 0.0042, "low": 0.0019, "high": 0.0061},
            {"a": "x", "b": "z", "diff": 0.03, "low": -0.001, "high": 0.06}]
    c = viz.find_comparison(rows, "x", "y")
    assert c is rows[0]
    assert viz.interval_text(c) == "+0.004 [+0.002, +0.006]"
    assert viz.interval_text(c, 4) == "+0.0042 [+0.0019, +0.0061]"
    assert viz.goal_verdict(c, 0.0) == "met"
    assert viz.goal_verdict(c, 0.01) == "not met"  # above 0, but below the goal
    assert viz.goal_verdict(rows[1], 0.02) == "not met"  # the interval reaches 0
    with pytest.raises(KeyError, match="'y' − 'x'"):
        viz.find_comparison(rows, "y", "x")
