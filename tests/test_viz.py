import matplotlib.pyplot as plt
import numpy as np

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
