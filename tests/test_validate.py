"""The one set of argument checks: what each accepts, and the one wording of each refusal."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from deeplab_edu import validate
from deeplab_edu.errors import UserError


@pytest.mark.parametrize("kwargs, bad, message", [
    ({"minimum": 1}, 0, "rate must be a positive integer, got 0"),
    ({"minimum": 1}, True, "rate must be a positive integer, got True"),
    ({"minimum": 1}, 2.0, "rate must be a positive integer, got 2.0"),
    ({"minimum": 0}, -1, "rate must be a non-negative integer, got -1"),
    ({"minimum": 0}, 1.5, "rate must be a non-negative integer, got 1.5"),
    ({"minimum": 16, "unit": "(pixels)"}, 8, r"rate must be an integer >= 16 \(pixels\), got 8"),
    ({"minimum": 1, "maximum": 256}, 300, r"rate must be an integer in 1\.\.256, got 300"),
    ({}, "3", "rate must be an integer, got '3'"),
])
def test_integer_refusals_name_the_argument_and_the_rule(kwargs, bad, message):
    with pytest.raises(validate.ArgumentError, match=f"^{message}$"):
        validate.integer(bad, "rate", **kwargs)


def test_integer_accepts_ints_numpy_ints_and_whole_floats_when_asked():
    assert validate.integer(3, "k", minimum=1) == 3
    assert type(validate.integer(np.int64(3), "k")) is int
    assert validate.integer(2.0, "k", minimum=1, whole_floats=True) == 2
    with pytest.raises(validate.ArgumentError, match="positive integer, got 2.5"):
        validate.integer(2.5, "k", minimum=1, whole_floats=True)
    assert validate.integer(256, "n", minimum=1, maximum=256) == 256


def test_a_refusal_is_a_user_error_a_value_error_and_a_type_error():
    # The command line prints UserError as one line; callers may catch either built-in kind.
    with pytest.raises(UserError):
        validate.integer(True, "seed")
    with pytest.raises(ValueError):
        validate.integer(-1, "seed", minimum=0)
    with pytest.raises(TypeError):
        validate.integer("1", "seed")


@pytest.mark.parametrize("values, kwargs, message", [
    ((1, 2), {"minimum": 1, "length": 3}, r"multi_grid must be 3 positive integers, got \(1, 2\)"),
    ((), {"minimum": 1}, r"multi_grid must be positive integers, got \(\)"),
    ((1, True), {"minimum": 1}, r"multi_grid must be positive integers, got \(1, True\)"),
    ("12", {}, "multi_grid must be integers, got '12'"),
    ((2, 1), {"minimum": 2}, r"multi_grid must be integers >= 2, got \(2, 1\)"),
])
def test_integers_refuse_empty_short_and_wrong_sequences(values, kwargs, message):
    with pytest.raises(validate.ArgumentError, match=f"^{message}$"):
        validate.integers(values, "multi_grid", **kwargs)
    assert validate.integers([1, 2, 4], "multi_grid", minimum=1) == (1, 2, 4)


@pytest.mark.parametrize("bad, kwargs, message", [
    (float("inf"), {"positive": True}, "lr must be a finite number > 0, got inf"),
    (0.0, {"positive": True}, "lr must be a finite number > 0, got 0.0"),
    (-0.5, {"minimum": 0}, "lr must be a finite number >= 0, got -0.5"),
    (True, {}, "lr must be a finite number, got True"),
    (float("nan"), {}, "lr must be a finite number, got nan"),
])
def test_number_refuses_infinite_and_out_of_range_values(bad, kwargs, message):
    with pytest.raises(validate.ArgumentError, match=f"^{message}$"):
        validate.number(bad, "lr", **kwargs)
    assert validate.number(3, "lr", positive=True) == 3.0


def test_choice_lists_what_is_allowed():
    assert validate.choice("poly", "schedule", ("poly", "step")) == "poly"
    with pytest.raises(validate.ArgumentError, match=r"^schedule must be one of \('poly', 'step'\), got 'cos'$"):
        validate.choice("cos", "schedule", ("poly", "step"))


def test_shape_names_the_layout_and_what_came():
    validate.shape(torch.zeros(1, 3, 4, 4), "x", "(N, C, H, W)", ndim=4)
    validate.shape(np.zeros(5), "x", "(L,) or (N, C, L)", ndim=(1, 3))
    with pytest.raises(validate.ArgumentError, match=r"^x must have shape \(N, C, H, W\), got shape \(3, 4, 4\)$"):
        validate.shape(torch.zeros(3, 4, 4), "x", "(N, C, H, W)", ndim=4)
    with pytest.raises(validate.ArgumentError, match=r"^x must have shape \(N, C, H, W\), got list$"):
        validate.shape([1, 2], "x", "(N, C, H, W)", ndim=4)


def test_number_with_a_range_and_a_unit():
    assert validate.number(0.5, "bn_momentum", minimum=0, maximum=1) == 0.5
    with pytest.raises(validate.ArgumentError,
                       match=r"^bn_momentum must be a finite number in \[0, 1\] \(1 - decay\), got 1\.5$"):
        validate.number(1.5, "bn_momentum", minimum=0, maximum=1, unit="(1 - decay)")


def test_no_module_writes_its_own_integer_check():
    # The package checks counts through this module only: the hand-written form is gone.
    package = Path(validate.__file__).parent
    pattern = re.compile(r"isinstance\(\w+, bool\) or not isinstance")
    found = [f"{path.relative_to(package)}:{number}" for path in package.rglob("*.py") if path.name != "validate.py"
             for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []
