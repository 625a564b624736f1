#!/usr/bin/env python3
"""Checks the committed Hugging Face test models without torch: sha256 of every file
against references.json, then each ONNX model run by ONNX Runtime on NAME.input.tif and
decoded in numpy (bilinear resize with align_corners=False written out, softmax, or the
mask-classification sum) against NAME.reference.tif. Needs numpy, onnxruntime, osgeo.gdal.

    python check.py            # prints one line per model, exits 1 on a mismatch
"""

import hashlib
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from osgeo import gdal

gdal.UseExceptions()
HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-4


def resize_axis(a, axis, out):
    """Bilinear resize along one axis, torch's align_corners=False (no antialias): source
    coordinate (i + 0.5) * in / out - 0.5, clamped below at 0."""
    n = a.shape[axis]
    src = np.maximum((np.arange(out) + 0.5) * (n / out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (src - i0).astype(np.float32)
    shape = [1] * a.ndim
    shape[axis] = out
    w = w.reshape(shape)
    return np.take(a, i0, axis=axis) * (1 - w) + np.take(a, i1, axis=axis) * w


def resize(a, h, w):
    """[..., H, W] -> [..., h, w]."""
    return resize_axis(resize_axis(a, a.ndim - 2, h), a.ndim - 1, w)


def softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def main():
    with open(os.path.join(HERE, "references.json")) as f:
        refs = json.load(f)
    failed = False
    for name, m in refs["models"].items():
        # the model's files, and those of its whole-image twin (Mask2Former at 768)
        for entry in [m] + ([m["whole_image_twin"]] if "whole_image_twin" in m else []):
            for key, file in entry["files"].items():
                with open(os.path.join(HERE, file), "rb") as f:
                    if hashlib.sha256(f.read()).hexdigest() != entry["sha256"][key]:
                        print(f"{name}: {file} does not match its sha256 in references.json")
                        failed = True
        x = gdal.Open(os.path.join(HERE, m["files"]["input"])).ReadAsArray().astype(np.float32)
        ref = gdal.Open(os.path.join(HERE, m["files"]["reference"])).ReadAsArray()
        labels = gdal.Open(os.path.join(HERE, m["files"]["reference_labels"])).ReadAsArray()
        sess = ort.InferenceSession(os.path.join(HERE, m["files"]["onnx"]), providers=["CPUExecutionProvider"])
        outs = sess.run(m["output_names"], {m["input_name"]: x[None]})
        h, w = x.shape[1:]
        if m["output_kind"] == "mask_classification":
            classes, masks = outs
            masks = resize(masks[0], h, w)
            p_class = softmax(classes[0], axis=-1)[:, :-1]
            probs = np.einsum("qc,qhw->chw", p_class, 1 / (1 + np.exp(-masks)))
        else:
            probs = softmax(resize(outs[0][0], h, w), axis=0)
        diff = float(np.abs(probs - ref).max())
        agree = float((probs.argmax(axis=0) == labels).mean())
        ok = diff <= TOLERANCE
        failed |= not ok
        print(
            f"{name}: outputs {[list(o.shape) for o in outs]}, numpy decoding vs reference max abs "
            f"diff {diff:.3g} ({'ok' if ok else 'FAIL'}, tolerance {TOLERANCE}), argmax = "
            f"reference labels at {100 * agree:.3f} % of pixels"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
