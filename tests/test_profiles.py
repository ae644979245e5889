import pytest

from deeplab_edu import profiles


def test_every_profile_is_reachable_by_name_and_grows_in_size():
    smoke, laptop, full = (profiles.get_profile(n) for n in ("smoke", "laptop", "full"))
    for field in ("crop_size", "batch_size", "iterations", "train_images", "image_size"):
        assert getattr(smoke, field) < getattr(laptop, field) < getattr(full, field), field


@pytest.mark.parametrize("profile", list(profiles.PROFILES.values()), ids=str)
def test_crop_sizes_follow_output_stride_times_k_plus_one(profile):
    assert (profile.crop_size - 1) % 8 == 0


def test_environment_variable_chooses_the_profile(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, " Smoke ")
    assert profiles.get_profile().name == "smoke"


def test_default_follows_cuda(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert profiles.get_profile().name == "full"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert profiles.get_profile().name == "laptop"


def test_unknown_profile_names_the_choices(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown run profile 'huge'.*smoke, laptop, full"):
        profiles.get_profile("huge")
    monkeypatch.setenv(profiles.ENV_VAR, "tiny")
    with pytest.raises(ValueError, match=r"'tiny' \(from the environment variable DEEPLAB_EDU_PROFILE\)"):
        profiles.get_profile()
