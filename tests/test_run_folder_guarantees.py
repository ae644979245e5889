"""What a run folder guarantees, checked with real processes: one writer at a time (a live
lock named, a dead one's lock taken over), nothing replaced that this run did not make,
files as the user's umask says, a full disk and a diverging run each as one line, with the
last good checkpoint intact."""

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deeplab_edu.checkpoint import atomic_save, read_checkpoint, remove_stale_temporaries
from deeplab_edu.datasets.synthetic import write_builtin
from deeplab_edu.engine.run_lock import LOCK_NAME, RunFolderBusy, hold_run_folder, process_alive

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "DEEPLAB_EDU_PROFILE": "smoke", "DEEPLAB_EDU_DEVICE": "cpu", "PYTHONWARNINGS": "default"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_builtin(tmp_path_factory.mktemp("builtin"), train=4, val=2, size=40, progress=False)


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "deeplab_edu", "train", "--model", "deeplabv1", "--width", "0.125",
            "--crop-size", "33", "--batch-size", "2", "--dataset", "builtin", "--data-root", str(data),
            "--out", str(out), "--no-progress", "--no-estimate", "--pretrained", "none", *extra]


def run(args: list[str], preexec=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_process_is_refused_naming_the_holder_and_the_lock_goes_with_its_holder(tmp_path):
    code = ("import sys; from deeplab_edu.engine.run_lock import hold_run_folder\n"
            "try:\n    hold_run_folder(sys.argv[1]).__enter__()\n"
            "except Exception as err:\n    print(type(err).__name__, err); sys.exit(3)\n")
    with hold_run_folder(tmp_path) as lock:
        assert lock.name == LOCK_NAME and str(os.getpid()) in lock.read_text()
        other = run([sys.executable, "-c", code, str(tmp_path)])
        assert other.returncode == 3
        assert f"RunFolderBusy run folder {tmp_path} is in use by another run (PID {os.getpid()} on " \
               f"{socket.gethostname()}" in other.stdout
    assert not lock.exists()
    assert run([sys.executable, "-c", code, str(tmp_path)]).returncode == 0  # free again


def test_a_dead_process_lock_is_named_as_stale_and_taken_over(tmp_path):
    pid = dead_pid()
    (tmp_path / LOCK_NAME).write_text(f'{{"pid": {pid}, "host": "{socket.gethostname()}", "started": 0}}')
    with pytest.warns(UserWarning, match=f"stale lock of PID {pid} on {socket.gethostname()}.*no longer runs"):
        with hold_run_folder(tmp_path):
            with pytest.raises(RunFolderBusy):  # and it is held again, by us
                hold_run_folder(tmp_path).__enter__()


def test_a_run_folder_that_is_a_file_is_said_so(tmp_path):
    (tmp_path / "run").write_text("")
    with pytest.raises(ValueError, match="is a file; --out"):
        hold_run_folder(tmp_path / "run").__enter__()


def test_temporaries_of_a_live_writer_are_never_removed_as_stale(tmp_path):
    assert process_alive(os.getpid()) and not process_alive(dead_pid())
    host = socket.gethostname()
    live = tmp_path / f".checkpoint.pt.pid{os.getpid()}@{host}.abc123.tmp"
    dead = tmp_path / f".checkpoint.pt.pid{dead_pid()}@{host}.def456.tmp"
    elsewhere = tmp_path / f".checkpoint.pt.pid{dead_pid()}@another-host.example.ghi789.tmp"
    for path in (live, dead, elsewhere):
        path.write_bytes(b"half a checkpoint")
    assert remove_stale_temporaries(tmp_path / "checkpoint.pt") == [dead]
    assert live.exists() and elsewhere.exists()


@pytest.mark.slow
def test_two_trains_into_one_folder_the_second_names_the_first_and_a_killed_ones_lock_is_taken_over(data, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(train_args(data, out, "--iterations", "100000", "--checkpoint-every", "100000"),
                             cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (out / LOCK_NAME).is_file() or not (out / "log.csv").is_file():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.2)
        second = run(train_args(data, out, "--iterations", "100000", "--lr", "0.01"))
        assert second.returncode == 2
        assert f"in use by another run (PID {first.pid} on {socket.gethostname()}" in second.stderr
        assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
    finally:
        first.kill()  # SIGKILL: no handler runs, the lock file stays behind
        first.communicate(timeout=60)
    steps = [int(line.split(",")[0]) for line in (out / "log.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, len(steps) + 1))  # one run's rows only
    assert f'"pid": {first.pid}' in (out / LOCK_NAME).read_text()
    again = run(train_args(data, out, "--iterations", "1", "--overwrite"))
    assert again.returncode == 0, again.stderr
    assert f"stale lock of PID {first.pid} on {socket.gethostname()}" in again.stderr
    assert not (out / LOCK_NAME).exists()


def test_logs_without_a_checkpoint_are_not_replaced_and_files_follow_the_umask(data, tmp_path):
    out = tmp_path / "run"
    done = run(train_args(data, out, "--iterations", "1"), preexec=lambda: os.umask(0o022))
    assert done.returncode == 0, done.stderr
    for name in ("checkpoint.pt", "log.csv"):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    (out / "checkpoint.pt").rename(tmp_path / "moved.pt")
    log = (out / "log.csv").read_text()
    again = run(train_args(data, out, "--iterations", "1"))
    assert again.returncode == 2
    assert f"run folder {out} holds log.csv of an earlier run but no checkpoint.pt" in again.stderr
    assert "--overwrite" in again.stderr and (out / "log.csv").read_text() == log
    assert run(train_args(data, out, "--iterations", "1", "--overwrite")).returncode == 0


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_a_full_disk_at_a_save_names_the_folder_and_keeps_the_last_good_checkpoint(data, tmp_path):
    out = tmp_path / "run"
    assert run(train_args(data, out, "--iterations", "1")).returncode == 0
    size = (out / "checkpoint.pt").stat().st_size
    full = run(train_args(data, out, "--iterations", "2"), preexec=_limit_file_size(size // 2))
    assert full.returncode == 2, full.stderr
    line = full.stderr.strip().splitlines()[-1]
    assert f"no space left on {out} while writing checkpoint.pt (about" in line and "MiB needed" in line
    assert f"the last good checkpoint {out / 'checkpoint.pt'} is intact" in line
    assert "Traceback" not in full.stderr
    assert read_checkpoint(out / "checkpoint.pt")["iteration"] == 1
    assert not list(out.glob(".*.tmp"))


def test_a_full_disk_at_the_first_save_says_nothing_was_written_yet(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=f"no space left on {tmp_path} while writing c.pt .*nothing was written yet"):
        atomic_save({"a": torch.ones(3)}, tmp_path / "c.pt")


@pytest.mark.slow
def test_a_diverging_run_ends_with_one_line_naming_the_step_and_the_checkpoint(data, tmp_path):
    out = tmp_path / "run"
    diverged = run(train_args(data, out, "--iterations", "6", "--checkpoint-every", "1", "--lr", "1e30",
                              "--weight-decay", "1e30"))
    assert diverged.returncode == 2, diverged.stderr
    assert "Traceback" not in diverged.stderr
    line = diverged.stderr.strip().splitlines()[-1]
    assert ("the loss became nan at step" in line or "the weights are not finite after step" in line), line
    assert "--lr" in line


def test_a_full_disk_while_logging_names_the_file_and_folder(tmp_path, monkeypatch):
    import csv
    import errno

    from deeplab_edu.engine.log import append

    class FullDisk:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def writerow(self, row) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv, "DictWriter", FullDisk)
    with pytest.raises(OSError, match=f"no space left on {tmp_path} while writing log.csv"):
        append(tmp_path / "log.csv", {"step": 1})


def test_without_flock_the_file_itself_is_the_lock(tmp_path, monkeypatch):
    from deeplab_edu.engine import run_lock

    def refused(*args):
        raise run_lock._NoFlock

    monkeypatch.setattr(run_lock, "_acquire_flock", refused)
    with hold_run_folder(tmp_path) as lock:
        with pytest.raises(RunFolderBusy, match=f"PID {os.getpid()} on {socket.gethostname()}"):
            hold_run_folder(tmp_path).__enter__()
    assert not lock.exists()
    pid = dead_pid()
    lock.write_text(f'{{"pid": {pid}, "host": "{socket.gethostname()}"}}')
    with pytest.warns(UserWarning, match=f"stale lock of PID {pid}"):
        with hold_run_folder(tmp_path):
            assert str(os.getpid()) in lock.read_text()
