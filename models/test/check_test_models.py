#!/usr/bin/env python3
"""Developer check of the test models on the real Sentinel-2 scene (not used by CI).

Needs a python with onnxruntime, numpy and osgeo.gdal, e.g. a venv made with
`/usr/bin/python3 -m venv --system-site-packages V && V/bin/pip install onnxruntime==1.31.1`:

    V/bin/python models/test/check_test_models.py [.cache/data/s2/s2_b02_b03_b04_b08.tif]

Prints the per-class share of argmax over the whole scene for each model (input prepared
as its sidecar says), checks perpixel_ndi against a numpy reference, and checks that the
models accept odd H/W and a batch of 2.
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from osgeo import gdal

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def prepare(raw, sc):
    x = raw * np.float32(sc.get("input_scale", 1.0)) + np.float32(sc.get("input_offset", 0.0))
    if "mean" in sc:
        m = np.asarray(sc["mean"], np.float32)[:, None, None]
        s = np.asarray(sc["std"], np.float32)[:, None, None]
        x = (x - m) / s
    return x[None].astype(np.float32)


def main(argv):
    scene = argv[1] if len(argv) > 1 else os.path.join(
        os.environ.get("TERRATILE_CACHE", os.path.join(REPO, ".cache")), "data/s2/s2_b02_b03_b04_b08.tif")
    gdal.UseExceptions()
    raw = gdal.Open(scene).ReadAsArray().astype(np.float32)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    ok = True
    for name in ("perpixel_ndi.onnx", "small_cnn.onnx"):
        path = os.path.join(HERE, name)
        with open(path + ".json") as f:
            sc = json.load(f)
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        meta = sess.get_modelmeta().custom_metadata_map
        x = prepare(raw, sc)
        y = sess.run(None, {"input": x})[0]
        cls = y[0].argmax(0)
        shares = [float((cls == k).mean() * 100) for k in range(y.shape[1])]
        print(f"{name}: output {y.shape}, metadata {sorted(meta)}")
        print("  shares: " + ", ".join(f"{n} {s:.1f}%" for n, s in zip(sc["class_names"], shares)))
        print("  logit means: " + ", ".join(f"{v:.3f}" for v in y[0].reshape(3, -1).mean(1)))
        if name == "perpixel_ndi.onnx":
            b, g, r, n = raw
            ndvi = (n - r) / (n + r + 1e-6)
            ndwi = (g - n) / (g + n + 1e-6)
            ref = np.stack([np.zeros_like(ndvi), 10 * (ndvi - 0.3), 10 * (ndwi - 0.05)])
            err = float(np.abs(ref - y[0]).max())
            print(f"  max |onnx - numpy| = {err:.2e}")
            ok &= err < 1e-4
        # odd sizes and a batch of 2
        z = sess.run(None, {"input": np.concatenate([x[:, :, :37, :53]] * 2)})[0]
        print(f"  2x4x37x53 -> {z.shape}")
        ok &= z.shape == (2, 3, 37, 53)
        ok &= min(shares) >= (5.0 if name == "perpixel_ndi.onnx" else 10.0)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
