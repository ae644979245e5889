"""The papers' own results, each number with where it was read: to set beside the book's.

The book trains small models on its built-in scenes; its mIoU is not PASCAL VOC's. What *can*
be compared is the direction and size of an effect (a larger field of view, ASPP, a smaller
output stride, a decoder): these tables hold what the papers measured on VOC 2012 val so a
chapter can print them beside its own run. Every number is a :class:`recipes.Cited` (value,
source, how it was checked), as in ``recipes.py``. :func:`paper_difference` gives the paper's
difference between two cells of a table, in mean-IoU points, with a short citation
("+3.20 (v2 Table 3)"), for a chapter's verdict table.

Where the tables were read. The public code index holds transcriptions of the papers; its
large files are named there by an index file id (``read_file`` with that id), not by
repository and path, so the ids are what is cited. Each table's numbers were checked one by
one against the text read:

* v1 (Chen et al., ICLR 2015, arXiv 1412.7062) Table 2, "Effect of Field-Of-View": mIoU after
  the CRF and training speed, per fc6 design. Read in a transcription of the paper (English
  with a Chinese translation), the same one ``recipes.py`` cites for v1's training section; a
  second summary of the paper in the index (in Korean) gives the same 7x7 / 4x4 / LargeFOV
  numbers.
* v2 (Chen et al., TPAMI 2017, arXiv 1606.00915) Tables 2 and 3: a Markdown conversion of the
  PDF (index id 56882462479) and an English text with a Chinese translation and Markdown
  tables (index id 38540158782); the two agree on every number here.
* v3 (Chen et al., arXiv 1706.05587v3) Tables 1, 3, 4, 6 and 10: a Markdown conversion of the
  PDF (index id 56768525124). The paper's own prose confirms the ends of Table 1 (20.29 to
  75.18), Table 4's +1.39 at output stride 8, and Table 6's +1.3 (OS 8), +0.94 (multi-scale),
  +0.32 (flip) and 79.77; a second transcription (English with Chinese, index id
  23939652097) carries the same prose but prints the tables as images.
* v3+ (Chen et al., ECCV 2018, arXiv 1802.02611) Tables 1, 2, 3 and 5: a Markdown conversion
  of the PDF (index id 4255156094) and an English text with a Chinese translation (index id
  37875552848); the two agree on every number here (the second misprints a Table 3 row that
  is not kept here, the multi-scale row at eval output stride 8: 78.45 for the PDF's 79.45,
  which is v3 Table 6's number).

``NOT_INCLUDED`` names any table a chapter cites whose text could not be read here; numbers
from memory do not belong in ``TABLES``.
"""

from __future__ import annotations

import dataclasses

from deeplab_edu.recipes import READ, Cited

__all__ = [
    "CRF_STATES",
    "NOT_INCLUDED",
    "TABLES",
    "PaperDifference",
    "PublishedTable",
    "format_published",
    "get_table",
    "paper_difference",
]

# Where the table's numbers sit relative to the fully connected CRF: "both" when the table has
# one column before and one after it; "none" when the paper uses no CRF (v3, v3+).
CRF_STATES = ("before", "after", "both", "none")

VOC_VAL = "PASCAL VOC 2012 val"


@dataclasses.dataclass(frozen=True)
class PublishedTable:
    """One table of a paper: ``rows`` maps a row's name (the paper's words where it has them) to
    its cells, one :class:`Cited` per column of ``columns`` (``None`` where the paper leaves it
    empty). ``paper`` ("v2") and ``table_number`` make the citation ("v2 Table 3"); ``caption``
    says what the table measures, ``split`` on which images, ``crf`` whether before or after the
    CRF (one of ``CRF_STATES``); ``miou_columns`` are the columns that hold mean IoU (%), the
    only ones :func:`paper_difference` subtracts (all columns when empty); ``row_label`` heads the
    column of row names when the table is printed."""

    key: str
    title: str
    source: str
    columns: tuple[str, ...]
    rows: dict[str, tuple[Cited | None, ...]]
    notes: str = ""
    paper: str = ""
    table_number: int = 0
    caption: str = ""
    split: str = VOC_VAL
    crf: str = "none"
    miou_columns: tuple[str, ...] = ()
    row_label: str = "model"

    def __post_init__(self) -> None:
        for model, cells in self.rows.items():
            if len(cells) != len(self.columns):
                raise ValueError(f"{self.key}: row {model!r} has {len(cells)} cells for {len(self.columns)} columns")
        if self.crf not in CRF_STATES:
            raise ValueError(f"{self.key}: crf must be one of {CRF_STATES}, got {self.crf!r}")
        unknown = [c for c in self.miou_columns if c not in self.columns]
        if unknown:
            raise ValueError(f"{self.key}: miou_columns {unknown} are not among the columns {self.columns}")

    @property
    def citation(self) -> str:
        """The short citation a verdict table prints, e.g. ``"v2 Table 3"``."""
        return f"{self.paper} Table {self.table_number}" if self.paper else self.key

    def value(self, model: str, column: str):
        """The number the paper prints for ``model`` in ``column`` (``None`` where it prints none)."""
        if model not in self.rows:
            raise KeyError(f"{self.key}: no row {model!r}; the rows are {list(self.rows)}")
        if column not in self.columns:
            raise KeyError(f"{self.key}: no column {column!r}; the columns are {list(self.columns)}")
        cell = self.rows[model][self.columns.index(column)]
        return None if cell is None else cell.value

    def miou(self, model: str, column: str) -> float:
        """The mean IoU (%) in ``model``'s row and ``column``; an error for a column that holds
        something else (a kernel size, a speed) or a cell the paper leaves empty."""
        value = self.value(model, column)
        if column not in (self.miou_columns or self.columns):
            raise ValueError(f"{self.key}: column {column!r} does not hold mean IoU; those that do: "
                             f"{list(self.miou_columns or self.columns)}")
        if not isinstance(value, (int, float)):
            raise TypeError(f"{self.key}: row {model!r}, column {column!r} holds no number ({value!r})")
        return float(value)


@dataclasses.dataclass(frozen=True)
class PaperDifference:
    """What the paper measured between two cells: ``points`` = cell a − cell b in mean-IoU
    points (rounded to the paper's two decimals), ``citation`` ("v2 Table 3"), and ``detail``
    (the two cells and the split). ``str()`` gives ``"+3.20 (v2 Table 3)"``."""

    points: float
    citation: str
    detail: str

    def __str__(self) -> str:
        return f"{self.points:+.2f} ({self.citation})"


def _cited(source: str):
    def cite(value: float | str) -> Cited:
        return Cited(value, source, READ)
    return cite


def _table(key: str, title: str, source: str, columns: tuple[str, ...], rows: dict[str, tuple],
           **fields) -> PublishedTable:
    cite = _cited(source)
    return PublishedTable(key=key, title=title, source=source, columns=columns,
                          rows={name: tuple(None if v is None else cite(v) for v in cells)
                                for name, cells in rows.items()}, **fields)


_V1_TABLE2 = ("v1 (Chen et al., ICLR 2015, arXiv 1412.7062) Table 2 'Effect of Field-Of-View' "
              "(VOC 2012 val, after the CRF), read in a transcription of the paper in the public code index")


def _v1(value: float | str) -> Cited:
    return Cited(value, _V1_TABLE2, READ)


_V2 = "v2 (Chen et al., TPAMI 2017, arXiv 1606.00915)"
_V2_TEXTS = ("read in two transcriptions of the paper in the public code index (a Markdown conversion of the "
             "PDF, index id 56882462479; English with a Chinese translation, index id 38540158782), which agree")
_V3 = "v3 (Chen et al., arXiv 1706.05587v3)"
_V3_TEXT = "read in a Markdown conversion of the paper's PDF in the public code index (index id 56768525124)"
_V3P = "v3+ (Chen et al., ECCV 2018, arXiv 1802.02611)"
_V3P_TEXTS = ("read in two transcriptions of the paper in the public code index (a Markdown conversion of the "
              "PDF, index id 4255156094; English with a Chinese translation, index id 37875552848), which agree")

_MIOU = "mean IoU (%)"

TABLES: dict[str, PublishedTable] = {
    "v1_field_of_view": PublishedTable(
        key="v1_field_of_view",
        title="DeepLab v1: the first fully connected layer's kernel and input stride (rate)",
        source=_V1_TABLE2,
        columns=("kernel", "input stride", "receptive field", "parameters (M)", "mean IoU (%)",
                 "training speed (img/s)"),
        rows={
            "DeepLab-CRF-7x7": (_v1("7x7"), _v1(4), _v1(224), _v1(134.3), _v1(67.64), _v1(1.44)),
            "DeepLab-CRF": (_v1("4x4"), _v1(4), _v1(128), _v1(65.1), _v1(63.74), _v1(2.90)),
            "DeepLab-CRF-4x4": (_v1("4x4"), _v1(8), _v1(224), _v1(65.1), _v1(67.14), _v1(2.90)),
            "DeepLab-CRF-LargeFOV": (_v1("3x3"), _v1(12), _v1(224), _v1(20.5), _v1(67.64), _v1(4.84)),
        },
        notes="VGG-16 trained on VOC 2012 train + SBD ('trainaug'); LargeFOV also has 1024 instead of "
              "4096 channels in fc6 and fc7. The paper's receptive fields are approximate (chapter 02).",
        paper="v1", table_number=2, crf="after", miou_columns=("mean IoU (%)",),
        caption="the field of view of fc6 (kernel size and atrous rate): parameters, training speed and mean "
                "IoU after the CRF",
    ),
    "v2_learning_policy": _table(
        "v2_learning_policy",
        "DeepLab v2 Table 2: learning-rate policy / batch size / iterations, DeepLab-LargeFOV (VGG-16), "
        "mean IoU (%) on VOC 2012 val before the CRF",
        f"{_V2} Table 2 'PASCAL VOC 2012 val set results (%) (before CRF) as different learning hyper "
        f"parameters vary', {_V2_TEXTS}",
        (_MIOU,),
        {"step/30/6K": (62.25,), "poly/30/6K": (63.42,), "poly/30/10K": (64.90,), "poly/10/10K": (64.71,),
         "poly/10/20K": (65.88,)},
        paper="v2", table_number=2, row_label="policy/batch/iterations", crf="before",
        caption="rows are learning policy / batch size / iterations (6K = 6,000); 'poly' beats 'step' at the "
                "same batch and iterations",
        notes="The text: poly at batch 10 and 20K iterations is 3.63 points over step (65.88 vs 62.25).",
    ),
    "v2_aspp": _table(
        "v2_aspp",
        "DeepLab v2 Table 3: ASPP against LargeFOV, VGG-16, mean IoU (%) on VOC 2012 val before / after the CRF",
        f"{_V2} Table 3 'Effect of ASPP on PASCAL VOC 2012 val set performance (mean IOU) for VGG-16 based "
        f"DeepLab model', {_V2_TEXTS}",
        ("before CRF", "after CRF"),
        {"LargeFOV": (65.76, 69.84), "ASPP-S": (66.98, 69.73), "ASPP-L": (68.96, 71.57)},
        paper="v2", table_number=3, row_label="fc6", crf="both",
        caption="fc6 as one branch at rate 12 (LargeFOV) or four parallel fc6-fc7-fc8 branches whose scores are "
                "summed: ASPP-S rates {2, 4, 8, 12}, ASPP-L rates {6, 12, 18, 24}",
    ),
    "v3_output_stride": _table(
        "v3_output_stride",
        "DeepLab v3 Table 1: going deeper with atrous convolution, ResNet-50 with block7, mean IoU (%) on "
        "VOC 2012 val per output stride",
        f"{_V3} Table 1 'Going deeper with atrous convolution when employing ResNet-50 with block7 and different "
        f"output stride', {_V3_TEXT}",
        (_MIOU,),
        {"OS 8": (75.18,), "OS 16": (73.88,), "OS 32": (70.06,), "OS 64": (59.99,), "OS 128": (42.34,),
         "OS 256": (20.29,)},
        paper="v3", table_number=1, row_label="output stride",
        caption="ResNet-50 with three extra copies of block4 (block5-7) in cascade; output stride 256 is no "
                "atrous convolution at all, each halving of it replaces a stride by atrous rates",
    ),
    "v3_multi_grid": _table(
        "v3_multi_grid",
        "DeepLab v3 Table 3: multi-grid unit rates, ResNet-101 with cascaded blocks, mean IoU (%) on VOC 2012 "
        "val at output stride 16",
        f"{_V3} Table 3 'Employing multi-grid method for ResNet-101 with different number of cascaded blocks at "
        f"output stride = 16', {_V3_TEXT}",
        ("block4", "block5", "block6", "block7"),
        {"(1, 1, 1)": (68.39, 73.21, 75.34, 75.76), "(1, 2, 1)": (70.23, 75.67, 76.09, 76.66),
         "(1, 2, 3)": (73.14, 75.78, 75.96, 76.11), "(1, 2, 4)": (73.45, 75.74, 75.85, 76.02),
         "(2, 2, 2)": (71.45, 74.30, 74.70, 74.62)},
        paper="v3", table_number=3, row_label="Multi_Grid",
        caption="rows are Multi_Grid = (r1, r2, r3), the unit rates of block4's three convolutions (multiplied "
                "by the block's rate); columns the last block of the cascade (block4 = no extra blocks, no ASPP)",
    ),
    "v3_cascade_inference": _table(
        "v3_cascade_inference",
        "DeepLab v3 Table 4: inference strategy for the cascaded model (block7, multi-grid (1, 2, 1)), mean "
        "IoU (%) on VOC 2012 val",
        f"{_V3} Table 4 'Inference strategy on the val set', {_V3_TEXT}",
        (_MIOU,),
        {"OS 16": (76.66,), "OS 8": (78.05,), "OS 8 + MS": (78.93,), "OS 8 + MS + flip": (79.35,)},
        paper="v3", table_number=4, row_label="inference",
        caption="trained at output stride 16, evaluated at 16 or 8, with multi-scale inputs (MS) and left-right "
                "flipped inputs added",
        notes="The PDF conversion keeps the numbers in the table's row order but not its check marks; the text "
              "confirms the order: OS 8 is 1.39 over OS 16, multi-scale and flip improve it further, 79.35 is "
              "the best cascaded model.",
    ),
    "v3_inference": _table(
        "v3_inference",
        "DeepLab v3 Table 6: inference strategy for the ASPP model (multi-grid (1, 2, 4), ASPP (6, 12, 18), "
        "image pooling), mean IoU (%) on VOC 2012 val",
        f"{_V3} Table 6 'Inference strategy on the val set', {_V3_TEXT}",
        (_MIOU,),
        {"OS 16": (77.21,), "OS 8": (78.51,), "OS 8 + MS": (79.45,), "OS 8 + MS + flip": (79.77,),
         "OS 8 + MS + flip + COCO": (82.70,)},
        paper="v3", table_number=6, row_label="inference",
        caption="trained at output stride 16, evaluated at 16 or 8, with multi-scale inputs (MS), left-right "
                "flipped inputs, and (last row) pretraining on MS-COCO",
        notes="The text: OS 8 brings 1.3 points, multi-scale 0.94 and flip 0.32 more; flip is the last row "
              "without COCO (79.77), multi-scale alone is 79.45.",
    ),
    "v3_train_eval_output_stride": _table(
        "v3_train_eval_output_stride",
        "DeepLab v3 Table 10: output stride in training and in evaluation, mean IoU (%) on VOC 2012 val",
        f"{_V3} Table 10 'Effect of output stride on PASCAL VOC 2012 val set', {_V3_TEXT}",
        (_MIOU,),
        {"train OS 8, eval OS 16": (74.45,), "train OS 16, eval OS 16": (77.21,),
         "train OS 32, eval OS 16": (75.90,), "train OS 8, eval OS 8": (75.62,),
         "train OS 16, eval OS 8": (78.51,), "train OS 32, eval OS 8": (75.75,)},
        paper="v3", table_number=10, row_label="output stride",
        caption="the ASPP model trained at one output stride with the largest batch that fits (6, 16, 24 at "
                "OS 8, 16, 32) and evaluated at another",
    ),
    "v3plus_decoder_channels": _table(
        "v3plus_decoder_channels",
        "DeepLab v3+ Table 1: channels of the decoder's 1x1 convolution on the low-level features, ResNet-101, "
        "mean IoU (%) on VOC 2012 val",
        f"{_V3P} Table 1 'Effect of decoder 1x1 convolution used to reduce the channels of low-level feature map "
        f"from the encoder module', {_V3P_TEXTS}",
        (_MIOU,),
        {"8 channels": (77.61,), "16 channels": (77.92,), "32 channels": (78.16,), "48 channels": (78.21,),
         "64 channels": (77.94,)},
        paper="v3+", table_number=1, row_label="decoder 1x1 conv",
        caption="the 1x1 convolution that reduces Conv2's channels before the concatenation, with the decoder's "
                "other parts fixed ([3x3, 256], Conv2); the paper adopts 48",
    ),
    "v3plus_decoder_structure": _table(
        "v3plus_decoder_structure",
        "DeepLab v3+ Table 2: the decoder's low-level features and 3x3 refinement, ResNet-101, mean IoU (%) on "
        "VOC 2012 val",
        f"{_V3P} Table 2 'Effect of decoder structure when fixing [1x1, 48] to reduce the encoder feature "
        f"channels', {_V3P_TEXTS}",
        (_MIOU,),
        {"Conv2, [3x3, 256]": (78.21,), "Conv2, [3x3, 256] x 2": (78.85,), "Conv2, [3x3, 256] x 3": (78.02,),
         "Conv2, [3x3, 128]": (77.25,), "Conv2, [1x1, 256]": (78.07,), "Conv2 + Conv3, [3x3, 256]": (78.61,)},
        paper="v3+", table_number=2, row_label="decoder",
        caption="which encoder features feed the decoder (Conv2 before striding, Conv3) and the convolutions "
                "that refine the concatenation; the paper adopts Conv2 with two [3x3, 256]",
    ),
    "v3plus_resnet101": _table(
        "v3plus_resnet101",
        "DeepLab v3+ Table 3: the decoder with ResNet-101, trained at output stride 16, mean IoU (%) on VOC 2012 "
        "val (single scale, no flip)",
        f"{_V3P} Table 3 'Inference strategy on the PASCAL VOC 2012 val set using ResNet-101', {_V3P_TEXTS}",
        ("eval OS 16", "eval OS 8"),
        {"no decoder": (77.21, 78.51), "decoder": (78.85, 79.35)},
        paper="v3+", table_number=3, row_label="model",
        caption="DeepLabv3 (no decoder) against DeepLabv3+ (decoder), both trained at output stride 16 and "
                "evaluated at 16 or 8; the table's multi-scale, flip and train-OS-32 rows are not kept here",
    ),
    "v3plus_xception": _table(
        "v3plus_xception",
        "DeepLab v3+ Table 5: the decoder with the modified Xception, trained at output stride 16, mean IoU (%) "
        "on VOC 2012 val (single scale, no flip)",
        f"{_V3P} Table 5 'Inference strategy on the PASCAL VOC 2012 val set when using modified Xception', "
        f"{_V3P_TEXTS}",
        ("eval OS 16", "eval OS 8"),
        {"no decoder": (79.17, 79.64), "decoder": (79.93, 80.22)},
        paper="v3+", table_number=5, row_label="model",
        caption="the decoder's gain with Xception (regular convolutions in ASPP and decoder, ImageNet start), "
                "evaluated at 16 or 8; the multi-scale, flip, separable, COCO and JFT rows are not kept here",
    ),
}

NOT_INCLUDED: dict[str, str] = {}


def get_table(key: str) -> PublishedTable:
    """The published table named ``key`` (one of ``TABLES``)."""
    if key not in TABLES:
        raise KeyError(f"no published table {key!r}; the tables are {sorted(TABLES)}")
    return TABLES[key]


def paper_difference(table_key: str, a: tuple[str, str], b: tuple[str, str]) -> PaperDifference:
    """The paper's difference cell ``a`` − cell ``b`` of one table, each cell ``(row, column)``, in
    mean-IoU points, e.g. ``paper_difference("v2_aspp", ("ASPP-L", "before CRF"), ("LargeFOV",
    "before CRF"))`` → ``+3.20 (v2 Table 3)``. Both cells must hold mean IoU."""
    table = get_table(table_key)
    value_a, value_b = table.miou(*a), table.miou(*b)
    detail = (f"{a[0]} ({a[1]}) {value_a:.2f} vs {b[0]} ({b[1]}) {value_b:.2f}, {table.split}"
              + ("" if table.crf in ("both", "none") else f", {table.crf} the CRF"))
    # + 0.0 so that equal cells print as +0.00, not -0.00.
    return PaperDifference(round(value_a - value_b, 2) + 0.0, table.citation, detail)


def format_published(table: PublishedTable | str) -> str:
    """The table as aligned text, its source underneath. Mean IoU prints with the paper's two
    decimals; other numbers as short as they go."""
    table = get_table(table) if isinstance(table, str) else table
    miou = table.miou_columns or table.columns

    def show(cell: Cited | None, column: str) -> str:
        if cell is None:
            return "-"
        if isinstance(cell.value, float):
            return f"{cell.value:.2f}" if column in miou else f"{cell.value:g}"
        return str(cell.value)

    header = (table.row_label, *table.columns)
    body = [(name, *(show(cell, column) for cell, column in zip(cells, table.columns)))
            for name, cells in table.rows.items()]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(text.ljust(w) if i == 0 else text.rjust(w) for i, (text, w) in enumerate(zip(row, widths)))
             for row in [header, *body]]
    return "\n".join([table.title, *lines, f"source: {table.source}"])
