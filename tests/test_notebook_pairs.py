"""The notebook pipeline's own guard: pairs in sync, and a desynced pair is caught."""

import shutil

import pytest

from tools import notebook_pairs

SCRIPTS = notebook_pairs.chapter_scripts()


def test_the_book_has_chapters():
    assert any(s.name == "00_tour.py" for s in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_pair_is_in_sync(script):
    assert notebook_pairs.pair_problems(script) == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_committed_notebook_is_executed(script):
    import nbformat

    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"
            and "skip-execution" not in c.metadata.get("tags", [])]
    assert code and all(c.execution_count is not None for c in code), \
        f"{script.with_suffix('.ipynb').name} has unexecuted cells: run `make notebooks NB={script}`"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_chapter_source_has_no_metadata_header(script):
    # jupytext.toml keeps notebook metadata out of the .py, so `make sync` and
    # `make notebooks` write the same source; a header means a different config wrote it.
    assert not script.read_text(encoding="utf-8").startswith("# ---"), \
        f"{script.name} starts with a YAML header: remove it and run `make sync`"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_figures_were_drawn_inline(script):
    # A chapter executed with MPLBACKEND=Agg has no figures; nbval then fails on every
    # machine whose kernel draws them. `make notebooks` clears MPLBACKEND for the kernel.
    import nbformat

    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    shows = [c for c in notebook.cells if c.cell_type == "code" and "plt.show()" in c.source]
    figures = [c for c in shows if any(o.output_type == "display_data" and "image/png" in o.get("data", {})
                                       for o in c.outputs)]
    assert not shows or figures, f"{script.with_suffix('.ipynb').name} has no figures: re-run `make notebooks`"


def test_a_desynced_pair_is_reported(tmp_path):
    for suffix in (".py", ".ipynb"):
        shutil.copy(SCRIPTS[0].with_suffix(suffix), tmp_path / SCRIPTS[0].with_suffix(suffix).name)
    copy = tmp_path / SCRIPTS[0].name
    assert notebook_pairs.all_problems(tmp_path) == []
    copy.write_text(copy.read_text() + "\n# %%\nprint('a cell only the script has')\n")
    problems = notebook_pairs.all_problems(tmp_path)
    assert len(problems) == 1 and "out of sync" in problems[0] and copy.name in problems[0]


def test_an_unpaired_file_is_reported(tmp_path):
    shutil.copy(SCRIPTS[0], tmp_path / SCRIPTS[0].name)
    assert "has no paired notebook" in notebook_pairs.all_problems(tmp_path)[0]
