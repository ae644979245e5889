"""What held, what did not, and why: a chapter's conclusions computed from its effects.

A chapter's closing cell must not type a direction or a number that an output could contradict,
so the conclusions are written from its ``experiments.Effect`` s: which held, which were inside
the noise, which went the other way, each with this run's difference and the paper's.

An effect that does not show what its paper shows needs a reason (:class:`Why`): **tested** when
the chapter trained an arm that removes the suspected cause (``test``, an ``Effect`` whose B is
that arm; the reason is supported only if that comparison holds), else a **hypothesis**, said so.
One reason needs no arm: an effect inside the noise whose paper difference is itself no larger than
that noise could not have been resolved here even at the paper's size; the summary says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from deeplab_edu.experiments import Effect

__all__ = ["Why", "conclusions", "effect_label"]


@dataclasses.dataclass(frozen=True)
class Why:
    """A reason offered for an effect that does not hold here (``test`` None: a hypothesis)."""

    text: str
    test: Effect | None = None

    def describe(self) -> str:
        if self.test is None:
            return f"hypothesis (no arm here tests it): {self.text}"
        outcome = ("the effect comes back there, which supports the reason" if self.test.verdict == "holds"
                   else f"that arm's comparison is {self.test.verdict}, so the reason is not shown")
        return (f"tested: {self.text} — {self.test.b} vs {self.test.a}: {self.test.here()} points "
                f"(paper {self.test.paper or '—'}); {outcome}")


def effect_label(effect: Effect) -> str:
    """The name a chapter uses for an effect: ``"<B> vs <A> (<metric>)"``."""
    return f"{effect.b} vs {effect.a} ({effect.metric})"


def _unresolvable(effect: Effect) -> str | None:
    """Why an effect inside the noise says nothing either way, where the paper's own size is within the noise."""
    points = getattr(effect.paper, "points", None)
    if effect.verdict != "inside the noise" or points is None or abs(points) > 100 * effect.noise:
        return None
    return (f"the paper's own difference ({points:+.2f}) is within this noise (±{100 * effect.noise:.1f} points): "
            f"{effect.seeds} seeds cannot resolve an effect of the paper's size")


def _line(effect: Effect) -> str:
    paper = f"; paper {effect.paper}" if effect.paper is not None else ""
    return f"{effect_label(effect)}: {effect.here()} points here{paper}"


def conclusions(effects: Sequence[Effect], why: Mapping[str, Why | Sequence[Why]] | None = None) -> str:
    """The chapter's closing summary from ``effects``, grouped by verdict; each effect that did not
    hold with the reasons offered in ``why`` (keyed by :func:`effect_label`; one :class:`Why`, or
    several, each tested or not on its own), or said to have none yet."""
    why = {label: (reasons,) if isinstance(reasons, Why) else tuple(reasons) for label, reasons in (why or {}).items()}
    unknown = set(why) - {effect_label(e) for e in effects}
    if unknown:
        raise KeyError(f"why names effects that are not among the effects: {sorted(unknown)}; "
                       f"the labels are {[effect_label(e) for e in effects]}")
    groups = {"held here": [], "inside the noise": [], "went against the paper": [], "one seed only": []}
    for e in effects:
        verdict = e.verdict
        if e.seeds < 2:
            key = "one seed only"
        elif e.expected == "none":  # the paper claims no difference: the noise is what it predicts
            key = "held here" if verdict == "inside the noise" else "went against the paper"
        else:
            key = ("held here" if verdict == "holds" else
                   "went against the paper" if verdict == "reversed" else "inside the noise")
        groups[key].append(e)
    lines = []
    for title, members in groups.items():
        if not members:
            continue
        lines.append(f"{title} ({len(members)} of {len(effects)}):")
        for e in members:
            reasons = why.get(effect_label(e), ()) if title != "held here" else ()
            resolution = _unresolvable(e) if title == "inside the noise" and not reasons else None
            unexplained = title != "held here" and not reasons and resolution is None
            lines.append(f"  - {_line(e)}" + (" (no reason tested or offered yet)" if unexplained else ""))
            lines += [f"      why: {reason.describe()}" for reason in reasons]
            if resolution is not None:
                lines.append(f"      why: {resolution}")
    return "\n".join(lines)
