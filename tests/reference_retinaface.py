"""An independent, straightforward RetinaFace reference: biubug6/Pytorch_Retinaface's ``detect.py``
post-processing (PriorBox loops, numpy decoding, ``py_cpu_nms``), one image at a time, no padding.

Written from the published algorithm, not from aikd's code: it shares only the network weights
(run through aikd's module, whose parameter names are biubug6's). The image is resized with Pillow
to the size given by the caller, so the reference and aikd see the same pixels (to Pillow's and
torch's rounding) at the same resolution.
"""

from __future__ import annotations

from itertools import product
from math import ceil

import numpy as np
import torch
from PIL import Image

MIN_SIZES = [[16, 32], [64, 128], [256, 512]]
STEPS = [8, 16, 32]
VARIANCE = [0.1, 0.2]


def prior_box(height: int, width: int) -> np.ndarray:
    anchors = []
    for k, step in enumerate(STEPS):
        for i, j in product(range(ceil(height / step)), range(ceil(width / step))):
            for min_size in MIN_SIZES[k]:
                s_kx, s_ky = min_size / width, min_size / height
                cx, cy = (j + 0.5) * step / width, (i + 0.5) * step / height
                anchors += [cx, cy, s_kx, s_ky]
    return np.array(anchors, dtype=np.float64).reshape(-1, 4)


def py_cpu_nms(dets: np.ndarray, thresh: float) -> list[int]:
    x1, y1, x2, y2, scores = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return keep


@torch.inference_mode()
def detect(net, rgb: np.ndarray, size: tuple[int, int], conf: float = 0.5, nms: float = 0.4) -> list[dict]:
    """Faces of ``rgb`` (HxWx3 uint8) run at ``size`` = (height, width), in original pixels."""
    height, width = rgb.shape[:2]
    img = rgb
    if (height, width) != tuple(size):
        img = np.asarray(Image.fromarray(rgb).resize((size[1], size[0]), Image.BILINEAR))
    bgr = img[..., ::-1].astype(np.float32) - np.array([104, 117, 123], dtype=np.float32)
    x = torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))[None]
    loc, logits, landms = (t[0].double().numpy() for t in net.eval()(x))
    scores = torch.from_numpy(logits).softmax(-1)[:, 1].numpy()
    pri = prior_box(*size)
    boxes = np.concatenate(
        [pri[:, :2] + loc[:, :2] * VARIANCE[0] * pri[:, 2:], pri[:, 2:] * np.exp(loc[:, 2:] * VARIANCE[1])], axis=1
    )
    boxes[:, :2] -= boxes[:, 2:] / 2
    boxes[:, 2:] += boxes[:, :2]
    points = np.concatenate([pri[:, :2] + landms[:, 2 * k : 2 * k + 2] * VARIANCE[0] * pri[:, 2:] for k in range(5)], 1)
    sx, sy = size[1] / width, size[0] / height
    boxes = boxes * np.array([size[1], size[0]] * 2) / np.array([sx, sy] * 2)
    points = points * np.array([size[1], size[0]] * 5) / np.array([sx, sy] * 5)
    keep = scores > conf
    dets = np.hstack([boxes[keep], scores[keep, None]])
    points = points[keep]
    order = py_cpu_nms(dets, nms)
    return [{"box": dets[i, :4], "score": dets[i, 4], "landmarks": points[i].reshape(5, 2)} for i in order]
