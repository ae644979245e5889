"""The papers' published results: pinned to the numbers read in their sources.

The expected numbers are written out here as literals (the values issue 21 lists, and the other
cells as read in the same transcriptions), not read back from ``published``'s own structures.
"""

import itertools

import pytest

from deeplab_edu import published
from deeplab_edu.published import (
    CRF_STATES,
    NOT_INCLUDED,
    TABLES,
    PaperDifference,
    PublishedTable,
    format_published,
    get_table,
    paper_difference,
)
from deeplab_edu.receptive_field import FC6_VARIANTS
from deeplab_edu.recipes import READ, Cited


def _cells(key):
    table = get_table(key)
    return {(row, column): table.value(row, column) for row in table.rows for column in table.columns}


def _assert_cells(key, expected):
    """Every expected cell holds its number, and the table holds no cell that is not expected."""
    assert _cells(key) == expected


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


def test_v2_table3_aspp_before_and_after_crf():
    _assert_cells("v2_aspp", {
        ("LargeFOV", "before CRF"): 65.76, ("LargeFOV", "after CRF"): 69.84,
        ("ASPP-S", "before CRF"): 66.98, ("ASPP-S", "after CRF"): 69.73,
        ("ASPP-L", "before CRF"): 68.96, ("ASPP-L", "after CRF"): 71.57,
    })
    table = get_table("v2_aspp")
    assert (table.paper, table.table_number, table.crf) == ("v2", 3, "both")
    # The text: "ASPP-S ... improves over the baseline by 1.22% before CRF".
    assert paper_difference("v2_aspp", ("ASPP-S", "before CRF"), ("LargeFOV", "before CRF")).points == 1.22


def test_v2_table2_learning_policy():
    _assert_cells("v2_learning_policy", {
        ("step/30/6K", "mean IoU (%)"): 62.25, ("poly/30/6K", "mean IoU (%)"): 63.42,
        ("poly/30/10K", "mean IoU (%)"): 64.90, ("poly/10/10K", "mean IoU (%)"): 64.71,
        ("poly/10/20K", "mean IoU (%)"): 65.88,
    })
    assert get_table("v2_learning_policy").crf == "before"
    # The text: poly at batch 10 and 20K is "3.63% improvement over 'step'"; poly over step at 30/6K "1.17%".
    assert paper_difference("v2_learning_policy", ("poly/10/20K", "mean IoU (%)"), ("step/30/6K", "mean IoU (%)")).points == 3.63
    assert paper_difference("v2_learning_policy", ("poly/30/6K", "mean IoU (%)"), ("step/30/6K", "mean IoU (%)")).points == 1.17


def test_v3_table1_output_stride():
    _assert_cells("v3_output_stride", {
        ("OS 8", "mean IoU (%)"): 75.18, ("OS 16", "mean IoU (%)"): 73.88, ("OS 32", "mean IoU (%)"): 70.06,
        ("OS 64", "mean IoU (%)"): 59.99, ("OS 128", "mean IoU (%)"): 42.34, ("OS 256", "mean IoU (%)"): 20.29,
    })


def test_v3_table3_multi_grid():
    table = get_table("v3_multi_grid")
    # The block4 column, as issue 21 lists it.
    assert {row: table.value(row, "block4") for row in table.rows} == {
        "(1, 1, 1)": 68.39, "(1, 2, 1)": 70.23, "(1, 2, 3)": 73.14, "(1, 2, 4)": 73.45, "(2, 2, 2)": 71.45}
    # The deeper cascades, as read in the same text.
    assert [table.value(row, "block7") for row in table.rows] == [75.76, 76.66, 76.11, 76.02, 74.62]
    assert [table.value("(1, 1, 1)", column) for column in table.columns] == [68.39, 73.21, 75.34, 75.76]
    # The text: the best model is block7 with (1, 2, 1), and Table 4 evaluates that model at OS 16.
    best = max(((row, column) for row in table.rows for column in table.columns), key=lambda c: table.value(*c))
    assert best == ("(1, 2, 1)", "block7")
    assert get_table("v3_cascade_inference").value("OS 16", "mean IoU (%)") == 76.66


def test_v3_table4_cascade_inference():
    _assert_cells("v3_cascade_inference", {
        ("OS 16", "mean IoU (%)"): 76.66, ("OS 8", "mean IoU (%)"): 78.05,
        ("OS 8 + MS", "mean IoU (%)"): 78.93, ("OS 8 + MS + flip", "mean IoU (%)"): 79.35,
    })
    # The text: evaluating at output stride 8 "improves ... by 1.39%".
    assert paper_difference("v3_cascade_inference", ("OS 8", "mean IoU (%)"), ("OS 16", "mean IoU (%)")).points == 1.39


def test_v3_table5_multi_grid_under_aspp():
    _assert_cells("v3_aspp_multi_grid", {
        ("(1, 1, 1), ASPP (6, 12, 18)", "mean IoU (%)"): 75.36, ("(1, 2, 1), ASPP (6, 12, 18)", "mean IoU (%)"): 75.93,
        ("(1, 2, 4), ASPP (6, 12, 18)", "mean IoU (%)"): 76.58,
        ("(1, 2, 4), ASPP (6, 12, 18, 24)", "mean IoU (%)"): 76.46,
        ("(1, 2, 4), ASPP (6, 12, 18), image pooling", "mean IoU (%)"): 77.21,
    })
    # The text: a rate-24 branch "drops slightly by 0.12%"; image pooling reaches Table 6's OS-16 model.
    assert paper_difference("v3_aspp_multi_grid", ("(1, 2, 4), ASPP (6, 12, 18, 24)", "mean IoU (%)"),
                            ("(1, 2, 4), ASPP (6, 12, 18)", "mean IoU (%)")).points == -0.12
    assert get_table("v3_inference").value("OS 16", "mean IoU (%)") == 77.21
    # Under ASPP the grid (1, 2, 4) adds far less than in the plain block4 of Table 3.
    under_aspp = paper_difference("v3_aspp_multi_grid", ("(1, 2, 4), ASPP (6, 12, 18)", "mean IoU (%)"),
                                  ("(1, 1, 1), ASPP (6, 12, 18)", "mean IoU (%)"))
    plain = paper_difference("v3_multi_grid", ("(1, 2, 4)", "block4"), ("(1, 1, 1)", "block4"))
    assert (under_aspp.points, plain.points) == (1.22, 5.06)
    assert str(under_aspp) == "+1.22 (v3 Table 5)"


def test_v3_table6_inference():
    _assert_cells("v3_inference", {
        ("OS 16", "mean IoU (%)"): 77.21, ("OS 8", "mean IoU (%)"): 78.51, ("OS 8 + MS", "mean IoU (%)"): 79.45,
        ("OS 8 + MS + flip", "mean IoU (%)"): 79.77, ("OS 8 + MS + flip + COCO", "mean IoU (%)"): 82.70,
    })
    # The text: output stride 8 brings 1.3%, multi-scale 0.94% and flip 0.32% more.
    steps = ["OS 16", "OS 8", "OS 8 + MS", "OS 8 + MS + flip"]
    gains = [paper_difference("v3_inference", (b, "mean IoU (%)"), (a, "mean IoU (%)")).points
             for a, b in itertools.pairwise(steps)]
    assert gains == [1.30, 0.94, 0.32]


def test_v3_table8_training_protocol():
    _assert_cells("v3_training_protocol", {
        ("crop 513, upsampled logits, BN trained", "mean IoU (%)"): 77.21,
        ("crop 513, upsampled logits, BN frozen", "mean IoU (%)"): 75.95,
        ("crop 513, labels subsampled, BN trained", "mean IoU (%)"): 76.01,
        ("crop 321, upsampled logits, BN trained", "mean IoU (%)"): 67.22,
    })
    # The whole protocol is Table 6's model at output stride 16.
    assert get_table("v3_inference").value("OS 16", "mean IoU (%)") == 77.21
    assert str(paper_difference("v3_training_protocol", ("crop 513, upsampled logits, BN trained", "mean IoU (%)"),
                                ("crop 513, labels subsampled, BN trained", "mean IoU (%)"))) == "+1.20 (v3 Table 8)"


def test_v3_table10_train_and_eval_output_stride():
    _assert_cells("v3_train_eval_output_stride", {
        ("train OS 16, eval OS 16", "mean IoU (%)"): 77.21, ("train OS 16, eval OS 8", "mean IoU (%)"): 78.51,
        ("train OS 8, eval OS 8", "mean IoU (%)"): 75.62, ("train OS 32, eval OS 16", "mean IoU (%)"): 75.90,
        ("train OS 8, eval OS 16", "mean IoU (%)"): 74.45, ("train OS 32, eval OS 8", "mean IoU (%)"): 75.75,
    })


def test_v3plus_table1_decoder_channels():
    _assert_cells("v3plus_decoder_channels", {
        ("8 channels", "mean IoU (%)"): 77.61, ("16 channels", "mean IoU (%)"): 77.92,
        ("32 channels", "mean IoU (%)"): 78.16, ("48 channels", "mean IoU (%)"): 78.21,
        ("64 channels", "mean IoU (%)"): 77.94,
    })


def test_v3plus_table2_decoder_structure():
    _assert_cells("v3plus_decoder_structure", {
        ("Conv2, [3x3, 256]", "mean IoU (%)"): 78.21, ("Conv2, [3x3, 256] x 2", "mean IoU (%)"): 78.85,
        ("Conv2, [3x3, 256] x 3", "mean IoU (%)"): 78.02, ("Conv2, [3x3, 128]", "mean IoU (%)"): 77.25,
        ("Conv2, [1x1, 256]", "mean IoU (%)"): 78.07, ("Conv2 + Conv3, [3x3, 256]", "mean IoU (%)"): 78.61,
    })


def test_v3plus_tables3_and_5_decoder_at_eval_output_stride_16_and_8():
    _assert_cells("v3plus_resnet101", {
        ("no decoder", "eval OS 16"): 77.21, ("decoder", "eval OS 16"): 78.85,
        ("no decoder", "eval OS 8"): 78.51, ("decoder", "eval OS 8"): 79.35,
    })
    _assert_cells("v3plus_xception", {
        ("no decoder", "eval OS 16"): 79.17, ("no decoder", "eval OS 8"): 79.64,
        ("decoder", "eval OS 16"): 79.93, ("decoder", "eval OS 8"): 80.22,
    })
    # The text: the decoder lifts ResNet-101 "from 77.21% to 78.85% or 78.51% to 79.35%".
    assert str(paper_difference("v3plus_resnet101", ("decoder", "eval OS 16"), ("no decoder", "eval OS 16"))) == \
        "+1.64 (v3+ Table 3)"
    assert paper_difference("v3plus_resnet101", ("decoder", "eval OS 8"), ("no decoder", "eval OS 8")).points == 0.84


def test_tables_agree_where_the_papers_repeat_a_number():
    # The same DeepLabv3 model appears in v3 Tables 6 and 10 and v3+ Table 3; v3+ Table 1's 48
    # channels is Table 2's first row, and Table 2's two [3x3, 256] is Table 3's decoder.
    v3_os16 = {get_table("v3_inference").value("OS 16", "mean IoU (%)"),
               get_table("v3_train_eval_output_stride").value("train OS 16, eval OS 16", "mean IoU (%)"),
               get_table("v3plus_resnet101").value("no decoder", "eval OS 16")}
    v3_os8 = {get_table("v3_inference").value("OS 8", "mean IoU (%)"),
              get_table("v3_train_eval_output_stride").value("train OS 16, eval OS 8", "mean IoU (%)"),
              get_table("v3plus_resnet101").value("no decoder", "eval OS 8")}
    assert v3_os16 == {77.21} and v3_os8 == {78.51}
    assert get_table("v3plus_decoder_channels").value("48 channels", "mean IoU (%)") == \
        get_table("v3plus_decoder_structure").value("Conv2, [3x3, 256]", "mean IoU (%)") == 78.21
    assert get_table("v3plus_decoder_structure").value("Conv2, [3x3, 256] x 2", "mean IoU (%)") == \
        get_table("v3plus_resnet101").value("decoder", "eval OS 16") == 78.85


def test_paper_difference():
    difference = paper_difference("v2_aspp", ("ASPP-L", "before CRF"), ("LargeFOV", "before CRF"))
    assert isinstance(difference, PaperDifference)
    assert difference.points == 3.20 and difference.citation == "v2 Table 3"
    assert str(difference) == "+3.20 (v2 Table 3)"
    assert "68.96" in difference.detail and "65.76" in difference.detail and "VOC 2012 val" in difference.detail
    # Order matters: b − a is the negative; a cell against itself is +0.00, not -0.00.
    assert paper_difference("v2_aspp", ("LargeFOV", "before CRF"), ("ASPP-L", "before CRF")).points == -3.20
    assert str(paper_difference("v2_aspp", ("LargeFOV", "after CRF"), ("LargeFOV", "after CRF"))) == "+0.00 (v2 Table 3)"
    # Across columns: the CRF's own gain on LargeFOV, and a column of another table.
    assert paper_difference("v2_aspp", ("LargeFOV", "after CRF"), ("LargeFOV", "before CRF")).points == 4.08
    assert str(paper_difference("v3_multi_grid", ("(1, 2, 4)", "block4"), ("(1, 1, 1)", "block4"))) == \
        "+5.06 (v3 Table 3)"
    v1 = paper_difference("v1_field_of_view", ("DeepLab-CRF-LargeFOV", "mean IoU (%)"), ("DeepLab-CRF", "mean IoU (%)"))
    assert str(v1) == "+3.90 (v1 Table 2)" and "after the CRF" in v1.detail


def test_paper_difference_errors():
    with pytest.raises(ValueError, match="does not hold mean IoU"):
        paper_difference("v1_field_of_view", ("DeepLab-CRF", "parameters (M)"), ("DeepLab-CRF-7x7", "parameters (M)"))
    with pytest.raises(KeyError, match="no row 'ASPP-XL'"):
        paper_difference("v2_aspp", ("ASPP-XL", "before CRF"), ("LargeFOV", "before CRF"))
    with pytest.raises(KeyError, match="no column 'during CRF'"):
        paper_difference("v2_aspp", ("ASPP-L", "during CRF"), ("LargeFOV", "before CRF"))
    with pytest.raises(KeyError, match="no published table"):
        paper_difference("v4_aspp", ("ASPP-L", "before CRF"), ("LargeFOV", "before CRF"))
    empty = PublishedTable("t", "t", "src Table 1", ("mean IoU (%)",), {"a": (None,), "b": (Cited(1.0, "src"),)})
    with pytest.raises(TypeError, match="holds no number"):
        empty.miou("a", "mean IoU (%)")


def test_every_table_has_a_source_and_every_number_was_read():
    assert len(TABLES) >= 12
    for key, table in TABLES.items():
        assert table.key == key
        assert table.source.strip() and table.caption.strip() and table.title.strip()
        assert table.paper in ("v1", "v2", "v3", "v3+") and table.table_number > 0
        assert f"Table {table.table_number}" in table.source
        if table.paper != "v1":  # v1's title is printed by chapter 06 as it stands
            assert table.title.startswith(f"DeepLab {table.citation}:")
        assert table.crf in CRF_STATES and table.split == "PASCAL VOC 2012 val"
        for cells in table.rows.values():
            for cell in cells:
                assert cell is None or (isinstance(cell, Cited) and cell.checked == READ
                                        and f"Table {table.table_number}" in cell.source)


def test_not_included_names_no_table_that_is_included():
    assert all(reason.strip() for reason in NOT_INCLUDED.values())
    citations = {table.citation for table in TABLES.values()}
    assert not any(citation in name for name in NOT_INCLUDED for citation in citations)


def test_format_published_and_errors():
    text = format_published("v1_field_of_view")
    assert "DeepLab-CRF-LargeFOV" in text and "67.64" in text and "source: v1" in text
    assert " 2.9\n" in text  # v1's speeds print as before (chapter 06's output); mean IoU keeps two decimals
    policy = format_published(get_table("v2_learning_policy"))
    assert "64.90" in policy and policy.splitlines()[1].startswith("policy/batch/iterations")
    assert not hasattr(published, "format_table")  # a table of results is format_results_table, of fields format_field_table
    with pytest.raises(KeyError, match="no published table"):
        get_table("v9")
    with pytest.raises(ValueError, match="cells"):
        PublishedTable("x", "x", "src", ("a", "b"), {"m": (Cited(1, "src"),)})
    with pytest.raises(ValueError, match="crf must be one of"):
        PublishedTable("x", "x", "src", ("a",), {"m": (Cited(1, "src"),)}, crf="during")
    with pytest.raises(ValueError, match="miou_columns"):
        PublishedTable("x", "x", "src", ("a",), {"m": (Cited(1, "src"),)}, miou_columns=("b",))
