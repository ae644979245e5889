import pytest

from deeplab_edu import profiles


def test_every_profile_is_reachable_by_name_and_grows_in_size():
    smoke, laptop, gpu, full = (profiles.get_profile(n) for n in profiles.ORDER)
    for field in ("crop_size", "batch_size", "train_images", "image_size"):
        assert getattr(smoke, field) < getattr(laptop, field) <= getattr(gpu, field) <= getattr(full, field), field
    assert smoke.iterations < laptop.iterations < full.iterations and gpu.iterations < full.iterations
    assert gpu.width == full.width == 1 and laptop.width < 1


def test_the_gpu_profile_is_the_papers_models_at_their_crop():
    gpu = profiles.get_profile("gpu")
    assert gpu.width == 1 and gpu.crop_size == 321  # v1 / v2's crop (v3's 513 costs 2.5x per image)
    assert gpu.iterations == profiles.GPU_ITERATIONS


def test_a_smaller_profile_is_named_for_each_but_the_smallest():
    assert [profiles.smaller_profile(n) for n in profiles.ORDER] == [None, "smoke", "laptop", "gpu"]
    assert profiles.smaller_profile(" GPU ") == "laptop"


@pytest.mark.parametrize("profile", list(profiles.PROFILES.values()), ids=str)
def test_crop_sizes_follow_output_stride_times_k_plus_one(profile):
    assert (profile.crop_size - 1) % 8 == 0


def test_environment_variable_chooses_the_profile(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, " Smoke ")
    assert profiles.get_profile().name == "smoke"


def test_default_follows_cuda(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert profiles.get_profile().name == "gpu"  # `full` (the published recipe) only on request
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert profiles.get_profile().name == "laptop"


def test_unknown_profile_names_the_choices(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown run profile 'huge'.*smoke, laptop, gpu, full"):
        profiles.get_profile("huge")
    monkeypatch.setenv(profiles.ENV_VAR, "tiny")
    with pytest.raises(ValueError, match=r"'tiny' \(from the environment variable DEEPLAB_EDU_PROFILE\)"):
        profiles.get_profile()
