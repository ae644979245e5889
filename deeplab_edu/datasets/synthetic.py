"""The built-in offline dataset: procedural scenes, deterministic from a seed.

No VOC on this machine, no download allowed, yet every chapter needs images whose
segmentation is learnable in minutes and still teaches each chapter's lesson. A scene is a
smooth, pale or dark background with one to four objects painted over each other (later ones
occlude earlier ones). The class is the object's **shape**; its colour narrows the class to a
pair (each hue family is shared by two classes, ``HUE_FAMILIES``) and its fill comes from a
pool shared by every class, so neither colour nor texture names the class: within a pair the
network must see the object at its own scale (LargeFOV, ASPP), while the colour hint lets a
laptop run learn in minutes.

=========  ===========================  ==============================================
class      shape                        what it teaches
=========  ===========================  ==============================================
disc       filled circle                (the hue family of the ring: shape decides)
square     rotated square               (the hue family of the triangle)
triangle   rotated equilateral triangle sharp corners
star       five arms                    concave outline, arms a few pixels wide
ring       annulus                      a hole that shows the background (concave)
crescent   disc minus an offset disc    concave
stick      a bar                        a "thin part": at least 4 px wide at 160 px
=========  ===========================  ==============================================

Object extents span about 12–80 % of the frame (multi-scale context); fills are saturated and
nearly flat, so boundaries lie on colour edges while a network's coarse scores are blurred
there (the CRF's job); thin parts are wide enough that output stride 8 and the decoder have
something to win.

Everything is vectorised numpy on the object's bounding box: a 160 × 160 scene takes a few
milliseconds. ``write_builtin`` stores a set of scenes in the PASCAL VOC layout so the same
reader loads the built-in set and VOC 2012 (``python -m deeplab_edu make-data``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from deeplab_edu import validate

from .palette import IGNORE_INDEX, palette_bytes

CLASSES: tuple[str, ...] = ("background", "disc", "square", "triangle", "star", "ring",
                            "crescent", "stick")
NUM_CLASSES = len(CLASSES)
MIN_SIZE = 16
MAX_OBJECTS = 4
FORMAT_VERSION = 2
# Scene seeds for split s, image i: seed·10⁶ + i (train), + 250 000 + i (holdout: drawn like
# train, never trained on; the CRF's parameters are cross-validated there) and + 500 000 + i (val).
_SPLIT_OFFSET = {"train": 0, "holdout": 250_000, "val": 500_000}


# ----------------------------------------------------------------------------- textures
# Each texture maps local object coordinates (u, v) in pixels to a value in [0, 1]; the
# period P is in pixels, so a texture looks the same on a small and a large object.

def _dots(u, v, p, rng):
    du, dv = np.mod(u, p) - p / 2, np.mod(v, p) - p / 2
    return (du * du + dv * dv < (0.3 * p) ** 2).astype(np.float32)


def _checker(u, v, p, rng):
    return (np.mod(np.floor(u / p) + np.floor(v / p), 2)).astype(np.float32)


def _stripes(u, v, p, rng):
    return (np.mod(u, p) < p / 2).astype(np.float32)


def _zigzag(u, v, p, rng):
    shift = (p / 2) * np.abs(np.mod(v / p, 2.0) - 1.0)
    return (np.mod(u + shift, p) < p / 2).astype(np.float32)


# ----------------------------------------------------------------------------- shapes
# Each shape answers "is (u, v) inside?" for an object of size R (pixels) centred at 0.

def _disc(u, v, r, rng):
    return u * u + v * v <= r * r


def _square(u, v, r, rng):
    half = 0.8 * r  # about the area of the disc of radius r
    return np.maximum(np.abs(u), np.abs(v)) <= half


def _triangle(u, v, r, rng):
    inside = np.ones(u.shape, dtype=bool)
    for k in range(3):  # three half-planes at distance r/2 (the inradius of circumradius r)
        a = 2 * np.pi * k / 3
        inside &= u * np.cos(a) + v * np.sin(a) <= r / 2
    return inside


def _crescent(u, v, r, rng):
    bite = 0.8 * r
    return (u * u + v * v <= r * r) & ((u - 0.5 * r) ** 2 + v * v > bite * bite)


# ----------------------------------------------------------------------------- painting

@functools.lru_cache(maxsize=32)
def _upsample_matrix(size: int, cells: int) -> np.ndarray:
    """A (size, cells) matrix of bilinear weights: A @ G @ A.T upsamples a cells² grid."""
    pos = np.linspace(0, cells - 1, size)
    lo = np.minimum(np.floor(pos).astype(int), cells - 2)
    frac = pos - lo
    a = np.zeros((size, cells), dtype=np.float32)
    a[np.arange(size), lo] = 1 - frac
    a[np.arange(size), lo + 1] = frac
    return a


def _value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    a = _upsample_matrix(size, cells)
    return a @ rng.random((cells, cells), dtype=np.float32) @ a.T


def _mix(t: np.ndarray, pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return pair[0] + t[..., None] * (pair[1] - pair[0])


MIN_THIN_PX = 4.0  # the narrowest thin part of an object at 160 px


def _star_arms(u, v, r, rng):
    # r(θ) = R (ρ + (1-ρ) cos²(5θ/2)): five arms whose width is a fair share of R.
    rho = 0.42
    outline = r * (rho + (1 - rho) * np.cos(2.5 * np.arctan2(v, u)) ** 2)
    return np.hypot(u, v) <= outline


def _ring_thick(u, v, r, rng):
    rad = np.hypot(u, v)
    wall = max(MIN_THIN_PX, float(rng.uniform(0.3, 0.45)) * r)
    return (rad <= r) & (rad >= r - wall)


def _bar(u, v, r, rng):
    width = max(MIN_THIN_PX, float(rng.uniform(0.2, 0.32)) * r)
    return (np.abs(u) <= 1.3 * r) & (np.abs(v) <= width / 2)


def _flat(u, v, p, rng):
    return np.zeros(u.shape, dtype=np.float32)


_STANDARD_SHAPES = {1: _disc, 2: _square, 3: _triangle, 4: _star_arms, 5: _ring_thick,
                    6: _crescent, 7: _bar}
_SHARED_FILLS = (_flat, _dots, _checker, _stripes, _zigzag)


def _object_radius(rng: np.random.Generator, size: int, first: bool) -> float:
    # Extents (2R) log-uniform over 12-80 % of the frame; the first object is never tiny.
    lo = 0.18 if first else 0.07
    return float(np.exp(rng.uniform(np.log(lo * size), np.log(0.4 * size))))


def _paint_object(rng: np.random.Generator, image: np.ndarray, label: np.ndarray, cls: int,
                           r: float, cy: float, cx: float) -> None:
    """One object: the class's shape, a fill drawn from the shared pool, in a colour that stands
    out from the background it covers."""
    size = image.shape[0]
    r_min = MIN_THIN_PX * size / 160  # thin parts scale with the image
    angle = rng.uniform(0, 2 * np.pi)
    y0, y1 = max(int(cy - 1.35 * r) - 1, 0), min(int(cy + 1.35 * r) + 2, size)
    x0, x1 = max(int(cx - 1.35 * r) - 1, 0), min(int(cx + 1.35 * r) + 2, size)
    if y0 >= y1 or x0 >= x1:
        return
    y, x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dy, dx = y + 0.5 - cy, x + 0.5 - cx
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    scale = r_min / MIN_THIN_PX  # the shapes' thin-part floor is in 160-px pixels
    mask = _STANDARD_SHAPES[cls](u / scale, v / scale, r / scale, rng)
    if not mask.any():
        return
    below = image[y0:y1, x0:x1][mask].mean(axis=0)
    for _ in range(20):  # a colour that stands out from what it covers: the boundary is an edge
        colour = _family_colour(rng, cls)
        if np.linalg.norm(colour - below) > 110:
            break
    direction = rng.normal(size=3).astype(np.float32)
    direction /= np.linalg.norm(direction) + 1e-6
    pair = (colour, np.clip(colour + float(rng.uniform(0.08, 0.2)) * 255 * direction, 0, 255))
    fill = _SHARED_FILLS[rng.integers(len(_SHARED_FILLS))]
    t = fill(u, v, float(rng.uniform(3, 8)), rng)
    image[y0:y1, x0:x1][mask] = _mix(t, pair)[mask]
    label[y0:y1, x0:x1][mask] = cls


# Hue families (module docstring): disc and ring reddish, square and triangle greenish, star and
# crescent bluish, the stick alone orange.
HUE_FAMILIES = {1: 0.0, 5: 0.0, 2: 0.33, 3: 0.33, 4: 0.62, 6: 0.62, 7: 0.1}


def colour_family(name: str) -> list[str]:
    """The other classes whose objects are painted in the hue family of class ``name`` (the
    classes only its shape tells it from); ``[]`` for a class alone in its family."""
    if name not in CLASSES:
        raise ValueError(f"class {name!r} is not one of {list(CLASSES)}")
    if name == "background":
        raise ValueError("the background has no hue family: its colours are pale or dark, never an object's")
    hue = HUE_FAMILIES[CLASSES.index(name)]
    return [CLASSES[c] for c, h in sorted(HUE_FAMILIES.items()) if h == hue and CLASSES[c] != name]


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32) * 255


def _family_colour(rng: np.random.Generator, cls: int) -> np.ndarray:
    return _hsv(HUE_FAMILIES[cls] + rng.uniform(-0.05, 0.05), rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.0))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    # Any hue, but pale or dark (low saturation): objects stand out by colour, and no object
    # colour family is a background colour.
    t = 0.65 * _value_noise(rng, size, 3) + 0.35 * _value_noise(rng, size, 8)
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    h = rng.uniform(0, 1)
    first = _hsv(h, rng.uniform(0.0, 0.3), rng.uniform(0.2, 0.95))
    second = _hsv(h + rng.uniform(-0.1, 0.1), rng.uniform(0.0, 0.3), rng.uniform(0.2, 0.95))
    return _mix(t, (first, second))


def make_scene(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene, the same for the same seed and size: ``(image uint8 (size, size, 3), label uint8
    (size, size))``, the label indices into ``CLASSES`` (0 = background)."""
    size, rng, label = _start(seed, size)
    image = _background(rng, size)
    for k in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        cls = int(rng.integers(1, NUM_CLASSES))
        r = _object_radius(rng, size, first=k == 0)
        cy, cx = rng.uniform(0.1 * size, 0.9 * size, 2)
        _paint_object(rng, image, label, cls, r, cy, cx)
    return _finish(rng, image), label


def _finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    # Camera-like softness and sensor noise: edges are not perfect steps in real photos.
    image[1:-1, 1:-1] = (2 * image[1:-1, 1:-1] + image[:-2, 1:-1] + image[2:, 1:-1]
                         + image[1:-1, :-2] + image[1:-1, 2:]) / 6
    image += rng.normal(0, 4, image.shape).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _start(seed, size) -> tuple[int, np.random.Generator, np.ndarray]:
    """The checked size, the seeded generator and an all-background label."""
    validate.integer(seed, "seed", minimum=0)
    size = validate.integer(size, "size", minimum=MIN_SIZE, unit="(pixels per side)")
    return size, np.random.default_rng(int(seed)), np.zeros((size, size), dtype=np.uint8)


def make_object_image(seed: int, size: int) -> tuple[np.ndarray, int]:
    """One object near the centre of a background: ``(image uint8 (size, size, 3), class)``.

    The book's ImageNet in miniature (``deeplab_edu.pretrain``), painted by the scenes' code so that
    a backbone trained on it transfers to them.
    """
    size, rng, label = _start(seed, size)
    cls = int(rng.integers(1, NUM_CLASSES))
    image = _background(rng, size)
    r = float(rng.uniform(0.2, 0.4) * size)
    cy, cx = size / 2 + rng.uniform(-0.1, 0.1, 2) * size
    _paint_object(rng, image, label, cls, r, cy, cx)
    return _finish(rng, image), cls


# ----------------------------------------------------------------------------- the set on disk

def scene_seed(seed: int, split: str, index: int) -> int:
    """The ``make_scene`` seed of image ``index`` of ``split`` in a set generated from ``seed``."""
    if split not in _SPLIT_OFFSET:
        raise ValueError(f"split must be one of {sorted(_SPLIT_OFFSET)}, got {split!r}")
    if not 0 <= index < 250_000:
        raise ValueError(f"index must lie in 0..249999, got {index!r}")
    return seed * 1_000_000 + _SPLIT_OFFSET[split] + index


def image_id(split: str, index: int) -> str:
    return f"{split}_{index:06d}"


def write_builtin(root: str | Path, train: int, val: int, size: int, seed: int = 0,
                  progress: bool = True, holdout: int = 0) -> Path:
    """Write ``train`` + ``val`` (+ ``holdout``) scenes under ``root`` in the PASCAL VOC 2012 layout.

    ``JPEGImages``, ``SegmentationClass`` (VOC palette PNGs), ``ImageSets/Segmentation/{train,val,
    trainval,holdout}.txt`` and ``builtin.json``, so the VOC reader reads it. ``holdout`` is drawn
    like train, never trained on: the CRF is cross-validated there (as DeepLab v1 §4.1 held out data).
    """
    from PIL import Image
    from deeplab_edu.progress import tqdm

    counts = {"train": train, "val": val, "holdout": holdout}
    for name, count in counts.items():
        validate.integer(count, name, minimum=0, maximum=249_999, unit="(images)")
    validate.integer(seed, "seed", minimum=0)
    root = Path(root)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "SegmentationClass").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)

    jobs = [(split, i) for split, n in counts.items() for i in range(n)]
    palette = palette_bytes()
    for split, i in tqdm(jobs, desc=f"writing built-in set to {root}", disable=not progress):
        image, label = make_scene(scene_seed(seed, split, i), size)
        name = image_id(split, i)
        Image.fromarray(image).save(root / "JPEGImages" / f"{name}.jpg", quality=92)
        png = Image.fromarray(label, mode="P")
        png.putpalette(palette)
        png.save(root / "SegmentationClass" / f"{name}.png", optimize=True)

    ids = {split: [image_id(split, i) for i in range(n)] for split, n in counts.items()}
    ids["trainval"] = ids["train"] + ids["val"]
    for split, names in ids.items():
        if not names and split == "holdout":
            continue  # a split file must list ids; no holdout images, no holdout split
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    meta = {"dataset": "deeplab_edu built-in", "format_version": FORMAT_VERSION,
            "classes": list(CLASSES), "ignore_index": IGNORE_INDEX, "seed": seed, "size": size,
            "train": train, "val": val, "holdout": holdout}
    (root / "builtin.json").write_text(json.dumps(meta, indent=2) + "\n")
    return root


# ----------------------------------------------------------------------------- statistics

def scene_statistics(seeds, size: int) -> dict[str, np.ndarray]:
    """What a set of scenes holds: the fraction of pixels of each class, and the area in
    pixels of every visible object region (4-connected component of one object class)."""
    from scipy import ndimage

    counts = np.zeros(NUM_CLASSES, dtype=np.int64)
    areas, classes = [], []
    for seed in seeds:
        _, label = make_scene(int(seed), size)
        counts += np.bincount(label.ravel(), minlength=NUM_CLASSES)
        for cls in range(1, NUM_CLASSES):
            regions, n = ndimage.label(label == cls)
            if n:
                areas.extend(np.bincount(regions.ravel())[1:].tolist())
                classes.extend([cls] * n)
    return {"pixel_fraction": counts / counts.sum(), "region_area": np.array(areas, dtype=np.int64),
            "region_class": np.array(classes, dtype=np.int64)}
