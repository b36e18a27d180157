"""Similarity alignment of faces to the ArcFace 112x112 template, batched in torch.

The transform is the least-squares similarity (rotation, uniform scale, translation) from the 5
detected landmarks to the template, the same solution as scikit-image's ``SimilarityTransform``
(Umeyama) that insightface and the AI-KD reference use. The warp is bilinear with a black border
computed in floating point, as OpenCV's ``warpAffine`` does since 4.11 (older OpenCV quantised source
positions to 1/32 px, which can move sharp edges by a few grey levels), so crops agree with OpenCV to
within one grey level while running batched on CPU or GPU.
"""

from __future__ import annotations

import numpy as np
import torch

#: ArcFace / insightface reference points for a 112x112 crop: left eye, right eye, nose tip,
#: left mouth corner, right mouth corner (image left = subject's right).
ARCFACE_TEMPLATE = torch.tensor(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=torch.float64,
)


def template(size: int = 112, device: torch.device | str | None = None) -> torch.Tensor:
    """The ArcFace template scaled to a ``size`` x ``size`` crop."""
    return (ARCFACE_TEMPLATE * (size / 112.0)).to(device=device)


def estimate_similarity(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Least-squares similarity transforms mapping ``src`` points onto ``dst`` points.

    ``src`` is ``(N, K, 2)`` (or ``(K, 2)``), ``dst`` is ``(K, 2)`` or ``(N, K, 2)``. Returns the
    forward matrices ``(N, 2, 3)`` (or ``(2, 3)``) in float64, so that ``dst ~= M @ [x, y, 1]``.
    In 2-D the similarity is linear in ``a = s cos t, b = s sin t``, so the closed form below is
    the exact least-squares (Umeyama) solution.
    """
    squeeze = src.ndim == 2
    src = src.to(torch.float64)
    if squeeze:
        src = src[None]
    dst = dst.to(device=src.device, dtype=torch.float64)
    if dst.ndim == 2:
        dst = dst[None].expand(src.shape[0], -1, -1)
    src_mean = src.mean(dim=1, keepdim=True)
    dst_mean = dst.mean(dim=1, keepdim=True)
    s = src - src_mean
    d = dst - dst_mean
    norm = (s**2).sum(dim=(1, 2)).clamp_min(1e-12)
    a = (s[..., 0] * d[..., 0] + s[..., 1] * d[..., 1]).sum(dim=1) / norm
    b = (s[..., 0] * d[..., 1] - s[..., 1] * d[..., 0]).sum(dim=1) / norm
    tx = dst_mean[:, 0, 0] - (a * src_mean[:, 0, 0] - b * src_mean[:, 0, 1])
    ty = dst_mean[:, 0, 1] - (b * src_mean[:, 0, 0] + a * src_mean[:, 0, 1])
    m = torch.stack(
        [torch.stack([a, -b, tx], dim=1), torch.stack([b, a, ty], dim=1)],
        dim=1,
    )
    return m[0] if squeeze else m


def invert_affine(m: torch.Tensor) -> torch.Tensor:
    """Invert ``(..., 2, 3)`` affine matrices."""
    full = torch.zeros(*m.shape[:-2], 3, 3, dtype=m.dtype, device=m.device)
    full[..., :2, :] = m
    full[..., 2, 2] = 1.0
    return torch.linalg.inv(full)[..., :2, :]


def warp_affine(images: torch.Tensor, matrices: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Warp ``images`` ``(N, C, H, W)`` with forward ``matrices`` ``(N, 2, 3)`` to ``size``.

    Output pixel ``(x, y)`` samples the source at ``M^-1 [x, y, 1]`` (pixel centres on integer
    coordinates) bilinearly, with zeros outside the image: OpenCV's
    ``warpAffine(src, M, size)`` with ``INTER_LINEAR`` and ``BORDER_CONSTANT``. uint8 input gives
    rounded uint8 output; float input gives float output (differentiable in the image).

    Sampling positions and weights are computed in float64 pixel units, so a crop depends only on
    the pixels it reads: the same face warped from the whole photo, from a region of it, or from a
    region zero-padded into a batch of larger ones gives the same values.
    """
    out_h, out_w = (size, size) if isinstance(size, int) else size
    n, channels, in_h, in_w = images.shape
    device = images.device
    inv = invert_affine(matrices.to(device=device, dtype=torch.float64))
    ys, xs = torch.meshgrid(
        torch.arange(out_h, device=device, dtype=torch.float64),
        torch.arange(out_w, device=device, dtype=torch.float64),
        indexing="ij",
    )
    grid = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(1, -1, 3)  # (1, P, 3)
    src = grid @ inv.transpose(1, 2)  # (N, P, 2) source pixel positions
    x0, y0 = src[..., 0].floor(), src[..., 1].floor()
    is_uint8 = images.dtype == torch.uint8
    work = images.float() if is_uint8 else images
    wx, wy = (src[..., 0] - x0).to(work.dtype), (src[..., 1] - y0).to(work.dtype)
    flat = work.reshape(n, channels, in_h * in_w)
    out = torch.zeros(n, channels, out_h * out_w, dtype=work.dtype, device=device)
    for dx, dy, weight in ((0, 0, (1 - wx) * (1 - wy)), (1, 0, wx * (1 - wy)), (0, 1, (1 - wx) * wy), (1, 1, wx * wy)):
        x, y = x0 + dx, y0 + dy
        inside = (x >= 0) & (x < in_w) & (y >= 0) & (y < in_h)
        index = torch.where(inside, y * in_w + x, 0).long()
        values = flat.gather(2, index[:, None, :].expand(-1, channels, -1))
        out = out + values * (weight * inside)[:, None, :]
    out = out.reshape(n, channels, out_h, out_w)
    if is_uint8:
        out = out.round_().clamp_(0, 255).to(torch.uint8)
    return out


def source_region(matrices, size: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Bounding box ``(x0, y0, x1, y1)`` of the source pixels crops warped with the forward
    ``matrices`` (``(2, 3)`` or ``(V, 2, 3)``, tensor or array) can touch, clamped to the image; empty
    (``x1 <= x0``) when they lie wholly outside it. Numpy on purpose: distill's workers call it per
    face, where a dozen tiny torch calls would cost more than decoding a 250 px JPEG."""
    m = np.asarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
    corners = np.array([[0.0, 0.0], [size - 1.0, 0.0], [0.0, size - 1.0], [size - 1.0, size - 1.0]])
    # source position of each crop corner: A^-1 (corner - t), for every matrix
    src = np.einsum("vij,vkj->vki", np.linalg.inv(m[:, :, :2]), corners[None] - m[:, None, :, 2])
    x0 = max(int(np.floor(src[..., 0].min())) - 1, 0)
    y0 = max(int(np.floor(src[..., 1].min())) - 1, 0)
    x1 = min(max(int(np.ceil(src[..., 0].max())) + 2, 0), width)
    y1 = min(max(int(np.ceil(src[..., 1].max())) + 2, 0), height)
    return x0, y0, x1, y1


def align_faces(
    image: torch.Tensor, landmarks: torch.Tensor, size: int = 112
) -> tuple[torch.Tensor, torch.Tensor]:
    """Align every face of one image of any size.

    ``image`` is ``(C, H, W)`` (uint8 or float), ``landmarks`` ``(F, 5, 2)`` in image pixels.
    Returns the crops ``(F, C, size, size)`` and the forward transforms ``(F, 2, 3)``. Each face is
    warped from the small region of the image it covers, so a 24-megapixel photo is never
    converted to float as a whole.
    """
    matrices = estimate_similarity(landmarks.reshape(-1, 5, 2), template(size))
    crops = []
    height, width = image.shape[-2:]
    for m in matrices:
        x0, y0, x1, y1 = source_region(m.cpu().numpy(), size, height, width)
        if x1 <= x0 or y1 <= y0:  # the crop lies wholly outside the image
            crops.append(image.new_zeros((image.shape[0], size, size)))
            continue
        shifted = m.clone()
        shifted[:, 2] += shifted[:, 0] * x0 + shifted[:, 1] * y0
        roi = image[:, y0:y1, x0:x1]
        crops.append(warp_affine(roi[None], shifted[None], size)[0])
    if not crops:
        return image.new_zeros((0, image.shape[0], size, size)), matrices
    return torch.stack(crops), matrices


def interocular_distance(landmarks: torch.Tensor) -> torch.Tensor:
    """Distance between the two eye landmarks, ``(..., 5, 2) -> (...)``."""
    return (landmarks[..., 0, :] - landmarks[..., 1, :]).norm(dim=-1)


#: Eye distances (pixels) below which a similarity transform from the landmarks is meaningless.
MIN_EYE_DISTANCE = 2.0


def landmark_problem(landmarks, height: int, width: int) -> str | None:
    """Why ``(5, 2)`` landmarks cannot be aligned on a ``height`` x ``width`` image, or ``None``.

    Non-finite values, collapsed points and faces placed far outside the image would give a
    singular transform or a crop of nothing; such faces get status ``bad_landmarks``, never a score.
    """
    lm = torch.as_tensor(landmarks, dtype=torch.float64).reshape(5, 2)
    if not torch.isfinite(lm).all():
        return "landmarks are not finite numbers"
    eyes = float(interocular_distance(lm))
    if eyes < MIN_EYE_DISTANCE:
        return f"landmarks collapsed (eye distance {eyes:.3g} px)"
    if eyes > 2 * max(height, width):
        return f"landmarks span far more than the image (eye distance {eyes:.3g} px on {width}x{height})"
    cx, cy = lm.mean(dim=0).tolist()
    if not (-eyes <= cx <= width + eyes and -eyes <= cy <= height + eyes):
        return f"landmarks put the face outside the {width}x{height} image (centre {cx:.1f}, {cy:.1f})"
    return None
