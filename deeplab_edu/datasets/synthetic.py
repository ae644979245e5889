"""The built-in offline dataset: procedural scenes, deterministic from a seed.

No VOC on this machine, no download allowed, yet every chapter needs images whose
segmentation is *not* trivial. A scene here is a textured background with two to seven
objects painted over each other (later ones occlude earlier ones). Each object class has a
**shape** and a **texture family**; its colours are drawn afresh for every instance, so
flat colour says nothing about the class and a network must look at shape and texture:

=========  ===========================  ==============================================
class      shape                        what makes it hard
=========  ===========================  ==============================================
disc       filled circle                polka-dot fill, can be a few pixels wide
square     rotated square               checkerboard fill
triangle   rotated equilateral triangle stripes; sharp corners
star       five thin spikes             concave outline, spikes one or two pixels wide
ring       annulus                      a hole that shows the background (concave)
crescent   disc minus an offset disc    concave; zig-zag fill
stick      long thin bar                one to a few pixels wide: a "thin part"
=========  ===========================  ==============================================

Backgrounds are two-colour value noise, and half of them carry a faint copy of one of the
object textures, so texture alone does not decide the class either: context and boundaries
matter. Object sizes are log-uniform, from a few pixels up to most of the frame.

``make_object_image`` paints a single object of a class near the centre of a background: the
classification images of the book's miniature ImageNet (``deeplab_edu.pretrain``).

Everything is vectorised numpy on the object's bounding box: a 160 × 160 scene takes a few
milliseconds. ``write_builtin`` stores a set of scenes in the PASCAL VOC layout so the same
reader loads the built-in set and VOC 2012 (``python -m deeplab_edu make-data``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from .palette import IGNORE_INDEX, palette_bytes

CLASSES: tuple[str, ...] = ("background", "disc", "square", "triangle", "star", "ring",
                            "crescent", "stick")
NUM_CLASSES = len(CLASSES)
MIN_SIZE = 16
MAX_OBJECTS = 7  # "hard" scenes
MAX_STANDARD_OBJECTS = 4
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


def _rays(u, v, p, rng):
    # Stripes in angle around the centre: about one period of p pixels at radius 2p.
    n = 2 * int(rng.integers(3, 7))
    return (np.cos(n * np.arctan2(v, u)) > 0).astype(np.float32)


def _speckle(u, v, p, rng):
    return (rng.random(u.shape) < 0.5).astype(np.float32)


def _zigzag(u, v, p, rng):
    shift = (p / 2) * np.abs(np.mod(v / p, 2.0) - 1.0)
    return (np.mod(u + shift, p) < p / 2).astype(np.float32)


def _gradient(u, v, p, rng):
    # A smooth ramp along the object's long axis, different from every periodic fill.
    span = max(float(np.ptp(u)), 1.0)
    return ((u - u.min()) / span).astype(np.float32)


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


def _star(u, v, r, rng):
    # r(θ) = R (ρ + (1-ρ) |cos(5θ/2)|^8): five spikes whose tips are a pixel or two wide.
    rho = 0.3
    outline = r * (rho + (1 - rho) * np.abs(np.cos(2.5 * np.arctan2(v, u))) ** 8)
    return np.hypot(u, v) <= outline


def _ring(u, v, r, rng):
    rad = np.hypot(u, v)
    return (rad <= r) & (rad >= r * float(rng.uniform(0.45, 0.7)))


def _crescent(u, v, r, rng):
    bite = 0.8 * r
    return (u * u + v * v <= r * r) & ((u - 0.5 * r) ** 2 + v * v > bite * bite)


def _stick(u, v, r, rng):
    width = float(rng.uniform(1.0, max(1.5, 0.15 * r)))
    return (np.abs(u) <= r) & (np.abs(v) <= width / 2)


_OBJECTS = {  # class index -> (shape, texture, texture period range in pixels)
    1: (_disc, _dots, (4, 9)),
    2: (_square, _checker, (3, 8)),
    3: (_triangle, _stripes, (3, 7)),
    4: (_star, _rays, (4, 8)),
    5: (_ring, _speckle, (2, 3)),
    6: (_crescent, _zigzag, (4, 8)),
    7: (_stick, _gradient, (4, 8)),
}
_BACKGROUND_TEXTURES = (_dots, _checker, _stripes, _zigzag)


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


def _colour_pair(rng: np.random.Generator, contrast: float) -> tuple[np.ndarray, np.ndarray]:
    first = rng.uniform(0, 255, 3).astype(np.float32)
    direction = rng.normal(size=3).astype(np.float32)
    direction /= np.linalg.norm(direction) + 1e-6
    second = np.clip(first + contrast * 255 * direction, 0, 255)
    return first, second


def _mix(t: np.ndarray, pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return pair[0] + t[..., None] * (pair[1] - pair[0])


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    t = 0.65 * _value_noise(rng, size, 4) + 0.35 * _value_noise(rng, size, 12)
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    if rng.random() < 0.5:  # a faint object texture: texture alone must not decide the class
        texture = _BACKGROUND_TEXTURES[rng.integers(len(_BACKGROUND_TEXTURES))]
        y, x = np.mgrid[0:size, 0:size].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        u = np.cos(angle) * x + np.sin(angle) * y
        v = -np.sin(angle) * x + np.cos(angle) * y
        t = 0.75 * t + 0.25 * texture(u, v, float(rng.uniform(4, 10)), rng)
    return _mix(t, _colour_pair(rng, float(rng.uniform(0.2, 0.6))))


def _object_radius(rng: np.random.Generator, size: int, first: bool) -> float:
    if first and rng.random() < 0.5:  # often one object fills most of the frame
        return float(rng.uniform(0.3, 0.6) * size)
    # Log-uniform between a few pixels and about a third of the frame.
    return float(np.exp(rng.uniform(np.log(2.5), np.log(0.35 * size))))


# ----------------------------------------------------------------------------- the two designs
# "standard" (the default, format 2): every property is there for a lesson of chapters 07-11.
#   * The class is the object's *shape*. Colour narrows it to a pair: each hue family (reddish,
#     greenish, bluish) is shared by two classes and only the bar is orange, and the fill texture
#     comes from one pool shared by all classes. So no pixel's colour or texture names its
#     class; the network must see the object at its own scale (field of view: LargeFOV, ASPP),
#     yet a laptop run learns in minutes, as it could not when colour said nothing at all.
#   * Object extents span about 12-80 % of the frame (multi-scale context).
#   * Fills are saturated and nearly flat on a pale or dark background (boundaries lie on colour
#     edges), while the CNN's coarse scores are blurred where the image is sharp: the CRF's job.
#   * Thin parts (bars, star arms, ring walls) are at least 4 px wide at 160 px, so output
#     stride 8 and the decoder have something to win and nothing is unlearnable.
#   * One to four objects, occluding one another, on a smooth, non-flat background.
# "hard" (format 1's scenes): class-specific textures, two to seven objects from a few pixels
# to most of the frame, one-pixel spikes and sticks. Kept for the ``full`` profile and for
# comparison; a laptop run cannot learn it (see chapter 05).

DIFFICULTIES = ("standard", "hard")
MIN_THIN_PX = 4.0  # the narrowest thin part of a "standard" object at 160 px


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


def _standard_radius(rng: np.random.Generator, size: int, first: bool) -> float:
    # Extents (2R) log-uniform over 12-80 % of the frame; the first object is never tiny.
    lo = 0.18 if first else 0.07
    return float(np.exp(rng.uniform(np.log(lo * size), np.log(0.4 * size))))


def _paint_standard_object(rng: np.random.Generator, image: np.ndarray, label: np.ndarray, cls: int,
                           r: float, cy: float, cx: float) -> None:
    """A "standard" object: the class's shape, a fill drawn from the shared pool, in a colour
    at least ``min_contrast`` away from the background it covers."""
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


# Hue families: two classes share each one (disc and ring reddish, square and triangle greenish,
# star and crescent bluish; the bar alone is orange), so an object's colour narrows its class to a
# pair and only its shape decides within the pair.
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


def _smooth_background(rng: np.random.Generator, size: int) -> np.ndarray:
    # Any hue, but pale or dark (low saturation): objects stand out by colour, and no object
    # colour family is a background colour.
    t = 0.65 * _value_noise(rng, size, 3) + 0.35 * _value_noise(rng, size, 8)
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    h = rng.uniform(0, 1)
    first = _hsv(h, rng.uniform(0.0, 0.3), rng.uniform(0.2, 0.95))
    second = _hsv(h + rng.uniform(-0.1, 0.1), rng.uniform(0.0, 0.3), rng.uniform(0.2, 0.95))
    return _mix(t, (first, second))


def make_scene(seed: int, size: int, difficulty: str = "standard") -> tuple[np.ndarray, np.ndarray]:
    """One scene: ``(image uint8 (size, size, 3), label uint8 (size, size))``.

    The label holds indices into ``CLASSES`` (0 = background); the same seed, size and
    difficulty always give the same scene. ``difficulty`` is ``"standard"`` (the book's
    learnable design, above) or ``"hard"`` (format 1's scenes).
    """
    _check_seed_and_size(seed, size)
    _check_difficulty(difficulty)
    size = int(size)
    rng = np.random.default_rng(int(seed))
    label = np.zeros((size, size), dtype=np.uint8)
    if difficulty == "hard":
        image = _background(rng, size)
        for k in range(int(rng.integers(2, MAX_OBJECTS + 1))):
            cls = int(rng.integers(1, NUM_CLASSES))
            r = _object_radius(rng, size, first=k == 0)
            cy, cx = rng.uniform(-0.05 * size, 1.05 * size, 2)  # may be cut by the frame
            _paint_object(rng, image, label, cls, r, cy, cx)
        return _finish(rng, image), label
    image = _smooth_background(rng, size)
    for k in range(int(rng.integers(1, MAX_STANDARD_OBJECTS + 1))):
        cls = int(rng.integers(1, NUM_CLASSES))
        r = _standard_radius(rng, size, first=k == 0)
        cy, cx = rng.uniform(0.1 * size, 0.9 * size, 2)
        _paint_standard_object(rng, image, label, cls, r, cy, cx)
    return _finish(rng, image), label


def _check_difficulty(difficulty) -> None:
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")


def _paint_object(rng: np.random.Generator, image: np.ndarray, label: np.ndarray, cls: int,
                  r: float, cy: float, cx: float) -> None:
    """Paint one object of class ``cls`` and size ``r`` centred at (cy, cx), in place."""
    size = image.shape[0]
    shape, texture, (p_lo, p_hi) = _OBJECTS[cls]
    angle = rng.uniform(0, 2 * np.pi)
    # Work on the bounding box only: small objects cost almost nothing.
    y0, y1 = max(int(cy - r) - 1, 0), min(int(cy + r) + 2, size)
    x0, x1 = max(int(cx - r) - 1, 0), min(int(cx + r) + 2, size)
    if y0 >= y1 or x0 >= x1:
        return
    y, x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dy, dx = y + 0.5 - cy, x + 0.5 - cx  # pixel centres
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    mask = shape(u, v, r, rng)
    if not mask.any():
        return
    t = texture(u, v, float(rng.uniform(p_lo, p_hi)), rng)
    fill = _mix(t, _colour_pair(rng, float(rng.uniform(0.35, 0.8))))
    image[y0:y1, x0:x1][mask] = fill[mask]
    label[y0:y1, x0:x1][mask] = cls


def _finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    # Camera-like softness and sensor noise: edges are not perfect steps in real photos.
    image[1:-1, 1:-1] = (2 * image[1:-1, 1:-1] + image[:-2, 1:-1] + image[2:, 1:-1]
                         + image[1:-1, :-2] + image[1:-1, 2:]) / 6
    image += rng.normal(0, 4, image.shape).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _check_seed_and_size(seed, size) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ValueError(f"size must be an integer >= {MIN_SIZE} (pixels per side), got {size!r}")


def make_object_image(seed: int, size: int, difficulty: str = "standard") -> tuple[np.ndarray, int]:
    """One object near the centre of a background: ``(image uint8 (size, size, 3), class)``.

    The book's ImageNet in miniature (``deeplab_edu.pretrain``): a classification image whose
    class (1..7, an index into ``CLASSES``) is the object's, painted by the same code as the
    scenes' objects of that ``difficulty`` so that a backbone trained on these transfers to them.
    """
    _check_seed_and_size(seed, size)
    _check_difficulty(difficulty)
    size = int(size)
    rng = np.random.default_rng(int(seed))
    label = np.zeros((size, size), dtype=np.uint8)
    cls = int(rng.integers(1, NUM_CLASSES))
    if difficulty == "hard":
        image = _background(rng, size)
        r = float(rng.uniform(0.2, 0.45) * size)
        cy, cx = size / 2 + rng.uniform(-0.1, 0.1, 2) * size
        _paint_object(rng, image, label, cls, r, cy, cx)
        return _finish(rng, image), cls
    image = _smooth_background(rng, size)
    r = float(rng.uniform(0.2, 0.4) * size)
    cy, cx = size / 2 + rng.uniform(-0.1, 0.1, 2) * size
    _paint_standard_object(rng, image, label, cls, r, cy, cx)
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
                  progress: bool = True, difficulty: str = "standard", holdout: int = 0) -> Path:
    """Write ``train`` + ``val`` (+ ``holdout``) scenes under ``root`` in the PASCAL VOC 2012 layout.

    ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png`` (palette PNG, VOC colours),
    ``ImageSets/Segmentation/{train,val,trainval,holdout}.txt`` and ``builtin.json`` (classes,
    seed, size, difficulty), so ``datasets.build_dataset("builtin")`` reads it with the VOC
    reader. ``holdout`` images are drawn like the train split but never trained on: the CRF's
    parameters are cross-validated on them, as DeepLab v1 §4.1 held out part of its data.
    """
    from PIL import Image
    from deeplab_edu.progress import tqdm

    counts = {"train": train, "val": val, "holdout": holdout}
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 250_000:
            raise ValueError(f"{name} must be an image count in 0..249999, got {count!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _check_difficulty(difficulty)
    root = Path(root)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "SegmentationClass").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)

    jobs = [(split, i) for split, n in counts.items() for i in range(n)]
    palette = palette_bytes()
    for split, i in tqdm(jobs, desc=f"writing built-in set to {root}", disable=not progress):
        image, label = make_scene(scene_seed(seed, split, i), size, difficulty)
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
            "classes": list(CLASSES), "ignore_index": IGNORE_INDEX, "seed": seed, "size": size, "difficulty": difficulty,
            "train": train, "val": val, "holdout": holdout}
    (root / "builtin.json").write_text(json.dumps(meta, indent=2) + "\n")
    return root


# ----------------------------------------------------------------------------- statistics

def scene_statistics(seeds, size: int, difficulty: str = "standard") -> dict[str, np.ndarray]:
    """What a set of scenes holds: the fraction of pixels of each class, and the area in
    pixels of every visible object region (4-connected component of one object class)."""
    from scipy import ndimage

    counts = np.zeros(NUM_CLASSES, dtype=np.int64)
    areas, classes = [], []
    for seed in seeds:
        _, label = make_scene(int(seed), size, difficulty)
        counts += np.bincount(label.ravel(), minlength=NUM_CLASSES)
        for cls in range(1, NUM_CLASSES):
            regions, n = ndimage.label(label == cls)
            if n:
                areas.extend(np.bincount(regions.ravel())[1:].tolist())
                classes.extend([cls] * n)
    return {"pixel_fraction": counts / counts.sum(), "region_area": np.array(areas, dtype=np.int64),
            "region_class": np.array(classes, dtype=np.int64)}
