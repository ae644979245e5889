"""An effect is a finding only when it is larger than the noise: comparisons over seeds.

Two runs of the *same* recipe with different seeds already differ, so every arm of a comparison
(ASPP vs LargeFOV, output stride 8 vs 16) is trained with several seeds and the difference of the
means is set against the seeds' spread:

    Δ = mean(B) − mean(A),      noise = max(range(A), range(B), 0.01),      range = max − min

The effect **holds here** when |Δ| exceeds the noise with the sign the paper reports, and is
**inside the noise** when |Δ| ≤ noise. With two seeds the range is a rough yardstick, not a
significance test; two seeds that land close together understate the spread, so the noise is
never taken below one point (``MIN_NOISE``). An effect may carry the paper's own B − A
(``paper``: a ``published.PaperDifference``) to set beside the one here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


MIN_NOISE = 0.01  # one point of mIoU or accuracy: the least difference two seeds can resolve


def _values(values: Sequence[float], name: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out:
        raise ValueError(f"{name} needs at least one value (one per seed), got none")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} holds a non-finite value: {out}")
    return out


@dataclasses.dataclass(frozen=True)
class Spread:
    """One arm's metric over seeds: the values, their mean and range (max − min)."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float], name: str = "values") -> "Spread":
        return cls(_values(values, name))

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def range(self) -> float:
        return max(self.values) - min(self.values)

    def __str__(self) -> str:
        if len(self.values) == 1:
            return f"{self.mean:.3f} (1 seed)"
        return f"{self.mean:.3f} ± {self.range / 2:.3f}"


@dataclasses.dataclass(frozen=True)
class Effect:
    """B − A for one metric; ``expected`` names the arm the paper reports better ("a", "b", "none")."""

    metric: str
    a: str
    b: str
    spread_a: Spread
    spread_b: Spread
    expected: str = "b"
    paper: object | None = None  # the paper's B − A: anything with ``points`` (mIoU points) and ``str()``

    @property
    def delta(self) -> float:
        return self.spread_b.mean - self.spread_a.mean

    @property
    def seed_spread(self) -> float:
        """The larger of the two arms' ranges over seeds."""
        return max(self.spread_a.range, self.spread_b.range)

    @property
    def noise(self) -> float:
        return max(self.seed_spread, MIN_NOISE)

    @property
    def seeds(self) -> int:
        return min(len(self.spread_a.values), len(self.spread_b.values))

    @property
    def outside_noise(self) -> bool:
        return self.seeds >= 2 and abs(self.delta) > self.noise

    @property
    def verdict(self) -> str:
        """"holds", "reversed", "inside the noise", or "one seed: no spread to compare with"."""
        if self.seeds < 2:
            return "one seed: no spread to compare with"
        if not self.outside_noise:
            return "inside the noise"
        if self.expected == "none":
            return "outside the noise"
        better_b = self.delta > 0
        return "holds" if better_b == (self.expected == "b") else "reversed"

    def sentence(self) -> str:
        """The comparison in words, every number from the results."""
        paper = "" if self.paper is None else f" (paper: {self.paper} points)"
        return (f"{self.metric}: {self.a} {self.spread_a}, {self.b} {self.spread_b}; "
                f"difference {self.delta:+.3f} against {self._noise_words()} "
                f"({self.seeds} seeds each) — {self.verdict}{paper}")

    def _noise_words(self) -> str:
        if self.seed_spread >= MIN_NOISE:
            return f"a seed spread of {self.noise:.3f}"
        return f"the noise floor {MIN_NOISE:.3f} (the seeds' spread, {self.seed_spread:.3f}, is below it)"

    def here(self) -> str:
        """This run's B − A in points ± the noise it is read against, the paper's unit."""
        return f"{100 * self.delta:+.1f} ± {100 * self.noise:.1f}"

    def row(self) -> dict[str, object]:
        """A row for ``evaluate.format_results_table``: the arms, B − A here and in the paper, the verdict."""
        return {"comparison": f"{self.b} vs {self.a}", "metric": self.metric, "A": str(self.spread_a),
                "B": str(self.spread_b), "here, B − A (points)": self.here(),
                "paper, B − A (points)": "—" if self.paper is None else str(self.paper),
                "verdict": self.verdict}


def compare(metric: str, a: str, values_a: Sequence[float], b: str, values_b: Sequence[float],
            expected: str = "b", paper: object | None = None) -> Effect:
    """``Effect`` of arm ``b`` over arm ``a`` on ``metric`` from one value per seed each;
    ``paper`` is the paper's B − A for the same comparison, where it reports one."""
    if expected not in ("a", "b", "none"):
        raise ValueError(f"expected must be 'a', 'b' or 'none', got {expected!r}")
    return Effect(metric, a, b, Spread.of(values_a, a), Spread.of(values_b, b), expected, paper)
