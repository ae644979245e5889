"""A trial: one training recipe run with several seeds, each run scored the same way.

``run_trial`` trains a ``TrainConfig`` once per seed (each run in its own resumable folder) and
scores every run on whole validation images, and again after the fully-connected CRF when given
its parameters; ``experiments.compare`` sets two trials' difference against their seed spread.
``tune_crf`` cross-validates the CRF's (w1, σα, σβ) on held-out training images, never on the
images it is then scored on (DeepLab v1 §4.3 held out part of its data).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from deeplab_edu.crf import CRFParams, dense_crf
from deeplab_edu.crf.search import CRFScore, CRFSearch, coarse_to_fine, score_crf
from deeplab_edu.evaluate import EvalResult, crf_evaluate, evaluate, predict_probs
from deeplab_edu.experiments import Effect, Spread
from deeplab_edu.train import TrainConfig, TrainResult, train

# (w1, σα, σβ) searched per chapter, w2 = 3, σγ = 3 held fixed as in DeepLab v1 §4.3. The built-in
# images are 160 px with flat fills and sharp colour edges, so σα spans object sizes in pixels and
# σβ the colour steps between fills, not VOC's 500-px photographs.
CRF_GRID = {"w1": (3.0, 5.0, 8.0), "sigma_alpha": (10.0, 25.0, 60.0), "sigma_beta": (4.0, 8.0, 16.0)}


@dataclasses.dataclass
class Trial:
    """A recipe's runs (one per seed) and their scores, network alone and (optionally) + CRF."""

    name: str
    seeds: list[int]
    runs: list[TrainResult]
    network: list[EvalResult]
    with_crf: list[EvalResult] | None = None

    def values(self, metric: str = "mIoU", crf: bool = False) -> list[float]:
        scores = self.with_crf if crf else self.network
        if scores is None:
            raise ValueError(f"trial {self.name!r} was scored without the CRF; pass crf_params to run_trial")
        return [s.summary()[metric] for s in scores]

    def spread(self, metric: str = "mIoU", crf: bool = False) -> Spread:
        return Spread.of(self.values(metric, crf), f"{self.name} {metric}")

    @property
    def seconds(self) -> float:
        """Mean training time of one run."""
        return sum(r.seconds for r in self.runs) / len(self.runs)

    def per_class(self, crf: bool = False) -> dict[str, float]:
        """Per-class IoU, the mean over seeds."""
        scores = self.with_crf if crf else self.network
        tables = [s.per_class() for s in scores]
        return {name: float(np.mean([t[name] for t in tables])) for name in tables[0]}

    def row(self, trimap_width: int | None = 4) -> dict[str, object]:
        """One line of a results table: every metric as mean ± half the seed range."""
        row: dict[str, object] = {"run": self.name, "seeds": len(self.runs), "mIoU": str(self.spread())}
        if self.with_crf is not None:
            row["mIoU + CRF"] = str(self.spread(crf=True))
        if trimap_width is not None and f"trimap_{trimap_width}px" in self.network[0].summary():
            key = f"trimap_{trimap_width}px"
            row[f"trimap {trimap_width}px"] = str(self.spread(key))
            if self.with_crf is not None:
                row[f"trimap {trimap_width}px + CRF"] = str(self.spread(key, crf=True))
        row["train s"] = round(self.seconds, 1)
        return row


def run_trial(name: str, config: TrainConfig, seeds: Sequence[int], val_set, crf_params: CRFParams | None = None,
              trimap_widths: Sequence[int] = (2, 4, 8), device: torch.device | str | None = None,
              progress: bool = False, trained: Trial | None = None) -> Trial:
    """Train ``config`` once per seed (in ``<out_dir>/seed<k>``) and score each run on ``val_set``.

    Runs of ``trained`` (a trial of the same config, e.g. seed 0 trained first to fit the CRF)
    are scored again rather than trained again.
    """
    if not seeds:
        raise ValueError("seeds is empty: a trial needs at least one seed")
    done = dict(zip(trained.seeds, trained.runs)) if trained is not None else {}
    runs, network, with_crf = [], [], [] if crf_params is not None else None
    for seed in seeds:
        result = done.get(seed)
        if result is None:
            result = train(dataclasses.replace(config, seed=seed, out_dir=str(Path(config.out_dir) / f"seed{seed}"),
                                               progress=progress))
        runs.append(result)
        scores_dir = Path(result.checkpoint).parent / "scores" if crf_params is not None else None
        network.append(evaluate(result.model, val_set, trimap_widths=trimap_widths, device=device,
                                scores_dir=scores_dir, progress=progress))
        if crf_params is not None:
            _, after = crf_evaluate(val_set, scores_dir, crf_params, trimap_widths=trimap_widths,
                                    progress=progress, device=device)
            with_crf.append(after)
    return Trial(name, list(seeds), runs, network, with_crf)


@dataclasses.dataclass(frozen=True)
class ChapterSetup:
    """What every training chapter starts from: the run profile, the device, the dataset (VOC +
    SBD if on disk, else the built-in set), the seeds (two where runs are cheap, one in ``full``),
    the chapter's runs folder and the validation images."""

    profile: object
    device: torch.device
    dataset: str
    data_root: str | None
    seeds: tuple[int, ...]
    runs: Path
    val_set: object


def setup_chapter(name: str) -> ChapterSetup:
    """Seed everything, pick the profile and device, open the validation set, and print one line
    saying so; ``name`` is the chapter's folder under ``runs/`` (e.g. ``"07_v1"``)."""
    from deeplab_edu.datasets import build_dataset, default_training_data
    from deeplab_edu.paths import REPO_ROOT
    from deeplab_edu.profiles import get_profile
    from deeplab_edu.runtime import default_device, seed_everything

    seed_everything(0)
    profile = get_profile()
    dataset, root = default_training_data(profile.name)
    seeds = (0,) if profile.name in ("full", "gpu") else (0, 1)
    val_set = build_dataset(dataset, "val", root=root)
    print(f"profile {profile.name}, dataset {dataset}, {len(val_set)} validation images, seeds {seeds}")
    return ChapterSetup(profile, default_device(), dataset, root, seeds, REPO_ROOT / "runs" / name / profile.name,
                        val_set)


def estimate_runs(configs: Sequence[TrainConfig], seeds: Sequence[int] = (0,),
                  device: torch.device | str | None = None) -> str:
    """Print (and return), before a chapter's first run, how long its runs (each config once per
    seed, in ``run_trial``'s folders) will take here: a few timed steps scaled by each run's FLOPs
    (``engine.estimate``); runs already trained count as loaded."""
    from deeplab_edu.engine.estimate import estimate_time
    from deeplab_edu.profiles import get_profile

    runs = [dataclasses.replace(c, seed=s, out_dir=str(Path(c.out_dir) / f"seed{s}")) for c in configs for s in seeds]
    text = estimate_time(runs, device=device).describe(get_profile().name)
    print(text)
    return text


def results_report(trials: Sequence[Trial], effects: Sequence[Effect], trimap_width: int | None = 2,
                   parameters: bool = True) -> str:
    """A chapter's results: one row per trial (mean ± half the seed range; parameters of the
    first run), then the effects' table (B − A here and in the paper, the verdict)."""
    from deeplab_edu.evaluate import format_results_table

    rows = []
    for t in trials:
        row = t.row(trimap_width=trimap_width)
        if parameters:
            row["parameters"] = f"{sum(p.numel() for p in t.runs[0].model.parameters()):,}"
        rows.append(row)
    parts = [format_results_table(rows), format_results_table([e.row() for e in effects])]
    return "\n\n".join(parts)


def per_class_report(trials: Sequence[Trial], crf: bool = False) -> str:
    """IoU per class of each trial, the mean over its seeds."""
    from deeplab_edu.evaluate import format_results_table

    return format_results_table([{"run": t.name, **{k: round(v, 3) for k, v in t.per_class(crf).items()}} for t in trials])


def training_curves(trials: Sequence[Trial], seeds: Sequence[int] | None = None
                    ) -> tuple[dict[str, Path], dict[str, tuple[list[int], list[float]]]]:
    """``(logs, validation)`` for ``viz.training.plot_training_curves``: per run (``"<trial>, seed
    <k>"``, only ``seeds`` if given) its ``log.csv`` and, where the run validated, its val mIoU
    at the recorded steps."""
    logs, validation = {}, {}
    for trial in trials:
        for seed, run in zip(trial.seeds, trial.runs):
            if seeds is not None and seed not in seeds:
                continue
            name = f"{trial.name}, seed {seed}"
            logs[name] = Path(run.checkpoint).parent / "log.csv"
            if run.validation:
                validation[name] = ([int(r["step"]) for r in run.validation], [r["mIoU"] for r in run.validation])
    return logs, validation


def _predictions(model: torch.nn.Module, dataset, indices: Sequence[int], device):
    """(image uint8, label, class probabilities) of each image ``indices`` of ``dataset``."""
    model.eval()
    with torch.no_grad():
        for i in indices:
            x, y = dataset[i]
            image, _ = dataset.load(i)
            p = predict_probs(model, x[None].to(device or next(model.parameters()).device))[0].float().cpu()
            yield np.array(image, dtype=np.uint8), y.numpy(), p.numpy()


@dataclasses.dataclass
class TunedCRF:
    """What ``tune_crf`` found, all scored on the held-out images the setting was fitted on."""

    params: CRFParams
    search: CRFSearch  # every setting scored (best first), the grids of each round, ``on_edge``
    alone: CRFScore  # the network without the CRF, same images
    images: int  # how many held-out images

    def edge_steps(self) -> dict[str, float]:
        """For each parameter whose best value is on the searched range's edge: the held-out mIoU
        gained over the last step towards it (the others held at the best)."""
        best = self.search.best
        out = {}
        for name in self.search.on_edge:
            value = float(getattr(best.params, name))
            others = [s for s in self.search.scores
                      if all(float(getattr(s.params, o)) == float(getattr(best.params, o))
                             for o in ("w1", "sigma_alpha", "sigma_beta") if o != name)]
            inner = [s for s in others if float(getattr(s.params, name)) != value]
            if inner:
                nearest = min(inner, key=lambda s: abs(float(getattr(s.params, name)) - value))
                out[name] = best.miou - nearest.miou
        return out

    def describe(self) -> str:
        """One sentence: the setting, the held-out gain, and whether the optimum lies inside the
        searched ranges."""
        p, best = self.params, self.search.best
        steps = self.edge_steps()
        last = "".join(f"; the last step of {name} added {gain:+.4f}" for name, gain in steps.items())
        where = (f"on the edge of the searched range for {', '.join(self.search.on_edge)} (the optimum may lie "
                 f"beyond{last})" if self.search.on_edge else "inside the searched ranges")
        return (f"CRF cross-validated on {self.images} held-out training images ({len(self.search.scores)} "
                f"settings, coarse to fine): w1 {p.w1:g}, σα {p.sigma_alpha:g}, σβ {p.sigma_beta:g} "
                f"(w2 {p.w2:g}, σγ {p.sigma_gamma:g} fixed); held-out mIoU {self.alone.miou:.3f} -> "
                f"{best.miou:.3f}; the optimum lies {where}")


def tune_crf(model: torch.nn.Module, holdout_set, grid: dict[str, Sequence[float]] = CRF_GRID,
             iterations: int = 5, device: torch.device | str | None = None, refinements: int = 1,
             max_extensions: int = 6) -> TunedCRF:
    """Cross-validate (w1, σα, σβ) for ``model`` on ``holdout_set`` (held-out training images).

    The papers' coarse-to-fine scheme (``crf.search.coarse_to_fine``) from ``grid``: the ranges
    move outwards (one step each time, at most ``max_extensions`` times) while the best value
    sits on their edge, then a finer grid around the best.
    """
    images, labels, probs = map(list, zip(*_predictions(model, holdout_set, range(len(holdout_set)), device)))
    base = CRFParams(w2=3, sigma_gamma=3, iterations=iterations)
    search = coarse_to_fine(images, probs, labels, holdout_set.num_classes, grid["w1"], grid["sigma_alpha"],
                            grid["sigma_beta"], base=base, refinements=refinements, max_extensions=max_extensions,
                            widths=(4,), device=device, progress=False)
    alone = score_crf(images, probs, labels, holdout_set.num_classes, None, widths=(4,))
    return TunedCRF(search.best.params, search, alone, images=len(images))


def example_predictions(model: torch.nn.Module, dataset, indices: Sequence[int],
                        crf_params: CRFParams | None = None, device: torch.device | str | None = None) -> dict:
    """``{"images", "truth", "network"[, "network + CRF"]}`` for the images ``indices`` of ``dataset``."""
    out: dict[str, list] = {"images": [], "truth": [], "network": []}
    if crf_params is not None:
        out["network + CRF"] = []
    for image, label, probs in _predictions(model, dataset, indices, device):
        out["images"].append(image)
        out["truth"].append(label)
        out["network"].append(probs.argmax(0))
        if crf_params is not None:
            out["network + CRF"].append(np.asarray(dense_crf(image, probs, crf_params, method="lattice")).argmax(0))
    return out


def holdout_split(dataset_name: str, root: str | None, count: int = 100):
    """The images the CRF is cross-validated on: the built-in set's ``holdout`` split (drawn
    like train, never trained on or scored); for VOC, ``count`` images of VOC 2012 ``train``
    (not scored, though trainaug trains on them: VOC has no split of its own for this)."""
    from deeplab_edu.datasets import build_dataset

    if dataset_name == "builtin":
        return build_dataset("builtin", "holdout", root=root)
    voc = build_dataset("voc", "train", root=root)
    voc.ids = voc.ids[:count]
    return voc
