"""gpu-check on a CPU: every stage runs at the tiny size, the report has its schema, a failing
stage is reported without stopping the others, the import chain needs only torch, NumPy
and Pillow (tqdm, SciPy, matplotlib, torchvision and pydensecrf blocked in a subprocess), and
nothing is swapped into ``sys.modules`` to get there."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deeplab_edu.gpu_check import cli, report as reports, stage, throughput, training
from deeplab_edu.gpu_check.stages import STAGES
from deeplab_edu.gpu_check.datasheet import bf16_peak_tflops
from deeplab_edu.gpu_check.sizes import SIZES

REPO = Path(__file__).resolve().parent.parent

# Run as a bare PyTorch machine would: these imports fail in the child.
BARE = ("import sys\n"
        "for name in ('tqdm', 'scipy', 'matplotlib', 'torchvision', 'pydensecrf', 'ipywidgets'):\n"
        "    sys.modules[name] = None\n"
        "from deeplab_edu.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n")


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    env = {**os.environ, "DEEPLAB_EDU_PROFILE": "smoke", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-c", BARE, "gpu-check", "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    return out, done


@pytest.mark.slow
@pytest.mark.slow
def test_cpu_mode_runs_every_stage_with_only_torch_numpy_pillow(cpu_run):
    out, done = cpu_run
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    reports.validate_report(report)
    assert [s["name"] for s in report["stages"]] == list(STAGES)
    assert all(s["status"] == "ok" for s in report["stages"]), [s.get("error") for s in report["stages"]]
    assert report["gpu_measured"] is False and report["size"] == "tiny" and report["gpu"] is None
    env = report["stages"][0]["figures"]
    assert env["progress_bars"] == "none (tqdm absent)"
    assert env["packages"]["scipy"].startswith("absent") and env["packages"]["torchvision"].startswith("absent")
    # one progress line at the start and one at the end of each stage
    for i, name in enumerate(STAGES, 1):
        assert f"[{i}/{len(STAGES)}] {name}: ok in" in done.stdout


@pytest.mark.slow
@pytest.mark.slow
def test_cpu_report_says_gpu_figures_are_unmeasured_and_shows_each_stage(cpu_run):
    out, _ = cpu_run
    md = (out / "report.md").read_text()
    assert "GPU figures are unmeasured" in md
    for i, (title, _) in enumerate(STAGES.values(), 1):
        assert f"## {i}. {title} — ok" in md
    report = json.loads((out / "report.json").read_text())
    stages = {s["name"]: s for s in report["stages"]}
    # the figures each stage exists to produce are present and plausible
    assert stages["throughput"]["figures"]["train_ours_images_s"] > 0
    assert stages["throughput"]["figures"]["train_target_met"] is None  # not judged off a GPU
    crf = stages["crf"]["figures"]
    assert crf["reference"].startswith("PyTorch lattice on the CPU")  # pydensecrf was blocked
    assert 0.9 <= crf["label_agreement"] <= 1 and crf["ms_per_image_batched"] > 0
    training = stages["training"]["figures"]
    assert training["iterations"] >= 2 and 0 <= training["mIoU"] <= 1
    assert training["images_s_with_loader"] > 0 and training["loader_only_images_s"] > 0
    ddp = stages["distributed"]["figures"]
    assert ddp["backend"] == "gloo" and ddp["world_size"] == 1 and ddp["all_reduce_ok"] is True
    assert any("SyncBatchNorm" in n for n in stages["distributed"]["notes"])
    projection = {(r["chapter"], r["profile"]): r for r in stages["projection"]["rows"]}
    assert {p for _, p in projection} == {"smoke", "laptop", "gpu", "full"}
    for chapter in ("07 v1 LargeFOV", "09 v3", "11 CRF-as-RNN"):
        gpu, full = projection[(chapter, "gpu")], projection[(chapter, "full")]
        assert 0 < gpu["T4-class_s"] <= 20 * 60 < full["T4-class_s"], chapter  # the gpu profile's promise
        assert gpu["H100-class_s"] < gpu["T4-class_s"] and "this_gpu_s" not in gpu  # nothing measured
    assert "| 07 v1 LargeFOV | gpu |" in (out / "report.md").read_text()


def _args(out: Path, stages: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(["--out", str(out), "--stages", stages, "--device", "cpu"])


@pytest.mark.slow
@pytest.mark.slow
def test_a_failing_stage_is_reported_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    def broken(ctx, result):
        raise RuntimeError("planted failure in stage 2")

    monkeypatch.setitem(STAGES, "throughput", ("Training and inference throughput", broken))
    assert cli.run(_args(tmp_path, "environment,throughput,crf")) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    reports.validate_report(report)
    status = {s["name"]: (s["status"], s["error"]) for s in report["stages"]}
    assert status["environment"] == ("ok", None) and status["crf"] == ("ok", None)
    assert status["throughput"] == ("failed", "RuntimeError: planted failure in stage 2")
    md = (tmp_path / "report.md").read_text()
    assert "## 2. Training and inference throughput — failed" in md and "planted failure" in md
    printed = capsys.readouterr().out
    assert "[2/3] throughput: failed" in printed and "[3/3] crf: ok" in printed


def test_validate_report_names_the_broken_field(tmp_path):
    report = reports.build_report([stage.StageResult("crf", "Dense CRF", status="ok")],
                                    SIZES["tiny"], torch.device("cpu"), 1.0)
    reports.validate_report(report)
    for path, value, message in ((("schema",), "other/1", "schema"),
                                 (("stages", 0, "status"), "done", "status"),
                                 (("stages", 0, "name"), "warp", "name"),
                                 (("stages", 0, "error"), "boom", "error string"),
                                 (("gpu_measured",), "no", "gpu_measured")):
        broken = json.loads(json.dumps(report))
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(ValueError, match=message):
            reports.validate_report(broken)


def test_bf16_peaks_by_gpu_name():
    assert bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert bf16_peak_tflops("NVIDIA H200") == 989.0
    assert bf16_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bf16_peak_tflops("NVIDIA L4") == 121.0
    assert bf16_peak_tflops("Tesla T4") is None


def test_stages_are_chosen_by_name_or_number():
    assert cli.parse_stages("1,crf,5") == ["environment", "crf", "distributed"]
    with pytest.raises(ValueError, match="unknown stage 'warp'"):
        cli.parse_stages("environment,warp")


def test_the_progress_stand_in_has_what_the_package_calls(monkeypatch):
    import importlib

    from deeplab_edu import progress

    monkeypatch.setitem(sys.modules, "tqdm", None)  # the test blocks tqdm; the package patches nothing
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    stand_in = importlib.reload(progress)
    try:
        assert stand_in.AVAILABLE is False and "tqdm" not in {k for k, v in sys.modules.items() if v is not None
                                                             and k.startswith("tqdm")}
        bar = stand_in.tqdm(total=3, desc="x", disable=True)
        bar.update(2)
        bar.set_postfix(loss="1")
        bar.close()
        assert bar.n == 2 and list(stand_in.tqdm([1, 2], desc="y", leave=False)) == [1, 2]
    finally:
        monkeypatch.undo()
        importlib.reload(progress)


def test_no_module_of_gpu_check_patches_sys_modules():
    folder = REPO / "deeplab_edu" / "gpu_check"
    for path in folder.glob("*.py"):
        assert "sys.modules[" not in path.read_text(), path.name


@pytest.mark.slow
@pytest.mark.slow
def test_the_gpu_size_generates_the_builtin_set_in_the_background(tmp_path):
    import dataclasses

    sizes = dataclasses.replace(SIZES["tiny"], name="gpu")  # the gpu path, tiny counts
    ctx = stage.Context(out=tmp_path / "out", work=tmp_path / "work", sizes=sizes,
                            device=torch.device("cpu"), budget=stage.Budget(300), shared={})
    training.start_dataset(ctx)
    assert ctx.shared["data_process"] is not None  # a child process, overlapping stages 2 and 3
    root = training.wait_for_dataset(ctx)
    assert root == tmp_path / "work" / "builtin"
    assert len(list((root / "JPEGImages").glob("*.jpg"))) == sizes.data_train + sizes.data_val


def test_the_command_is_registered_with_its_options(capsys):
    from deeplab_edu.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["gpu-check", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("--out", "--stages", "--size", "--work", "--no-compile", "--peak-tflops"):
        assert word in text


def _row(config, model, mode, images_s, **extra):
    return {"config": config, "model": model, "mode": mode, "images_s": images_s, "error": None, **extra}


GPU_LIKE_ROWS = [
    _row("torchvision fp32", "torchvision", "train", 40.0),
    _row("torchvision bf16+CL", "torchvision", "train", 120.0),
    {"config": "torchvision bf16+CL+compile", "model": "torchvision", "mode": "train",
     "error": "OutOfMemoryError: CUDA out of memory"},
    _row("ours bf16+CL+compile, fused SGD", "ours", "train", 168.0, tflops=300.0, share_of_peak=0.3033),
    _row("ours engine loop as is", "ours", "train", 100.0),
    _row("torchvision bf16+CL infer", "torchvision", "infer", 400.0),
    _row("torchvision bf16+CL+compile infer", "torchvision", "infer", 900.0),
    _row("ours bf16+CL infer", "ours", "infer", 440.0),
]


def test_the_engine_is_compared_with_torchvisions_fastest_training_and_eager_inference():
    f = throughput.compare_throughput(GPU_LIKE_ROWS, on_gpu=True)
    # training: the fastest torchvision row that ran (the compiled one failed)
    assert f["train_reference"] == "torchvision bf16+CL" and f["train_speedup"] == pytest.approx(1.4)
    assert f["train_ours_best"] == "ours bf16+CL+compile, fused SGD" and f["train_target_met"] is True
    # inference: the reference is torchvision's eager bf16 + channels-last, not its fastest
    assert f["infer_reference"] == "torchvision bf16+CL infer" and f["infer_speedup"] == pytest.approx(1.1)
    assert f["infer_target_met"] is False
    assert throughput.compare_throughput(GPU_LIKE_ROWS, on_gpu=False)["train_target_met"] is None
    assert throughput.compare_throughput(GPU_LIKE_ROWS[3:5], on_gpu=True)["train_speedup"] is None


def test_a_gpu_report_formats_its_table_and_names_the_machine(tmp_path):
    stages = [stage.StageResult("environment", "Environment", summary="NVIDIA H200",
                                    figures={"gpu": "NVIDIA H200", "torch": "2.11.0", "cuda_runtime": "13.0",
                                             "cudnn": 91000, "packages": {"numpy": "2.5"}}),
              stage.StageResult("throughput", "Training and inference throughput", rows=GPU_LIKE_ROWS,
                                    figures=throughput.compare_throughput(GPU_LIKE_ROWS, on_gpu=True)),
              stage.StageResult("crf", "Dense CRF on the GPU", status="failed", error="RuntimeError: x")]
    report = reports.write_reports(tmp_path, stages, SIZES["gpu"], torch.device("cuda"), 400.0)
    reports.validate_report(report)
    assert report["gpu_measured"] is True and report["gpu"] == "NVIDIA H200"
    md = (tmp_path / "report.md").read_text()
    assert "machine: NVIDIA H200, torch 2.11.0, CUDA 13.0" in md and "unmeasured" not in md
    assert "| ours bf16+CL+compile, fused SGD | 168 |" in md and "30.3%" in md
    assert "OutOfMemoryError" in md and "## 3. Dense CRF on the GPU — failed" in md
    assert json.loads((tmp_path / "report.json").read_text()) == report


class _DictOutput(torch.nn.Module):
    """Stands in for torchvision's model where torchvision is absent: the same calling convention."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return {"out": self.model(x)}


@pytest.mark.slow
@pytest.mark.slow
def test_throughput_stage_measures_the_torchvision_loop_beside_the_engine(tmp_path, monkeypatch):
    sizes = SIZES["tiny"]
    monkeypatch.setattr(throughput, "_torchvision_missing", lambda: None)
    monkeypatch.setattr(throughput, "_build_torchvision", lambda classes=21: _DictOutput(throughput._build_ours(sizes)))
    ctx = stage.Context(out=tmp_path, work=tmp_path, sizes=sizes, device=torch.device("cpu"),
                            budget=stage.Budget(300), shared={"peak": None})
    result = stage.StageResult("throughput", "Training and inference throughput")
    throughput.stage_throughput(ctx, result)
    measured = {r["config"]: r for r in result.rows if r.get("images_s")}
    assert {"torchvision fp32", "torchvision bf16+CL infer", "ours bf16+CL infer"} <= set(measured)
    assert any(c.startswith("ours engine loop as is") for c in measured)
    for row in measured.values():
        assert row["images_s"] > 0 and row["tflops"] > 0  # FLOPs counted for both models, both modes
    f = result.figures
    assert f["train_reference"] == "torchvision fp32" and f["train_speedup"] > 0
    assert f["infer_reference"] == "torchvision bf16+CL infer" and f["train_target_met"] is None
    assert "torchvision's best" in result.summary


@pytest.mark.slow
def test_on_a_gpu_the_projection_times_each_chapter_and_measures_the_share(tmp_path, monkeypatch):
    from deeplab_edu import chapter_runs
    from deeplab_edu.engine import estimate
    from deeplab_edu.gpu_check.projection import stage_projection

    monkeypatch.setattr(chapter_runs, "CHAPTERS", {"09 v3": chapter_runs.chapter_09})
    # a GPU that reaches 100 TFLOP/s on every recipe, without a GPU: the timing is the stand-in
    monkeypatch.setattr(estimate, "time_steps", lambda config, steps, device: estimate.step_flops(config) / 100e12)
    ctx = stage.Context(out=tmp_path, work=tmp_path, sizes=SIZES["gpu"], device=torch.device("cuda"),
                        budget=stage.Budget(300), shared={"peak": 989.0})
    result = stage.StageResult("projection", "Each chapter's training time per run profile")
    stage_projection(ctx, result)
    assert result.figures["measured_tflops"] == {"09 v3": 100.0}
    assert result.figures["measured_share"] == pytest.approx(100 / 989)
    rows = {r["profile"]: r for r in result.rows}
    assert rows["gpu"]["this_gpu_s"] == pytest.approx(rows["gpu"]["pflop"] * 1e15 / 100e12)
    assert "measured here: 0.101 of the bf16 peak" in result.summary
