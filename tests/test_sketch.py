import dataclasses

import numpy as np
import pytest
import torch

from ganret_lib.data import images, sketch


def photos(n=6, seed=0):
    """Bright rectangles of random size on black: garments with known edges."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), dtype=np.uint8)
    for img in out:
        top, left = rng.integers(3, 9, size=2)
        img[top:top + rng.integers(10, 16), left:left + rng.integers(10, 16)] = rng.integers(150, 256)
    return out


def test_sobel_magnitude_of_a_vertical_step_by_hand():
    x = torch.zeros(1, 1, 5, 6)
    x[..., 3:] = 1.0  # a step between columns 2 and 3
    g = sketch.sobel_magnitude(x)[0, 0]
    # the kernel [-1 0 1; -2 0 2; -1 0 1] / 4 straddles the step at columns 2 and 3 only
    assert torch.allclose(g[:, [2, 3]], torch.ones(5, 2))
    assert torch.allclose(g[:, [0, 1, 4, 5]], torch.zeros(5, 4))


def test_edges_outline_a_rectangle_and_a_blank_image_has_none():
    x = np.zeros((2, 28, 28), dtype=np.uint8)
    x[0, 8:20, 8:20] = 200
    for style in sketch.STYLES.values():
        e = sketch.edges(x, style)
        assert e.shape == (2, 1, 28, 28) and set(e.unique().tolist()) <= {0.0, 1.0}
        assert e[0, 0, 14, 14] == 0 and e[0, 0, 0, 0] == 0  # inside and far outside: no edge
        assert e[0, 0, 7:9, 14].max() == 1 and e[0, 0, 19:21, 14].max() == 1  # the top and bottom sides
        assert e[1].sum() == 0


def test_without_perturbations_a_sketch_is_its_edge_map():
    plain = dataclasses.replace(sketch.SEEN, widths=(1,), dropout=0.0, warp=0.0, shift=0)
    e = sketch.edges(photos(), plain)
    assert torch.allclose(sketch.perturb(e, plain, torch.Generator().manual_seed(0)), e, atol=1e-5)


def test_thicker_strokes_cover_more_and_dropout_erases():
    e = sketch.edges(photos(), sketch.SEEN)
    base = dict(dropout=0.0, warp=0.0, shift=0)
    thin, thick = (sketch.perturb(e, dataclasses.replace(sketch.SEEN, widths=w, **base),
                                  torch.Generator().manual_seed(0)) for w in ((1,), (3,)))
    assert thick.sum() > 1.5 * thin.sum() and (thick >= thin).all()
    cut = sketch.perturb(e, dataclasses.replace(sketch.SEEN, widths=(1,), warp=0.0, shift=0, dropout=0.5),
                         torch.Generator().manual_seed(0))
    assert cut.sum() < thin.sum() and (cut <= thin).all()


def test_sketches_are_seeded_uint8_and_the_held_out_style_differs():
    x = photos(8)
    a = sketch.sketch_stored(x, sketch.SEEN, seed=0)
    assert a.shape == x.shape and a.dtype == np.uint8
    assert np.array_equal(a, sketch.sketch_stored(x, sketch.SEEN, seed=0))
    assert not np.array_equal(a, sketch.sketch_stored(x, sketch.SEEN, seed=1))
    held = sketch.sketch_stored(x, sketch.HELD_OUT, seed=0)
    assert np.abs(held.astype(int) - a).mean() > 10  # another operator, other strokes
    assert sketch.HELD_OUT.operator != sketch.SEEN.operator


def test_bad_inputs_say_what_to_do():
    with pytest.raises(ValueError, match="uint8"):
        sketch.sketch_stored(photos().astype(np.float32) / 255, sketch.SEEN)
    with pytest.raises(ValueError, match="grey images"):
        sketch.edges(np.zeros((2, 28, 28, 3), dtype=np.uint8), sketch.SEEN)
    with pytest.raises(ValueError, match="unknown edge operator"):
        sketch.edges(photos(), dataclasses.replace(sketch.SEEN, operator="prewitt"))


def test_edge_maps_stored_are_the_unperturbed_edges():
    x = photos()
    stored = sketch.edge_maps_stored(x)
    assert stored.dtype == np.uint8 and set(np.unique(stored)) <= {0, 255}
    assert np.array_equal(images.to_unit(stored), sketch.edges(x, sketch.SEEN))
