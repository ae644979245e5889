"""Faults a demanding user meets, each answered with one clear line (exit status 2) or the right
behaviour: environment variables and device strings, options a model does not take, paths of
the wrong kind, memory asked for by a flag, data that is not what it seems, the shipped
weights, and the CRF's size guard."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deeplab_edu.__main__ import main
from deeplab_edu.datasets.synthetic import write_builtin

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_builtin(tmp_path_factory.mktemp("data"), train=2, val=2, size=40, progress=False)


@pytest.fixture(autouse=True)
def smoke(monkeypatch):
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    monkeypatch.delenv("DEEPLAB_EDU_DEVICE", raising=False)


def one_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    line = err.splitlines()[-1]
    for needle in needles:
        assert needle in line, line
    return line


def train(*argv: str) -> list[str]:
    return ["train", "--model", "deeplabv1", "--width", "0.125", "--crop-size", "33", "--batch-size", "2",
            "--iterations", "1", "--no-progress", "--pretrained", "none", *argv]


# ------------------------------------------------------------------ environment and devices

def test_an_unknown_profile_ends_even_help_with_one_line_listing_the_profiles(monkeypatch, capsys):
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "bogus")
    for command in ("train", "make-data"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 2
        one_line(capsys, "unknown run profile 'bogus'", "DEEPLAB_EDU_PROFILE", "smoke, laptop")


@pytest.mark.parametrize("value, needle", [("bogus", "expected cpu, cuda, cuda:N or mps"),
                                           ("cuda:99", "device 'cuda:99'")])
def test_a_bad_device_variable_is_one_line(monkeypatch, capsys, tmp_path, value, needle):
    monkeypatch.setenv("DEEPLAB_EDU_DEVICE", value)
    assert main(["evaluate", str(tmp_path / "c.pt")]) == 2
    one_line(capsys, f"environment variable DEEPLAB_EDU_DEVICE: device '{value}'", needle)


def test_a_bad_device_string_lists_the_choices(capsys, tmp_path):
    assert main(["evaluate", str(tmp_path / "c.pt"), "--device", "bogus"]) == 2
    one_line(capsys, "device 'bogus' is not a device name; expected cpu, cuda, cuda:N or mps")


# ------------------------------------------------------------------ options and values

@pytest.mark.parametrize("argv, needle", [
    (["--rates", "6,12"], "--rates is not an option of deeplabv1; it applies to deeplabv2"),
    (["--model", "deeplabv3", "--fc6", "7x7"], "--fc6 is not an option of deeplabv3; it applies to deeplabv1"),
])
def test_an_option_the_model_does_not_take_is_refused_by_name(capsys, tmp_path, argv, needle):
    assert main(train("--out", str(tmp_path / "run"), *argv)) == 2
    one_line(capsys, needle)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [["train"], ["make-data"], ["pretrain"]])
def test_a_seed_out_of_range_names_the_flag(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--seed", "99999999999999999999"])
    assert exit_info.value.code == 2
    one_line(capsys, "argument --seed: expected a seed in 0..4294967295")


# ------------------------------------------------------------------ paths of the wrong kind

def test_pretrained_weights_that_are_empty_or_a_folder_are_said_so(capsys, tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    assert main(train("--out", str(tmp_path / "run"), "--pretrained", str(tmp_path / "empty.pt"))) == 2
    one_line(capsys, f"--pretrained {tmp_path / 'empty.pt'} is empty (0 bytes)")
    assert main(train("--out", str(tmp_path / "run"), "--pretrained", str(tmp_path))) == 2
    one_line(capsys, f"--pretrained {tmp_path} is a folder; expected a file")


def test_a_run_folder_given_for_a_checkpoint_points_at_the_file(capsys, tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"x")
    assert main(["evaluate", str(tmp_path), "--device", "cpu"]) == 2
    one_line(capsys, f"checkpoint {tmp_path} is a folder; expected a file (did you mean {tmp_path / 'checkpoint.pt'}?)")
    assert main(["predict", str(tmp_path / "photo.png"), "--checkpoint", str(tmp_path), "--out",
                 str(tmp_path / "o.png")]) == 2
    one_line(capsys, f"image {tmp_path / 'photo.png'} does not exist")


def test_a_scores_file_given_for_the_scores_folder_is_said_so(capsys, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 2, 2)))
    assert main(["crf", str(tmp_path / "x.npy")]) == 2
    one_line(capsys, f"scores folder {tmp_path / 'x.npy'} is a file; expected a folder")


def test_an_all_zero_score_file_is_named(capsys, tmp_path, data):
    scores = tmp_path / "scores"
    scores.mkdir()
    ids = (data / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    for image_id in ids:
        probs = np.full((4, 40, 40), 0.25, dtype=np.float16)
        np.save(scores / f"{image_id}.npy", probs)
    np.save(scores / f"{ids[1]}.npy", np.zeros((4, 40, 40), dtype=np.float16))
    assert main(["crf", str(scores), "--dataset", "builtin", "--data-root", str(data), "--workers", "1",
                 "--no-progress"]) == 2
    one_line(capsys, f"saved scores {scores / (ids[1] + '.npy')} are not probabilities: 1600 of 1600 pixels")


# ------------------------------------------------------------------ memory, named by the flag

@pytest.mark.parametrize("argv, needle", [
    (train("--width", "1000"), "--width 1000 (weights, gradients and momentum) needs roughly"),
    (train("--crop-size", "100000"), "--crop-size 100000 with --batch-size 2 (2 crop(s) per pass) needs roughly"),
    (["make-data", "--size", "100000"], "--size 100000 (one 100000x100000 scene) needs roughly"),
    (["pretrain", "--batch-size", "100000"], "--batch-size 100000 with --width 0.25 needs roughly"),
])
def test_memory_that_cannot_fit_is_refused_naming_the_flag(capsys, tmp_path, argv, needle):
    out = ["--root", str(tmp_path / "d")] if argv[0] == "make-data" else ["--out", str(tmp_path / "o.pt")]
    assert main([*argv, *out]) == 2
    line = one_line(capsys, needle, "more than this machine has", "ask for less")
    assert "TiB" in line or "GiB" in line
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_an_allocation_that_fails_anyway_is_one_line_naming_the_flag(tmp_path):
    # RLIMIT_AS makes the allocation fail at once, as on a machine without the memory.
    code = ("import resource, sys\n"
            "import numpy as np, torch\n"
            "from deeplab_edu.cli.memory import naming_memory\n"
            "size = next(l for l in open('/proc/self/status') if l.startswith('VmSize'))\n"
            "limit = int(size.split()[1]) * 1024 + 2**31  # what is mapped now, and 2 GiB more\n"
            "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
            "for make in (lambda: np.ones(2**36, dtype=np.uint8), lambda: torch.ones(2**36, dtype=torch.uint8)):\n"
            "    try:\n"
            "        with naming_memory(2**36, '--size 262144'):\n"
            "            make()\n"
            "    except ValueError as err:\n"
            "        print(err)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:  # NumPy's MemoryError, then PyTorch's RuntimeError
        assert line.startswith("out of memory (a request for 64.0 GiB failed): --size 262144 asks for roughly 64.0 GiB")


def test_other_runtime_errors_are_not_taken_for_memory():
    from deeplab_edu.cli.memory import naming_memory

    with pytest.raises(RuntimeError, match="shape mismatch"):
        with naming_memory(1, "--x 1"):
            raise RuntimeError("shape mismatch")


# ------------------------------------------------------------------ make-data

def test_make_data_refuses_a_folder_it_did_not_write(capsys, tmp_path):
    voc = tmp_path / "VOC2012"
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("2007_000032\n")
    assert main(["make-data", "--root", str(voc), "--train", "2", "--val", "1", "--size", "32",
                 "--no-progress"]) == 2
    one_line(capsys, f"--root {voc} holds files that make-data did not write (no builtin.json")
    assert (voc / "ImageSets" / "Segmentation" / "train.txt").read_text() == "2007_000032\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VOC2012"]


def test_make_data_killed_part_way_leaves_the_old_set_whole(tmp_path, monkeypatch, capsys):
    from deeplab_edu.datasets import synthetic

    root = tmp_path / "builtin"
    assert main(["make-data", "--root", str(root), "--train", "3", "--val", "1", "--size", "32",
                 "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in (root / "JPEGImages").iterdir()}
    real = synthetic.make_scene
    calls = []

    def killed_after_two(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(synthetic, "make_scene", killed_after_two)
    assert main(["make-data", "--root", str(root), "--train", "3", "--val", "1", "--size", "32", "--seed", "1",
                 "--no-progress"]) == 130
    assert {p.name: p.read_bytes() for p in (root / "JPEGImages").iterdir()} == before
    assert json.loads((root / "builtin.json").read_text())["seed"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builtin"]  # no half-built folder beside it
    monkeypatch.undo()
    assert main(["make-data", "--root", str(root), "--train", "3", "--val", "1", "--size", "32", "--seed", "1",
                 "--no-progress"]) == 0
    assert json.loads((root / "builtin.json").read_text())["seed"] == 1
    assert {p.name: p.read_bytes() for p in (root / "JPEGImages").iterdir()} != before


# ------------------------------------------------------------------ pretrain's weights

def test_pretrain_never_replaces_the_shipped_weights_without_overwrite(capsys):
    from deeplab_edu.pretrain import SHIPPED_DIR

    shipped = SHIPPED_DIR / "resnet-w0.25-b1111.pt"
    assert shipped.is_file()
    stamp = shipped.stat().st_mtime_ns
    assert main(["pretrain", "--iterations", "1", "--no-progress"]) == 2
    one_line(capsys, "resnet-w0.25-b1111.pt exists (the shipped weights the chapters start from); "
                     "pass --overwrite")
    assert shipped.stat().st_mtime_ns == stamp


def test_pretrain_refuses_a_json_out_and_an_existing_file(capsys, tmp_path):
    assert main(["pretrain", "--out", str(tmp_path / "w.json")]) == 2
    one_line(capsys, f"--out {tmp_path / 'w.json'}: the weights file must not end in .json")
    (tmp_path / "mine.pt").write_bytes(b"someone's file")
    assert main(["pretrain", "--out", str(tmp_path / "mine.pt")]) == 2
    one_line(capsys, f"--out {tmp_path / 'mine.pt'} exists; pass --overwrite")
    assert (tmp_path / "mine.pt").read_bytes() == b"someone's file"


def test_save_classifier_refuses_a_json_path(tmp_path):
    from deeplab_edu.pretrain import save_classifier

    with pytest.raises(ValueError, match=r"w\.json ends in \.json, where its JSON record goes"):
        save_classifier(None, None, tmp_path / "w.json")


@pytest.mark.slow
def test_a_diverging_pretraining_is_one_line(capsys, tmp_path):
    assert main(["pretrain", "--width", "0.125", "--iterations", "3", "--train-images", "16", "--batch-size", "4",
                 "--lr", "1e30", "--out", str(tmp_path / "w.pt"), "--no-progress"]) == 2
    one_line(capsys, "pretraining loss is nan at step", "(--lr)")
    assert not (tmp_path / "w.pt").exists()


# ------------------------------------------------------------------ predict and the CRF

def test_an_image_too_small_for_the_scales_is_refused_with_the_smallest_size_that_works():
    from deeplab_edu.models import build_model
    from deeplab_edu.predict import predict_label, smallest_side

    assert [smallest_side(s) for s in ((1.0,), (0.5, 1.0), (0.25,), (0.3,))] == [1, 2, 4, 4]
    model = build_model("deeplabv1", 3, width=0.125).eval()
    tiny = np.zeros((1, 1, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"image is 1×1 pixels: at scale 0\.25 its short side would shrink to 0 "
                                         r"pixels; the smallest image --scales 0\.25 1 can score is 4×4"):
        predict_label(model, tiny, (0.25, 1.0))
    assert predict_label(model, np.zeros((4, 5, 3), dtype=np.uint8), (0.25, 1.0)).shape == (4, 5)


@pytest.mark.slow
def test_the_torch_crf_refuses_a_large_image_naming_the_lattice():
    from deeplab_edu.crf import CRFParams, dense_crf

    image = np.zeros((256, 256, 3), dtype=np.uint8)
    probs = np.full((21, 256, 256), 1 / 21, dtype=np.float32)
    with pytest.raises(ValueError, match=r"method 'torch' evaluates all N² pixel pairs and allows at most 9216 "
                                         r"pixels .*256×256 = 65536\. Use method='lattice'"):
        dense_crf(image, probs, CRFParams(iterations=1), method="torch")
    refined = dense_crf(image[:96, :96], probs[:2, :96, :96] * 10.5, CRFParams(iterations=1), method="torch")
    assert refined.shape == (2, 96, 96)


# ------------------------------------------------------------------ gpu-check's options

@pytest.mark.parametrize("option, value, needle", [
    ("--peak-tflops", "-5", "argument --peak-tflops: expected a finite number > 0, got '-5'"),
    ("--peak-tflops", "nan", "argument --peak-tflops: expected a finite number, got 'nan'"),
    ("--train-seconds", "inf", "argument --train-seconds: expected a finite number, got 'inf'"),
    ("--train-seconds", "0", "argument --train-seconds: expected a finite number > 0, got '0'"),
    ("--device", "bogus", "argument --device: 'bogus' is not a device name; expected cpu, cuda, cuda:N or mps"),
])
def test_gpu_check_options_are_checked_before_anything_runs(capsys, tmp_path, option, value, needle):
    with pytest.raises(SystemExit) as exit_info:
        main(["gpu-check", "--out", str(tmp_path / "report"), option, value])
    assert exit_info.value.code == 2
    one_line(capsys, needle)
    assert not (tmp_path / "report").exists()


def test_make_data_refuses_a_generated_set_with_someone_elses_files_beside_it(capsys, tmp_path):
    root = tmp_path / "builtin"
    assert main(["make-data", "--root", str(root), "--train", "1", "--val", "1", "--size", "32",
                 "--no-progress"]) == 0
    (root / "notes.txt").write_text("mine")
    assert main(["make-data", "--root", str(root), "--train", "1", "--val", "1", "--size", "32",
                 "--no-progress"]) == 2
    one_line(capsys, f"--root {root} holds notes.txt beside the built-in set, which make-data did not write")
    assert (root / "notes.txt").read_text() == "mine"


def test_dataset_folders_of_the_wrong_kind_are_said_so(capsys, tmp_path, data):
    (tmp_path / "file").write_text("")
    assert main(["convert-sbd", "--voc", str(tmp_path / "file"), "--sbd", str(tmp_path), "--no-progress"]) == 2
    one_line(capsys, f"--voc {tmp_path / 'file'} is a file; expected a folder")
    assert main(["convert-sbd", "--voc", str(data), "--sbd", str(tmp_path / "none"), "--no-progress"]) == 2
    one_line(capsys, f"--sbd {tmp_path / 'none'} does not exist")
    from deeplab_edu.datasets.voc import VOCSegmentation

    with pytest.raises(NotADirectoryError, match="is a file; expected a folder in the VOC layout"):
        VOCSegmentation(tmp_path / "file", "train")


@pytest.mark.parametrize("where", ["deeplab_edu.engine.loop.train", "deeplab_edu.engine.estimate.estimate_time"])
def test_a_training_allocation_that_fails_names_the_flags(capsys, tmp_path, monkeypatch, where):
    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
                           "you tried to allocate 123456789012 bytes.")

    monkeypatch.setattr(where, no_memory)
    extra = ["--no-estimate"] if where.endswith(".train") else []
    assert main(train("--out", str(tmp_path / "run"), "--crop-size", "513", *extra)) == 2
    one_line(capsys, "out of memory (a request for 115.0 GiB failed): --crop-size 513 with --batch-size 2 "
                     "(2 crop(s) per pass) asks for roughly", "ask for less")
