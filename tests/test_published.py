"""The papers' published results: pinned to the numbers read in their sources."""

import pytest

from deeplab_edu.published import NOT_INCLUDED, TABLES, PublishedTable, format_table, get_table
from deeplab_edu.receptive_field import FC6_VARIANTS
from deeplab_edu.recipes import READ, Cited


def test_v1_table2_as_printed_in_the_paper():
    table = get_table("v1_field_of_view")
    expected = {  # v1 Table 2: kernel, input stride, RF, parameters (M), mean IoU (%), img/s
        "DeepLab-CRF-7x7": ("7x7", 4, 224, 134.3, 67.64, 1.44),
        "DeepLab-CRF": ("4x4", 4, 128, 65.1, 63.74, 2.90),
        "DeepLab-CRF-4x4": ("4x4", 8, 224, 65.1, 67.14, 2.90),
        "DeepLab-CRF-LargeFOV": ("3x3", 12, 224, 20.5, 67.64, 4.84),
    }
    assert {model: tuple(cell.value for cell in cells) for model, cells in table.rows.items()} == expected
    # The text's own claim about the table: LargeFOV is "3.36 times faster" than 7x7.
    speed = table.value("DeepLab-CRF-LargeFOV", "training speed (img/s)") / table.value(
        "DeepLab-CRF-7x7", "training speed (img/s)")
    assert round(speed, 2) == 3.36


def test_v1_table2_agrees_with_the_receptive_field_module():
    # receptive_field.FC6_VARIANTS quotes the same table's geometry; the two must not drift apart.
    table = get_table("v1_field_of_view")
    for variant in FC6_VARIANTS.values():
        assert table.value(variant.model, "kernel") == f"{variant.kernel}x{variant.kernel}"
        assert table.value(variant.model, "input stride") == variant.rate
        assert table.value(variant.model, "receptive field") == variant.paper_receptive_field
        assert table.value(variant.model, "parameters (M)") == variant.paper_parameters_millions


def test_every_number_has_a_source_and_was_read():
    for table in TABLES.values():
        assert table.source.strip()
        for cells in table.rows.values():
            for cell in cells:
                assert cell is None or (isinstance(cell, Cited) and cell.checked == READ and "Table" in cell.source)


def test_tables_left_out_say_why():
    assert NOT_INCLUDED and all(reason.strip() for reason in NOT_INCLUDED.values())


def test_format_and_errors():
    text = format_table("v1_field_of_view")
    assert "DeepLab-CRF-LargeFOV" in text and "67.64" in text and "source: v1" in text
    with pytest.raises(KeyError, match="no published table"):
        get_table("v9")
    with pytest.raises(ValueError, match="cells"):
        PublishedTable("x", "x", "src", ("a", "b"), {"m": (Cited(1, "src"),)})
