"""The papers' own results, each number with where it was read: to set beside the book's.

The book trains small models on its built-in scenes; its mIoU is not PASCAL VOC's. What *can*
be compared is the direction and size of an effect (a larger field of view, ASPP, a smaller
output stride, a decoder): these tables hold what the papers measured on VOC 2012 so a chapter
can print them beside its own run. Every number is a :class:`recipes.Cited` (value, source,
how it was checked), as in ``recipes.py``.

Read here:

* v1 (Chen et al., ICLR 2015, arXiv 1412.7062) Table 2, "Effect of Field-Of-View": mIoU on VOC
  2012 val after the CRF and training speed, per fc6 design. Read in a transcription of the
  paper (English with a Chinese translation) in the public code index, the same one
  ``recipes.py`` cites for v1's training section; a second summary of the paper in the index (in
  Korean) gives the same 7x7 / 4x4 / LargeFOV numbers.

Not included, because no text of the table could be read here (the search indexes hold these
papers' abstracts and opening pages, not their tables; ``NOT_INCLUDED`` says which): v2's ASPP
table, v3's output-stride table, v3+'s decoder table. Add them, cited, when they can be read;
numbers from memory do not belong here.
"""

from __future__ import annotations

import dataclasses

from deeplab_edu.recipes import READ, Cited

__all__ = ["PublishedTable", "TABLES", "NOT_INCLUDED", "get_table", "format_table"]


@dataclasses.dataclass(frozen=True)
class PublishedTable:
    """One table of a paper: ``rows`` maps a model's name (as the paper writes it) to its cells,
    one :class:`Cited` per column of ``columns`` (``None`` where the paper leaves it empty)."""

    key: str
    title: str
    source: str
    columns: tuple[str, ...]
    rows: dict[str, tuple[Cited | None, ...]]
    notes: str = ""

    def __post_init__(self) -> None:
        for model, cells in self.rows.items():
            if len(cells) != len(self.columns):
                raise ValueError(f"{self.key}: row {model!r} has {len(cells)} cells for {len(self.columns)} columns")

    def value(self, model: str, column: str):
        """The number the paper prints for ``model`` in ``column`` (``None`` where it prints none)."""
        cell = self.rows[model][self.columns.index(column)]
        return None if cell is None else cell.value


_V1_TABLE2 = ("v1 (Chen et al., ICLR 2015, arXiv 1412.7062) Table 2 'Effect of Field-Of-View' "
              "(VOC 2012 val, after the CRF), read in a transcription of the paper in the public code index")


def _v1(value: float | int | str) -> Cited:
    return Cited(value, _V1_TABLE2, READ)


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
    ),
}

NOT_INCLUDED: dict[str, str] = {
    "v2 Table 3 (ASPP-S, ASPP-L against LargeFOV, VGG-16, VOC val)":
        "the table's text could not be read in the search indexes available here",
    "v3 Table 1 (output stride 8 … 256 with a deeper ResNet-50, VOC val)":
        "the table's text could not be read in the search indexes available here",
    "v3+ Table 1-2 (decoder design, VOC val)":
        "the table's text could not be read in the search indexes available here",
}


def get_table(key: str) -> PublishedTable:
    """The published table named ``key`` (one of ``TABLES``)."""
    if key not in TABLES:
        raise KeyError(f"no published table {key!r}; the tables are {sorted(TABLES)}")
    return TABLES[key]


def format_table(table: PublishedTable | str) -> str:
    """The table as aligned text, its source underneath."""
    table = get_table(table) if isinstance(table, str) else table
    header = ("model", *table.columns)
    body = [(model, *("-" if cell is None else f"{cell.value:g}" if isinstance(cell.value, float)
                      else str(cell.value) for cell in cells))
            for model, cells in table.rows.items()]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(text.ljust(w) if i == 0 else text.rjust(w) for i, (text, w) in enumerate(zip(row, widths)))
             for row in [header, *body]]
    return "\n".join([table.title, *lines, f"source: {table.source}"])
