"""High-dimensional Gaussian filtering with the permutohedral lattice.

The fully-connected CRF's message passing needs, for every pixel i and label l,

    m_i(l) = Σ_j k(f_i, f_j) Q_j(l),    k(f_i, f_j) = exp(-½ |f_i - f_j|²)

where f is a pixel's feature vector already divided by its bandwidths: (x/σα, y/σα, R/σβ, G/σβ,
B/σβ) for the appearance kernel and (x/σγ, y/σγ) for the smoothness kernel (Krähenbühl & Koltun
2011, eq. 3). Written out this is an N×N sum, 3.5·10¹⁰ terms for one 500×375 image. Adams, Baek &
Davis (2010, "Fast high-dimensional filtering using the permutohedral lattice", §3) approximate it
in O(N·d²) with linear steps on a lattice that tiles feature space with simplices:

1. **embed** each f ∈ R^d on the hyperplane H_d = {x ∈ R^(d+1) : Σ x = 0} and find the enclosing
   simplex of the lattice A*_d (its d+1 vertices and the point's barycentric weights);
2. **splat**: each vertex accumulates Σ (weight · value) of the pixels around it;
3. **blur** the lattice with the kernel [½, 1, ½] along each of its d+1 axes in turn;
4. **slice**: each pixel reads back the barycentric-weighted sum of its simplex's vertices.

The result is the Gaussian filter up to the approximation's error (a piecewise-linear, slightly
anisotropic kernel; ``tests/test_crf_lattice.py`` measures it). Constants and tie-breaking follow
Krähenbühl's ``permutohedral.cpp``, the lattice inside pydensecrf, so the two agree.

- :func:`permutohedral_filter_reference` — the algorithm as written: Python loops over points, a
  dict as the hash table. For a few hundred points.
- :class:`PermutohedralLattice` — vectorised PyTorch on any device, held equal to it by a test:
  integer coordinates packed into int64 keys, hashed by a sort, neighbours found by
  ``torch.searchsorted``; splat and slice are sparse matrices built once per image and reused by
  every mean-field iteration. Differentiable in the values (not the features).

:func:`gaussian_filter_brute_force` is the exact N×N sum the lattice approximates.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch

from deeplab_edu import validate

__all__ = ["PermutohedralLattice", "bilateral_features", "gaussian_filter_brute_force",
           "permutohedral_filter_reference", "spatial_features"]


# --- features ---


def spatial_features(batch: int, height: int, width: int, sigma_gamma: float,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """(batch, H·W, 2) features (x/σγ, y/σγ) of the smoothness kernel; x is the column, y the row.

    The order (x, y) and the row-major pixel order are pydensecrf's (``addPairwiseGaussian``).
    """
    validate.number(sigma_gamma, "sigma_gamma", positive=True)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32, device=device),
                            torch.arange(width, dtype=torch.float32, device=device), indexing="ij")
    positions = torch.stack([xs, ys], dim=-1).reshape(1, height * width, 2) / sigma_gamma
    return positions.expand(batch, -1, -1)


def bilateral_features(image: torch.Tensor, sigma_alpha: float, sigma_beta: float) -> torch.Tensor:
    """(batch, H·W, 5) features (x/σα, y/σα, R/σβ, G/σβ, B/σβ) of the appearance kernel.

    ``image`` is (batch, 3, H, W) with colours on the 0–255 scale (uint8 or float), the scale the
    paper's σβ is quoted in.
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be a (batch, 3, H, W) tensor, got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    validate.number(sigma_alpha, "sigma_alpha", positive=True)
    validate.number(sigma_beta, "sigma_beta", positive=True)
    batch, _, height, width = image.shape
    positions = spatial_features(batch, height, width, sigma_alpha, device=image.device)
    colours = image.to(torch.float64 if image.dtype == torch.float64 else torch.float32)
    colours = colours.permute(0, 2, 3, 1).reshape(batch, height * width, 3) / sigma_beta
    return torch.cat([positions.to(colours.dtype), colours], dim=-1)


# --- the exact filter, and the lattice written out with loops ---


def gaussian_filter_brute_force(features: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Σ_j exp(-½|f_i - f_j|²) v_j over all pairs, j = i included. (N, d), (N, C) -> (N, C).

    The definition the lattice approximates; O(N²) memory, for small inputs only.
    """
    squared = torch.cdist(features.double(), features.double()).square()
    return (torch.exp(-0.5 * squared) @ values.double()).to(values.dtype)


def _scale_factors(d: int) -> list[float]:
    # Adams et al. §3.1: the blur's variance is matched to the unit Gaussian by scaling feature
    # axis i by (d+1)·sqrt(2/3) / sqrt((i+1)(i+2)) before elevating it.
    return [(d + 1) * math.sqrt(2.0 / 3.0) / math.sqrt((i + 1) * (i + 2)) for i in range(d)]


def _alpha(d: int) -> float:
    # permutohedral.cpp's output scale, kept so that we equal pydensecrf number for number. The
    # kernel's peak is still not 1 (a lone point keeps 0.37-0.98 of itself for d = 5, by where it
    # falls in its simplex); only normalised filtering, Σ k v / Σ k, what the CRF uses, is free of it.
    return 1.0 / (1.0 + 2.0 ** (-d))


def permutohedral_filter_reference(features: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The lattice filter as Adams et al. (2010, §3, Algorithm 1) write it, one point at a time:
    (N, d) features, (N, C) values."""
    features = np.asarray(features, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n, d = features.shape
    scale = _scale_factors(d)
    lattice: dict[tuple[int, ...], np.ndarray] = {}  # the hash table: vertex key -> value
    simplices = []  # per point: [(vertex key, barycentric weight)] * (d+1)

    for p in range(n):
        # Embed: elevated lies on the hyperplane Σ x = 0 (coordinate 0 gathers the sum).
        elevated = [0.0] * (d + 1)
        running = 0.0
        for j in range(d, 0, -1):
            cf = features[p, j - 1] * scale[j - 1]
            elevated[j] = running - j * cf
            running += cf
        elevated[0] = running

        # The nearest remainder-0 point: every coordinate rounded to a multiple of d+1 ...
        rem0 = [0] * (d + 1)
        for i in range(d + 1):
            v = elevated[i] / (d + 1)
            up, down = math.ceil(v) * (d + 1), math.floor(v) * (d + 1)
            rem0[i] = up if up - elevated[i] < elevated[i] - down else down
        excess = sum(rem0) // (d + 1)

        # ... then sorted by the residual to find the enclosing simplex (rank = sorted position).
        rank = [0] * (d + 1)
        for i in range(d):
            for j in range(i + 1, d + 1):
                if elevated[i] - rem0[i] < elevated[j] - rem0[j]:
                    rank[i] += 1
                else:
                    rank[j] += 1
        for i in range(d + 1):  # walk back onto the hyperplane if rounding left it
            rank[i] += excess
            if rank[i] < 0:
                rank[i] += d + 1
                rem0[i] += d + 1
            elif rank[i] > d:
                rank[i] -= d + 1
                rem0[i] -= d + 1

        barycentric = [0.0] * (d + 2)
        for i in range(d + 1):
            v = (elevated[i] - rem0[i]) / (d + 1)
            barycentric[d - rank[i]] += v
            barycentric[d + 1 - rank[i]] -= v
        barycentric[0] += 1.0 + barycentric[d + 1]

        # Splat onto the d+1 vertices; a vertex is named by its first d coordinates.
        simplex = []
        for k in range(d + 1):
            key = tuple(rem0[i] + k - ((d + 1) if rank[i] > d - k else 0) for i in range(d))
            lattice.setdefault(key, np.zeros(values.shape[1]))
            lattice[key] += barycentric[k] * values[p]
            simplex.append((key, barycentric[k]))
        simplices.append(simplex)

    # Blur with [½, 1, ½] along each lattice axis j: neighbours differ by +1 in every coordinate
    # and -d in coordinate j (for j = d, in the implicit last coordinate).
    for j in range(d + 1):
        blurred = {}
        for key, value in lattice.items():
            plus = tuple(c - d if i == j else c + 1 for i, c in enumerate(key))
            minus = tuple(c + d if i == j else c - 1 for i, c in enumerate(key))
            blurred[key] = value + 0.5 * (lattice.get(plus, 0.0) + lattice.get(minus, 0.0))
        lattice = blurred

    # Slice: read the simplex back with the same weights.
    out = np.zeros_like(values)
    for p, simplex in enumerate(simplices):
        for key, weight in simplex:
            out[p] += weight * lattice[key]
    return out * _alpha(d)


# --- the vectorised lattice ---


class PermutohedralLattice:
    """A permutohedral lattice built once for a batch of feature sets, then used to filter.

    ``features`` is (batch, N, d), already divided by the bandwidths. Images share one hash table
    (the batch index is part of every key) but never exchange values; ``filter(values)``,
    values (batch, N, C), returns Σ_j k(f_i, f_j) v_j per image, approximately.
    """

    def __init__(self, features: torch.Tensor):
        if not isinstance(features, torch.Tensor) or features.dim() != 3:
            raise ValueError(f"features must be a (batch, N, d) tensor, got "
                             f"{getattr(features, 'shape', type(features).__name__)}")
        batch, n, d = features.shape
        if n == 0 or d == 0:
            raise ValueError(f"features must have at least one point and one feature, got {tuple(features.shape)}")
        if not torch.isfinite(features).all():
            raise ValueError("features must be finite")
        self.batch, self.num_points, self.dim = batch, n, d
        self.device = features.device
        dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
        # The lattice rounds elevated features to integers; past the float's exact-integer range
        # (2^24 in float32) the rounding, the ranks and the hash all go wrong.
        limit = 2.0**50 if dtype == torch.float64 else 2.0**22
        if float(features.abs().max()) * (d + 1) >= limit:
            raise ValueError("features span too many lattice cells to hash in 64 bits; are the bandwidths "
                             f"(σ) far too small for the features' range? (largest |feature| "
                             f"{float(features.abs().max()):.3g})")
        weights, codes = self._embed(features.reshape(batch * n, d).to(dtype), batch, n)
        self._build(weights, codes)

    # -- construction -------------------------------------------------------------------------

    def _embed(self, f: torch.Tensor, batch: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Barycentric weights (P, d+1) and the codes (P, d+1) of each point's d+1 vertices."""
        d, device = self.dim, f.device
        # elevated = f · E, E's row i = scale_i · (1, …, 1 [i+1 times], -(i+1), 0, …): the loop
        # of permutohedral_filter_reference as one matrix product.
        elevate = torch.zeros(d, d + 1, dtype=f.dtype, device=device)
        for i, s in enumerate(_scale_factors(d)):
            elevate[i, : i + 1] = s
            elevate[i, i + 1] = -(i + 1) * s
        elevated = f @ elevate

        v = elevated / (d + 1)
        up, down = torch.ceil(v) * (d + 1), torch.floor(v) * (d + 1)
        rem0 = torch.where(up - elevated < elevated - down, up, down)
        excess = torch.round(rem0.sum(1) / (d + 1)).long()

        # rank_i = position of residual i in a stable descending sort: the loop's tie-breaking.
        residual = elevated - rem0
        order = torch.argsort(-residual, dim=1, stable=True)
        positions = torch.arange(d + 1, device=device).expand_as(order)
        rank = torch.empty_like(order).scatter_(1, order, positions) + excess[:, None]
        rem0 = torch.round(rem0).long()
        wrap = (rank < 0).long() - (rank > d).long()
        rank += (d + 1) * wrap
        rem0 += (d + 1) * wrap

        delta = (elevated - rem0) / (d + 1)
        barycentric = torch.zeros(f.shape[0], d + 2, dtype=f.dtype, device=device)
        barycentric.scatter_add_(1, d - rank, delta)
        barycentric.scatter_add_(1, d + 1 - rank, -delta)
        barycentric[:, 0] += 1.0 + barycentric[:, d + 1]

        # Vertex k of the simplex: key_i = rem0_i + k, less d+1 where rank_i > d-k (first d
        # coordinates; the last is implied by Σ = 0). Pack (key, image index) into one int64,
        # every coordinate shifted to start at 0 with a margin of 2(d+1) so that neighbours
        # (key ± 1 or ∓ d) can never wrap into the next coordinate.
        low = rem0[:, :d].amin(0) - 2 * (d + 1)
        extent = rem0[:, :d].amax(0) + 2 * (d + 1) - low + 1
        sizes = extent.tolist() + [batch]
        if math.prod(sizes) >= 2**62:
            raise ValueError("features span too many lattice cells to hash in 64 bits; "
                             "are the bandwidths (σ) far too small for the features' range?")
        stride = [math.prod(sizes[i + 1:]) for i in range(d + 1)]
        self._steps = self._neighbour_steps(stride[:d])
        image = torch.arange(batch, device=device).repeat_interleave(n)
        base = ((rem0[:, :d] - low) * torch.tensor(stride[:d], device=device)).sum(1) + image * stride[d]
        # code_k = base + k·Σ stride − (d+1)·Σ_{i: rank_i > d-k} stride_i. The last sum runs over
        # the coordinates of the k highest ranks: place each stride at its coordinate's rank and
        # take a cumulative sum from the top rank down (the implied coordinate d has stride 0).
        by_rank = torch.zeros_like(rank).scatter_(
            1, rank, torch.tensor(stride[:d] + [0], device=device).expand_as(rank))
        top = torch.cumsum(by_rank.flip(1), 1)[:, :d]  # top[:, k-1] = Σ over ranks > d-k
        lowered = torch.cat([torch.zeros_like(top[:, :1]), top], 1)
        k = torch.arange(d + 1, device=device)
        codes = base[:, None] + k * sum(stride[:d]) - (d + 1) * lowered
        return barycentric[:, : d + 1], codes

    def _neighbour_steps(self, stride: list[int]) -> list[int]:
        # Along axis j a neighbour is +1 in every coordinate and -d in coordinate j (for j = d,
        # in the implicit last one): the code changes by a fixed amount per axis.
        d = self.dim
        return [sum(stride) - (d + 1) * (stride[j] if j < d else 0) for j in range(d + 1)]

    def _build(self, weights: torch.Tensor, codes: torch.Tensor) -> None:
        d, device = self.dim, codes.device
        points = weights.shape[0]
        # One stable sort hashes the vertices (equal codes = one vertex) and orders the splat
        # matrix's CSR rows, columns increasing, on every device.
        sorted_codes, order = torch.sort(codes.reshape(-1), stable=True)
        new = torch.ones_like(sorted_codes, dtype=torch.bool)
        new[1:] = sorted_codes[1:] != sorted_codes[:-1]
        unique = sorted_codes[new]
        m = unique.numel()
        self.num_vertices = m
        vertex = torch.empty_like(order)
        vertex[order] = torch.cumsum(new, 0) - 1

        # Neighbours along each axis, found by binary search; a missing one points at row m,
        # an extra all-zero row.
        offset = torch.tensor(self._steps, device=device)
        wanted = unique[None, :] + torch.cat([offset, -offset])[:, None]  # (2(d+1), m)
        found = torch.searchsorted(unique, wanted).clamp_(max=m - 1)
        neighbour = torch.where(unique[found] == wanted, found, torch.full_like(found, m))
        pad = torch.full((2 * (d + 1), 1), m, dtype=torch.long, device=device)
        self._plus, self._minus = torch.cat([neighbour, pad], 1).split(d + 1)

        # Splat (m+1 × P) and slice (P × m+1, d+1 entries a row, α folded in) as CSR matrices,
        # sparse @ dense's fastest layout; devices without sparse kernels use index_add and gather.
        self._vertex = vertex.view(points, d + 1)
        self._splat_weights, self._slice_weights = weights, weights * _alpha(d)
        self._sparse = device.type in ("cpu", "cuda")
        if self._sparse:
            self._slice = _slice_matrix(self._vertex, self._slice_weights, m)
            starts = torch.nonzero(new).reshape(-1)
            rows = torch.cat([starts, starts.new_tensor([points * (d + 1)] * 2)])
            self._splat = _csr(rows, order // (d + 1), weights.reshape(-1)[order], (m + 1, points))

    def scaled(self, scale: torch.Tensor) -> "PermutohedralLattice":
        """The same lattice filtering diag(s) K diag(s) instead of K, ``scale`` (batch, N) folded into
        the sparse matrices: the CRF's D^{-1/2} K D^{-1/2} costs what K does."""
        scale = scale.reshape(-1).to(self._splat_weights.dtype)
        if scale.numel() != self.batch * self.num_points:
            raise ValueError(f"scale must have batch·N = {self.batch * self.num_points} entries, "
                             f"got {scale.numel()}")
        other = copy.copy(self)
        other._splat_weights = self._splat_weights * scale[:, None]
        other._slice_weights = self._slice_weights * scale[:, None]
        if self._sparse:
            other._slice = _slice_matrix(self._vertex, other._slice_weights, self.num_vertices)
            columns = self._splat.col_indices()
            other._splat = _csr(self._splat.crow_indices(), columns,
                                self._splat.values() * scale[columns], tuple(self._splat.shape))
        return other

    @staticmethod
    def weighted_sum(lattices: list["PermutohedralLattice"], weights: list[float]) -> "PermutohedralLattice":
        """One operator for Σ_k w_k K_k: one splat, blur sweep and slice for all (the CRF's two kernels in
        one pass). The vertex tables are stacked, each keeping its neighbours; w_k goes into the slice."""
        first = lattices[0]
        if len(lattices) != len(weights) or any(
                (lat.batch, lat.num_points, lat.device, lat._sparse)
                != (first.batch, first.num_points, first.device, first._sparse) for lat in lattices):
            raise ValueError("weighted_sum needs one weight per lattice, all built on the same points")
        out = copy.copy(first)
        out.dim = max(lat.dim for lat in lattices)
        offsets = [0]
        for lat in lattices:
            offsets.append(offsets[-1] + lat.num_vertices + 1)  # each keeps its zero row
        out.num_vertices = offsets[-1] - 1  # the last block's zero row is the shared sentinel

        def axis(j: int, side: str) -> torch.Tensor:
            parts = []
            for lat, offset in zip(lattices, offsets):
                if j <= lat.dim:
                    parts.append(getattr(lat, side)[j] + offset)
                else:  # no such axis: point at the block's zero row, so the blur adds nothing
                    parts.append(torch.full((lat.num_vertices + 1,), offset + lat.num_vertices,
                                            dtype=torch.long, device=lat.device))
            return torch.cat(parts)

        out._plus = [axis(j, "_plus") for j in range(out.dim + 1)]
        out._minus = [axis(j, "_minus") for j in range(out.dim + 1)]
        out._vertex = torch.cat([lat._vertex + o for lat, o in zip(lattices, offsets)], 1)
        out._splat_weights = torch.cat([lat._splat_weights for lat in lattices], 1)
        out._slice_weights = torch.cat([w * lat._slice_weights for lat, w in zip(lattices, weights)], 1)
        if out._sparse:
            out._slice = _slice_matrix(out._vertex, out._slice_weights, out.num_vertices)
            rows = [lattices[0]._splat.crow_indices()]
            for lat in lattices[1:]:
                rows.append(lat._splat.crow_indices()[1:] + rows[-1][-1])
            columns = torch.cat([lat._splat.col_indices() for lat in lattices])
            values = torch.cat([lat._splat.values() for lat in lattices])
            out._splat = _csr(torch.cat(rows), columns, values, (out.num_vertices + 1, first.batch * first.num_points))
        return out

    # -- filtering ----------------------------------------------------------------------------

    def filter(self, values: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        """Gaussian-filter ``values`` (batch, N, C) over the lattice; differentiable in ``values``.

        ``reverse`` blurs the axes in the opposite order: the filter's transpose (splat and slice are
        each other's, each axis' blur is symmetric), which back-propagation needs.
        """
        if values.dim() != 3 or values.shape[:2] != (self.batch, self.num_points):
            raise ValueError(f"values must be (batch={self.batch}, N={self.num_points}, C), "
                             f"got {tuple(values.shape)}")
        return _LatticeFilter.apply(values, self, reverse)

    def _apply(self, values: torch.Tensor, reverse: bool) -> torch.Tensor:
        batch, n, c = values.shape
        flat = values.reshape(batch * n, c)
        if self._sparse:
            lattice = self._splat.to(flat.dtype) @ flat
        else:
            lattice = flat.new_zeros(self.num_vertices + 1, c)
            lattice.index_add_(0, self._vertex.reshape(-1),
                               (flat[:, None, :] * self._splat_weights[..., None].to(flat.dtype)).reshape(-1, c))
        for j in (range(self.dim, -1, -1) if reverse else range(self.dim + 1)):
            # lattice ← lattice + ½ (lattice[plus] + lattice[minus]), without temporaries
            lattice = (lattice.index_select(0, self._plus[j])
                       .add_(lattice.index_select(0, self._minus[j])).mul_(0.5).add_(lattice))
        if self._sparse:
            out = self._slice.to(flat.dtype) @ lattice
        else:
            out = (lattice[self._vertex] * self._slice_weights[..., None].to(flat.dtype)).sum(1)
        return out.reshape(batch, n, c)


def _csr(rows: torch.Tensor, columns: torch.Tensor, values: torch.Tensor,
         size: tuple[int, int]) -> torch.Tensor:
    if values.numel() < 2**31 and max(size) < 2**31:  # int32 indices: what MKL / cuSPARSE take
        rows, columns = rows.int(), columns.int()   # as they are (int64 is converted every call)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": it works, say it once here
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(rows, columns, values, size=size, check_invariants=False)


def _slice_matrix(vertex: torch.Tensor, weights: torch.Tensor, m: int) -> torch.Tensor:
    # Row p holds point p's vertices and weights: the same number of entries in every row.
    points, k = vertex.shape
    rows = torch.arange(0, points * k + 1, k, device=vertex.device)
    return _csr(rows, vertex.reshape(-1), weights.reshape(-1), (points, m + 1))


class _LatticeFilter(torch.autograd.Function):
    """y = A v with A = α·slice·blur·splat; the gradient is Aᵀ g = the reverse-order filter."""

    @staticmethod
    def forward(ctx, values, lattice, reverse):  # type: ignore[override]
        ctx.lattice, ctx.reverse = lattice, reverse
        return lattice._apply(values.contiguous(), reverse)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return ctx.lattice.filter(grad.contiguous(), reverse=not ctx.reverse), None, None
