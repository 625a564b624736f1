#!/usr/bin/env python3
"""Prepare the ukis-csmask 4-band L1C cloud/shadow model for terratile.

Run with the setup venv's python (needs `onnx` and the standard library only):

    prepare_csmask.py MODEL.onnx PACKAGE.json OUT_DIR

Writes into OUT_DIR:
  * <stem>.onnx.json          sidecar (schemas/model-sidecar.schema.json) built from the
                              package's own json (mean/std, band names, target size)
  * <stem>_dynamic.onnx       the same network with input dims N, H, W symbolic and the
                              (wrong, partly fixed) output/value_info shapes cleared, so ONNX
                              Runtime accepts any H/W that is a multiple of 32
  * <stem>_dynamic.onnx.json  identical sidecar

Every file is written to a temporary name in OUT_DIR and renamed into place.
"""
import json
import os
import sys

import onnx

CLASS_NAMES = ["clear", "cloud", "shadow"]
CLASS_COLORS = ["#3a7d44", "#f0f0f0", "#404060"]


def write_atomic(path, data):
    tmp = path + ".tmp"
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as f:
        f.write(data)
    os.replace(tmp, path)


def build_sidecar(pkg, model_name):
    data = pkg["data"]
    stats = data["dataset_statistics"]
    mean, std = stats["img"][0], stats["img"][1]
    bands = stats["band_names"]
    if not (len(mean) == len(std) == len(bands) == data["in_channels"]):
        raise SystemExit("prepare_csmask.py: error: inconsistent band count in package json")
    if data["classes"] != len(CLASS_NAMES):
        raise SystemExit("prepare_csmask.py: error: expected 3 classes in package json")
    tile = int(data["target_size"][0])
    version = pkg.get("model", {}).get("version", "")
    return {
        "bands": bands,
        "band_indices": list(range(1, len(bands) + 1)),
        "input_scale": 0.0001,
        "input_offset": 0.0,
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        "class_names": CLASS_NAMES,
        "class_colors": CLASS_COLORS,
        "output_kind": "logits",
        "tile_size": tile,
        "tile_overlap_px": 64,
        # ukis-csmask's README: best "resampled to approximately 30 m spatial resolution"
        "resolution_m": 30.0,
        "description": (
            "UKIS csmask cloud and cloud-shadow segmentation, U-Net with EfficientNet-B4 "
            f"encoder, Sentinel-2 L1C {'/'.join(bands)} reflectance (DN/10000), "
            f"model {version or model_name}"
        ),
        "source": f"PyPI ukis-csmask==1.0.0, ukis_csmask/{model_name}",
        "license": "Apache-2.0",
    }


def make_dynamic(model):
    g = model.graph
    if len(g.input) != 1 or len(g.output) != 1:
        raise SystemExit("prepare_csmask.py: error: expected one graph input and one output")
    inp = g.input[0].type.tensor_type.shape
    if len(inp.dim) != 4:
        raise SystemExit("prepare_csmask.py: error: expected a 4-D NCHW input")
    for i, name in ((0, "N"), (2, "H"), (3, "W")):
        inp.dim[i].Clear()
        inp.dim[i].dim_param = name
    out = g.output[0].type.tensor_type.shape
    n_classes = out.dim[1].dim_value if len(out.dim) == 4 and out.dim[1].HasField("dim_value") else 0
    out.Clear()
    for name in ("N", None, "H", "W"):
        d = out.dim.add()
        if name is None:
            if n_classes:
                d.dim_value = n_classes
            else:
                d.dim_param = "C"
        else:
            d.dim_param = name
    # Intermediate shapes were recorded for 256x256: drop them, ONNX Runtime re-infers.
    del g.value_info[:]
    onnx.checker.check_model(model)
    return model


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: prepare_csmask.py MODEL.onnx PACKAGE.json OUT_DIR", file=sys.stderr)
        return 2
    model_path, json_path, out_dir = argv[1:]
    with open(json_path) as f:
        pkg = json.load(f)
    model_name = os.path.basename(model_path)
    stem = model_name[:-len(".onnx")] if model_name.endswith(".onnx") else model_name
    sidecar = json.dumps(build_sidecar(pkg, model_name), indent=2) + "\n"
    os.makedirs(out_dir, exist_ok=True)

    write_atomic(os.path.join(out_dir, stem + ".onnx.json"), sidecar)

    model = onnx.load(model_path)
    model = make_dynamic(model)
    write_atomic(os.path.join(out_dir, stem + "_dynamic.onnx"), model.SerializeToString())
    write_atomic(os.path.join(out_dir, stem + "_dynamic.onnx.json"), sidecar)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
