"""The chapters' namespace: every name resolves to its module, and the chapters need nothing else."""

import ast
import importlib
from pathlib import Path

import pytest

from deeplab_edu import book

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# Chapters 07-11 still import two names the book lists under their new names.
def test_every_name_is_defined_by_the_module_the_index_names():
    for name, (module, _) in book._SOURCE.items():
        assert getattr(book, name) is getattr(importlib.import_module(module), name), name


def test_each_name_is_listed_once_under_one_chapter():
    listed = [name for modules in book.TEACHES.values() for names in modules.values() for name in names]
    assert len(listed) == len(set(listed)), sorted(n for n in listed if listed.count(n) > 1)


def test_where_names_the_module_and_the_chapter():
    assert book.where("atrous_conv1d") == ("deeplab_edu.atrous", "01 · Atrous convolution in 1-D")
    assert book.where("score_crf") == ("deeplab_edu.crf.search", "04 · The fully-connected CRF")
    with pytest.raises(KeyError, match="not in the book's index"):
        book.where("no_such_name")
    with pytest.raises(AttributeError, match="TEACHES"):
        book.no_such_name


def test_the_module_index_lists_each_chapter_with_its_modules():
    index = book.modules_by_chapter()
    assert index["01 · Atrous convolution in 1-D"] == [
        "deeplab_edu.atrous", "deeplab_edu.receptive_field", "deeplab_edu.viz.atrous",
        "deeplab_edu.viz.receptive_field"]
    assert all(m.startswith("deeplab_edu") for modules in index.values() for m in modules)


def package_names(path: Path) -> tuple[set[str], set[str]]:
    """(modules imported from the package, names the chapter reads from them)."""
    tree = ast.parse(path.read_text())
    modules, aliases, names = set(), {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("deeplab_edu"):
            modules.add(node.module)
            for alias in node.names:
                try:
                    importlib.import_module(f"{node.module}.{alias.name}")
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                except ImportError:
                    names.add(alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            names.add(node.attr)
    return modules, names


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS.glob("[01][0-9]_*.py")), ids=lambda p: p.stem)
def test_every_chapter_imports_only_the_book(chapter):
    modules, names = package_names(chapter)
    assert modules <= {"deeplab_edu", "deeplab_edu.book"}, modules
    assert names - set(book._SOURCE) == set()


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS.glob("[01][0-9]_*.py")), ids=lambda p: p.stem)
def test_the_book_has_every_name_a_chapter_reads(chapter):
    _, names = package_names(chapter)
    assert names - set(book._SOURCE) == set()


def test_the_readme_prints_the_book_s_module_index():
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    for chapter, modules in book.modules_by_chapter().items():
        names = ", ".join(f"`{m.removeprefix('deeplab_edu.')}`" if m != "deeplab_edu" else "`deeplab_edu`"
                          for m in modules)
        assert f"| {chapter.split(' · ')[0]} | {names} |" in readme, chapter
