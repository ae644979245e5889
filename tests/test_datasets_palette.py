"""The VOC colour map, class names, and colour <-> index conversion."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deeplab_edu.datasets import VOC_CLASSES, VOC_PALETTE, colorize, to_index, voc_colormap


def test_colormap_equals_a_vectorised_bit_interleave():
    # A second derivation of the devkit's map: bit 3j+c of the index goes to bit 7-j of channel c.
    i = np.arange(256)[:, None]
    j = np.arange(8)[None, :]
    expected = np.stack([(((i >> (3 * j + c)) & 1) << (7 - j)).sum(1) for c in range(3)], 1)
    np.testing.assert_array_equal(VOC_PALETTE, expected)
    np.testing.assert_array_equal(voc_colormap(21), VOC_PALETTE[:21])


def test_colours_the_devkit_documents():
    # VOClabelcolormap.m: background black, aeroplane dark red, person (15) pink, void cream.
    assert VOC_PALETTE[0].tolist() == [0, 0, 0]
    assert VOC_PALETTE[1].tolist() == [128, 0, 0]
    assert VOC_PALETTE[VOC_CLASSES.index("person")].tolist() == [192, 128, 128]
    assert VOC_PALETTE[255].tolist() == [224, 224, 192]
    assert len(np.unique(VOC_PALETTE, axis=0)) == 256, "every index has its own colour"


def test_class_names():
    assert len(VOC_CLASSES) == 21 and VOC_CLASSES[0] == "background" and VOC_CLASSES[-1] == "tvmonitor"


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12)),
              elements=st.one_of(st.integers(0, 20), st.just(255))))
def test_colour_and_index_round_trip(label):
    rgb = colorize(label)
    assert rgb.shape == (*label.shape, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(to_index(rgb), label)


def test_foreign_colour_is_named_with_its_pixel():
    rgb = colorize(np.zeros((3, 4), np.uint8))
    rgb[1, 2] = (10, 20, 30)
    with pytest.raises(ValueError, match=r"colour \(10, 20, 30\) at pixel \(row 1, col 2\) is not in the palette"):
        to_index(rgb)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"label must be a 2-D \(H, W\) array"):
        colorize(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(TypeError, match=r"label must hold integer class indices, got dtype float"):
        colorize(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"label values must lie in 0\.\.255, got -1\.\.0"):
        colorize(np.array([[0, -1]]))
    with pytest.raises(ValueError, match=r"rgb must be an \(H, W, 3\) colour image"):
        to_index(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"n must be an integer in 1\.\.256, got 300"):
        voc_colormap(300)
