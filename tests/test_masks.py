"""Mask builders make the pixels they promise."""

import numpy as np

from dip_engine.masks import (MaskSpec, box_mask, build_mask, ellipse_mask, flag_mask, grow,
                              line_mask, polygon_mask, summary)


def test_flags_per_dtype():
    assert flag_mask(np.array([[-2, -1, 0, 5]], np.int32)).tolist() == [[True, True, False, False]]
    u = np.array([[0, 7, 2**32 - 1]], np.uint32)
    assert flag_mask(u).tolist() == [[False, False, True]]
    f = np.array([[np.nan, np.inf, -0.5, 1.0]])
    assert flag_mask(f).tolist() == [[True, True, True, False]]


def test_box_with_threshold_masks_only_dark_pixels():
    img = np.full((10, 10), 100)
    img[4:6, 4:6] = 1
    m = box_mask(img, (2, 7, 2, 7), threshold=10)
    assert m.sum() == 4 and m[4:6, 4:6].all()
    assert box_mask(img, (7, 2, 2, 7)).sum() == 36  # corners in any order, inclusive
    assert box_mask(img, (-5, 100, -5, 1)).sum() == 20  # clipped to the frame


def test_line_rule_masks_mostly_empty_rows_and_columns():
    img = np.ones((6, 8))
    img[2, :7] = 0
    img[:, 5] = -1
    m = line_mask(img, row_threshold=0.5, col_threshold=0.5)
    assert m[2].all() and m[:, 5].all()
    assert m.sum() == 8 + 6 - 1


def test_shapes_and_grow():
    e = ellipse_mask((21, 21), (5, 15, 5, 15))
    assert e[10, 10] and not e[0, 0] and 60 < e.sum() < 100
    p = polygon_mask((10, 10), [0, 0, 9], [0, 9, 0])
    assert p[1, 1] and not p[9, 9]
    g = grow(np.pad([[True]], 5), 2)
    assert g.sum() == 13
    assert grow(g, -2).sum() == 1


def test_build_mask_unions_every_part():
    img = np.full((20, 20), 50, np.int32)
    img[0, 0] = -1
    spec = MaskSpec(boxes=[[5, 6, 5, 6]], polygons=[[[10, 10, 12], [10, 12, 10]]])
    base = np.zeros((20, 20), bool)
    base[19, 19] = True
    m = build_mask(img, spec, base)
    assert m[0, 0] and m[5, 5] and m[6, 6] and m[10, 10] and m[19, 19]
    assert summary(m)["components"] == 4
    assert MaskSpec.from_dict(spec.to_dict()) == spec
    assert not build_mask(img, MaskSpec(use_flags=False))[0, 0]
