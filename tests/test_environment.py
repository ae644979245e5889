import subprocess
import sys

import pytest

from deeplab_edu import __main__ as cli
from deeplab_edu import environment, paths


def test_report_names_every_check_and_points_at_data(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLAB_EDU_DATA", str(tmp_path))
    checks = {c.name: c for c in environment.environment_checks()}
    for name in ("python", "torch", "numpy", "pydensecrf2", "gpu", "device", "profile",
                 "VOC 2012", "SBD", "built-in set"):
        assert name in checks
    assert checks["torch"].ok and checks["pydensecrf2"].ok
    assert not checks["VOC 2012"].ok and str(tmp_path) in checks["VOC 2012"].detail
    (tmp_path / "VOCdevkit" / "VOC2012" / "JPEGImages").mkdir(parents=True)
    assert {c.name: c for c in environment.environment_checks()}["VOC 2012"].ok


def test_imagenet_files_are_required_only_where_full_size_runs_need_them(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLAB_EDU_IMAGENET", str(tmp_path))
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "gpu")
    check = {c.name: c for c in environment.environment_checks()}["ImageNet"]
    assert not check.ok and "resnet101" in check.detail and "stop" in check.detail
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "laptop")
    assert {c.name: c for c in environment.environment_checks()}["ImageNet"].ok
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "full")
    for name in ("vgg16-397923af.pth", "resnet50-0676ba61.pth", "resnet101-63fe2227.pth"):
        (tmp_path / name).write_bytes(b"")
    assert {c.name: c for c in environment.environment_checks()}["ImageNet"].ok


def test_missing_package_is_reported_with_a_remedy(monkeypatch):
    check = environment._package_check("no-such-distribution-xyz", "no_such_module")
    assert not check.ok and "not installed" in check.detail


def test_bad_profile_is_a_failed_check_not_a_crash(monkeypatch):
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "huge")
    assert cli.main(["env"]) == 1


def test_paths_follow_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLAB_EDU_DATA", str(tmp_path))
    assert paths.voc_root() == tmp_path / "VOCdevkit" / "VOC2012"
    monkeypatch.setenv("DEEPLAB_EDU_VOC", str(tmp_path / "elsewhere"))
    assert paths.voc_root() == tmp_path / "elsewhere"


@pytest.mark.slow
def test_command_line_env_and_help():
    done = subprocess.run([sys.executable, "-m", "deeplab_edu", "env"], capture_output=True,
                          text=True, env={"DEEPLAB_EDU_PROFILE": "smoke", "PATH": ""}, check=False)
    assert done.returncode == 0, done.stderr
    assert "profile" in done.stdout and "smoke" in done.stdout
    helped = subprocess.run([sys.executable, "-m", "deeplab_edu", "--help"], capture_output=True,
                            text=True, check=True)
    for command in cli.COMMANDS:
        assert command in helped.stdout
