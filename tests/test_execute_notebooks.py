"""The chapter executor keeps no progress-bar widget frozen at its first frame, and records
each chapter's wall time, machine and profile in the notebook (not in the ``.py``)."""

import json

import jupytext
import nbformat
import pytest

from tools.execute_notebooks import drop_progress_widgets, execute, machine, record_execution, reference_step_ms


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


def test_the_record_goes_into_the_notebook_metadata_and_not_into_the_script(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    notebook.metadata["jupytext"] = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "tags,-all"}
    record = record_execution(notebook, 123.456, where="a test CPU, 2 logical CPUs, no CUDA GPU", profile="laptop")
    load = record.pop("load_average_15min")
    assert isinstance(load, float) and load >= 0  # how busy the machine was, beside the time it took
    assert record == {"wall_s": 123.5, "machine": "a test CPU, 2 logical CPUs, no CUDA GPU", "profile": "laptop"}
    record["load_average_15min"] = load
    jupytext.write(notebook, tmp_path / "99_x.ipynb")
    jupytext.write(notebook, tmp_path / "99_x.py", fmt="py:percent")
    saved = json.loads((tmp_path / "99_x.ipynb").read_text())["metadata"]
    assert saved["deeplab_edu"]["execution"] == record
    assert "123.5" not in (tmp_path / "99_x.py").read_text()


def test_the_profile_recorded_is_the_one_the_kernel_sees(monkeypatch):
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    notebook = nbformat.v4.new_notebook()
    assert record_execution(notebook, 1.0, where="cpu")["profile"] == "smoke"


def test_the_host_speed_is_chapter_07s_laptop_step_and_goes_in_as_measured():
    first = reference_step_ms(steps=1)
    assert 1 < first < 60_000  # a real step of a real model: neither free nor a hang
    notebook = nbformat.v4.new_notebook()
    assert record_execution(notebook, 1.0, where="cpu", step_ms=first)["reference_step_ms"] == round(first, 1)
    assert "reference_step_ms" not in record_execution(notebook, 1.0, where="cpu")


def test_machine_names_the_cpu_count_and_the_gpu():
    described = machine()
    assert "logical CPUs" in described
    assert described.endswith("no CUDA GPU") or "no CUDA GPU" not in described


@pytest.mark.slow
def test_executing_a_chapter_records_its_time(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    script = tmp_path / "99_tiny.py"
    script.write_text("# %%\nimport time\ntime.sleep(0.2)\nprint('done')\n")
    seconds = execute(script, timeout=60)
    saved = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    record = saved.metadata["deeplab_edu"]["execution"]
    assert record["profile"] == "smoke"
    assert 0.2 <= record["wall_s"] <= seconds + 0.1
    assert record["reference_step_ms"] > 0  # the host's speed, measured in the same run
    assert saved.cells[0].outputs[0]["text"] == "done\n"
