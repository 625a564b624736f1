"""Spectral indices and neighbourhood statistics computed INSIDE the ONNX graph, so users
still pass the six raw (standardised) bands. Used by train_gbm.py (features for a per-pixel
tree ensemble) and train.py --indices (extra input channels of the U-Net).

The same ONNX nodes compute the training features (run through ONNX Runtime on the
scene) and the shipped model's features: there is no second implementation to drift.

Input `x` [N,6,H,W]: (raw - mean) / std per band, 0 for nodata (terratile's contract).
raw = x * std + mean (nodata -> the band mean). Indices (bands B1,B2,B3,B4,B5,B7 =
r0..r5):

    NDVI  = (B4 - B3) / (B4 + B3)      NDWI  = (B2 - B4) / (B2 + B4)
    NDBI  = (B5 - B4) / (B5 + B4)      MNDWI = (B2 - B5) / (B2 + B5)
    NBR   = (B4 - B7) / (B4 + B7)      ND57  = (B5 - B7) / (B5 + B7)

(denominator + 1 so a zero/zero pixel gives 0). `base` = the 6 standardised bands and the
6 indices (12 channels). Context features: AveragePool (stride 1, same padding,
count_include_pad=0, computed as separable box sums) of `base` over k x k windows for each k in `windows`, and the local
standard deviation over `std_window`.
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

INDEX_NAMES = ["NDVI", "NDWI", "NDBI", "MNDWI", "NBR", "ND57"]
# (a, b) -> (ra - rb) / (ra + rb + 1); 0-based positions in B1,B2,B3,B4,B5,B7
INDEX_PAIRS = [(3, 2), (1, 3), (4, 3), (1, 4), (3, 5), (4, 5)]


class Builder:
    """Accumulates ONNX nodes and initialisers with unique names."""

    def __init__(self, prefix="f"):
        self.nodes, self.inits, self.k, self.prefix = [], [], 0, prefix

    def name(self, p):
        self.k += 1
        return f"{self.prefix}_{p}_{self.k}"

    def const(self, arr, p="c"):
        n = self.name(p)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def op(self, op_type, inputs, p=None, **attrs):
        out = self.name(p or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def base_channels(b, x, mean, std):
    """x [N,6,H,W] -> [N,12,H,W]: the standardised bands and the 6 indices."""
    m = np.asarray(mean, np.float32).reshape(1, 6, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, 6, 1, 1)
    raw = b.op("Add", [b.op("Mul", [x, b.const(s, "std")]), b.const(m, "mean")], "raw")
    # one Conv computes all numerators (ra - rb) and denominators (ra + rb)
    k = len(INDEX_PAIRS)
    wn = np.zeros((k, 6, 1, 1), np.float32)
    wd = np.zeros((k, 6, 1, 1), np.float32)
    for i, (a, c) in enumerate(INDEX_PAIRS):
        wn[i, a], wn[i, c] = 1, -1
        wd[i, a], wd[i, c] = 1, 1
    num = b.op("Conv", [raw, b.const(wn, "wnum")], "num", kernel_shape=[1, 1])
    den = b.op("Conv", [raw, b.const(wd, "wden"), b.const(np.ones(k, np.float32), "one")], "den",
               kernel_shape=[1, 1])
    # |den| keeps the sign out of the way for odd inputs; DN are >= 0 anyway
    idx = b.op("Div", [num, b.op("Abs", [den])], "idx")
    return b.op("Concat", [x, idx], "base", axis=1)


def box_sum(b, t, k, c):
    """Separable k x k box sum (two depthwise Convs, zero padding): 2k operations a pixel
    instead of AveragePool's k*k."""
    p = k // 2
    h = b.op("Conv", [t, b.const(np.ones((c, 1, 1, k), np.float32), f"boxh{k}")], f"sumh{k}",
             kernel_shape=[1, k], pads=[0, p, 0, p], group=c)
    return b.op("Conv", [h, b.const(np.ones((c, 1, k, 1), np.float32), f"boxv{k}")], f"sum{k}",
                kernel_shape=[k, 1], pads=[p, 0, p, 0], group=c)


def box_mean(b, t, k, c, ones):
    """Mean over the k x k window's pixels inside the raster/tile (= AveragePool with
    count_include_pad=0): box sum / box sum of ones."""
    return b.op("Div", [box_sum(b, t, k, c), box_sum(b, ones, k, 1)], f"avg{k}")


def context_features(b, base, windows=(5, 11, 25), std_window=5, c=12):
    outs = [base]
    # a [N,1,H,W] tensor of ones shaped like the input
    first = b.op("Slice", [base, b.const(np.array([0], np.int64), "s0"), b.const(np.array([1], np.int64), "s1"),
                           b.const(np.array([1], np.int64), "sax")], "first")
    ones = b.op("Add", [b.op("Mul", [first, b.const(np.float32(0), "zero")], "zeros"),
                        b.const(np.float32(1), "onef")], "ones")
    for k in windows:
        outs.append(box_mean(b, base, k, c, ones))
    if std_window:
        m = box_mean(b, base, std_window, c, ones)
        m2 = box_mean(b, b.op("Mul", [base, base]), std_window, c, ones)
        var = b.op("Relu", [b.op("Sub", [m2, b.op("Mul", [m, m])])])
        outs.append(b.op("Sqrt", [var], "std"))
    return b.op("Concat", outs, "feat", axis=1)


def feature_names(windows=(5, 11, 25), std_window=5):
    base = ["B1", "B2", "B3", "B4", "B5", "B7"] + INDEX_NAMES
    names = list(base)
    for k in windows:
        names += [f"mean{k}_{n}" for n in base]
    if std_window:
        names += [f"std{std_window}_{n}" for n in base]
    return names


def feature_model(mean, std, windows=(5, 11, 25), std_window=5, opset=17):
    """A stand-alone ONNX model input [N,6,H,W] -> features [N,K,H,W]."""
    b = Builder()
    f = context_features(b, base_channels(b, "input", mean, std), windows, std_window)
    b.nodes.append(helper.make_node("Identity", [f], ["features"]))
    g = helper.make_graph(b.nodes, "features",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 6, "H", "W"])],
                          [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", "K", "H", "W"])],
                          b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def run_features(x, mean, std, windows=(5, 11, 25), std_window=5):
    """Features [K,H,W] of one scene x [6,H,W] with ONNX Runtime (one thread)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    m = feature_model(mean, std, windows, std_window)
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, {"input": x[None].astype(np.float32)})[0][0]
