"""The chapter executor keeps no progress-bar widget frozen at its first frame."""

import nbformat

from tools.execute_notebooks import drop_progress_widgets


def widget(text):
    return nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
        "text/plain": text})


def test_progress_widgets_go_and_everything_else_stays():
    bar = widget("CRF grid:   0%|          | 0/810 [00:00<?, ?it/s]")
    slider = widget("interactive(children=(IntSlider(value=2, description='rate', max=8, min=1), Output()))")
    printed = nbformat.v4.new_output("stream", name="stdout", text="  0%| is not a bar 3/4\n")
    cell = nbformat.v4.new_code_cell("x", outputs=[bar, printed, slider])
    notebook = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("0%|")])
    assert drop_progress_widgets(notebook) == 1
    assert cell.outputs == [printed, slider]
