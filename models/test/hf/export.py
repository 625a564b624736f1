#!/usr/bin/env python3
"""Exports small Hugging Face segmentation models (random weights, fixed seed) to ONNX,
with terratile sidecars, a fixed real input tile and reference probabilities computed by
transformers' own post-processing. See README.md in this folder.

    TERRATILE_CACHE=/path/to/.cache python export.py              # all test models here
    python export.py --models segformer                            # some of them
    python export.py --bench-out DIR                               # full-size SegFormer-B0s

Needs torch, transformers, onnx, onnxruntime, numpy (requirements.txt) and osgeo.gdal.
The tests do not run this script: they use the committed files.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import torch
import transformers
from osgeo import gdal
from transformers import (
    ConvNextConfig,
    DPTConfig,
    DPTForSemanticSegmentation,
    DPTImageProcessorPil,
    Mask2FormerConfig,
    Mask2FormerForUniversalSegmentation,
    Mask2FormerImageProcessorPil,
    SegformerConfig,
    SegformerForSemanticSegmentation,
    SegformerImageProcessorPil,
    SwinConfig,
    UperNetConfig,
    UperNetForSemanticSegmentation,
)

gdal.UseExceptions()

SEED = 0
OPSET = 17
TILE = 384
# Top-left pixel (x, y) of the reference tile in the S2 scene: a coastline, about half water.
WINDOW_XY = (768, 576)
SCENE = "data/s2/s2_b02_b03_b04_b08.tif"  # under TERRATILE_CACHE; bands B02, B03, B04, B08
# Mask2Former's whole-image twin (fixed input, like the 384 model): the 768x768 crop of the
# scene at x 512, y 512 that tests/model_families.rs compares tiled with whole-image runs on.
WHOLE = 768
WHOLE_XY = (512, 512)
BANDS = ["blue", "green", "red", "nir"]
NUM_CLASSES = 7
CLASS_NAMES = [f"class_{i}" for i in range(NUM_CLASSES)]
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------- models


class Plain(torch.nn.Module):
    """Returns the named output tensors of a Hugging Face model as a plain tuple."""

    def __init__(self, model, names):
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, pixel_values):
        out = self.model(pixel_values=pixel_values)
        return tuple(out[n] for n in self.names)


class DPTSeg(torch.nn.Module):
    """DPTForSemanticSegmentation.forward (transformers 5.24.0) for logits, except that the
    neck gets the patch grid's height and width, as DPTForDepthEstimation's does: HF's
    semantic forward assumes a square patch grid (it reshapes to sqrt(tokens)). Identical
    to HF's forward on square inputs (checked on the reference tile)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        m = self.model
        outputs = m.dpt(pixel_values, output_hidden_states=True)
        hidden_states = [
            f for i, f in enumerate(outputs.hidden_states[1:]) if i in m.config.backbone_out_indices
        ]
        _, _, height, width = pixel_values.shape
        p = m.config.patch_size
        hidden_states = m.neck(hidden_states, height // p, width // p)
        return (m.head(hidden_states),)


def segformer_small():
    cfg = SegformerConfig(
        num_channels=4,
        num_labels=NUM_CLASSES,
        num_encoder_blocks=4,
        depths=[1, 1, 1, 1],
        hidden_sizes=[16, 32, 64, 128],
        num_attention_heads=[1, 1, 2, 4],
        sr_ratios=[8, 4, 2, 1],
        decoder_hidden_size=64,
    )
    return SegformerForSemanticSegmentation(cfg)


def segformer_b0(num_labels):
    return SegformerForSemanticSegmentation(SegformerConfig(num_channels=4, num_labels=num_labels))


def mask2former_small():
    backbone = SwinConfig(
        num_channels=4,
        embed_dim=16,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 2, 4],
        window_size=4,
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )
    cfg = Mask2FormerConfig(
        backbone_config=backbone,
        num_labels=NUM_CLASSES,
        num_queries=16,
        hidden_dim=32,
        feature_size=32,
        mask_feature_size=32,
        encoder_feedforward_dim=64,
        dim_feedforward=64,
        encoder_layers=1,
        decoder_layers=3,
        num_attention_heads=2,
    )
    return Mask2FormerForUniversalSegmentation(cfg)


def upernet_small():
    backbone = ConvNextConfig(
        num_channels=4,
        hidden_sizes=[16, 32, 64, 128],
        depths=[1, 1, 1, 1],
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )
    # pool_scales [1] only: the ONNX exporter bakes adaptive pooling to 2, 3, 6 cells into
    # fixed-kernel AvgPools for the traced size (wrong at other sizes); 1 cell is global.
    cfg = UperNetConfig(
        backbone_config=backbone,
        num_labels=NUM_CLASSES,
        hidden_size=32,
        pool_scales=[1],
        use_auxiliary_head=False,
    )
    return UperNetForSemanticSegmentation(cfg)


def dpt_small():
    cfg = DPTConfig(
        num_channels=4,
        num_labels=NUM_CLASSES,
        image_size=TILE,
        patch_size=16,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[16, 32, 64, 64],
        fusion_hidden_size=32,
        use_auxiliary_head=False,
        # HF's default 0.02 shrinks the activations through the neck and fusion stages to
        # about 1e-8 (logits too small for float32 to compare torch with ONNX Runtime).
        initializer_range=0.1,
    )
    return DPTForSemanticSegmentation(cfg)


# name: how to build it and how to read it
MODELS = {
    "segformer": dict(
        build=segformer_small,
        wrap=lambda m: Plain(m, ["logits"]),
        outputs=["logits"],
        kind="logits",
        stride=4,
        size_multiple=32,
        dynamic_hw=True,
        processor=SegformerImageProcessorPil,
        scale={"decode_head.classifier": 300.0},
        about="SegformerForSemanticSegmentation, reduced MiT (4 stages, depths 1,1,1,1, "
        "hidden sizes 16,32,64,128, decoder 64)",
    ),
    "mask2former": dict(
        build=mask2former_small,
        wrap=lambda m: Plain(m, ["class_queries_logits", "masks_queries_logits"]),
        outputs=["class_queries_logits", "masks_queries_logits"],
        kind="mask_classification",
        stride=4,
        size_multiple=32,
        dynamic_hw=False,
        processor=Mask2FormerImageProcessorPil,
        # also exported at WHOLE x WHOLE (same weights): the whole-image pass of the
        # tiled-vs-whole test, which the 384 model cannot make
        whole_image_twin=True,
        scale={
            "class_predictor": 30.0,
            "model.transformer_module.decoder.mask_predictor.mask_embedder.2.0": 30.0,
        },
        about="Mask2FormerForUniversalSegmentation, tiny Swin backbone (embed 16, depths "
        "1,1,1,1, window 4), 16 queries, hidden 32, 1 pixel-decoder layer, 3 decoder layers",
    ),
    "upernet": dict(
        build=upernet_small,
        wrap=lambda m: Plain(m, ["logits"]),
        outputs=["logits"],
        kind="logits",
        stride=1,
        size_multiple=32,
        dynamic_hw=True,
        processor=SegformerImageProcessorPil,
        scale={"decode_head.classifier": 100.0},
        about="UperNetForSemanticSegmentation, tiny ConvNeXt backbone (depths 1,1,1,1, "
        "hidden sizes 16,32,64,128), hidden 32, pool scales [1]; HF resizes the logits to "
        "the input inside the model",
    ),
    "dpt": dict(
        build=dpt_small,
        wrap=DPTSeg,
        outputs=["logits"],
        kind="logits",
        stride=1,
        size_multiple=16,
        dynamic_hw=True,
        processor=DPTImageProcessorPil,
        scale={"head.head.4": 3.0},
        about="DPTForSemanticSegmentation, small ViT (patch 16, hidden 32, 4 layers, 2 "
        "heads), neck 16,32,64,64, fusion 32, initializer_range 0.1",
    ),
}


# ----------------------------------------------------------------------------- rasters


def read_tile(cache, xy=WINDOW_XY, size=TILE):
    path = os.path.join(cache, SCENE)
    ds = gdal.Open(path)
    x, y = xy
    dn = ds.ReadAsArray(x, y, size, size).astype(np.float64)
    gt = list(ds.GetGeoTransform())
    gt[0] += x * gt[1] + y * gt[2]
    gt[3] += x * gt[4] + y * gt[5]
    return (dn / 10000.0).astype(np.float32), tuple(gt), ds.GetProjection()


def write_tif(path, arr, gt, proj, descriptions=None):
    """Writes a [B,H,W] array as a DEFLATE GeoTIFF (deterministic bytes)."""
    dtype = {np.dtype("float32"): gdal.GDT_Float32, np.dtype("uint8"): gdal.GDT_Byte}[arr.dtype]
    predictor = "3" if arr.dtype == np.float32 else "2"
    drv = gdal.GetDriverByName("GTiff")
    tmp = path + ".tmp.tif"
    b, h, w = arr.shape
    ds = drv.Create(
        tmp, w, h, b, dtype, ["COMPRESS=DEFLATE", "ZLEVEL=9", f"PREDICTOR={predictor}", "INTERLEAVE=BAND"]
    )
    ds.SetGeoTransform(gt)
    ds.SetProjection(proj)
    for i in range(b):
        band = ds.GetRasterBand(i + 1)
        band.WriteArray(arr[i])
        if descriptions:
            band.SetDescription(descriptions[i])
    ds.FlushCache()
    ds = None
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- export


def export_onnx(wrapped, path, outputs, dynamic_hw, example):
    axes = {"pixel_values": {0: "N", 2: "H", 3: "W"} if dynamic_hw else {0: "N"}}
    for name in outputs:
        if name == "class_queries_logits":
            axes[name] = {0: "N"}
        else:
            axes[name] = {0: "N", 2: "h", 3: "w"} if dynamic_hw else {0: "N"}
    tmp = path + ".tmp"
    torch.onnx.export(
        wrapped,
        (example,),
        tmp,
        opset_version=OPSET,
        dynamo=False,
        input_names=["pixel_values"],
        output_names=outputs,
        dynamic_axes=axes,
        do_constant_folding=True,
    )
    os.replace(tmp, path)


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def max_diff(sess, wrapped, x, outputs):
    got = sess.run(outputs, {"pixel_values": x.numpy()})
    with torch.no_grad():
        want = wrapped(x)
    return max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want)), got


def scale_layers(spec, model):
    """Multiplies the weights and bias of the last layers named in spec["scale"]: with HF's
    default init (std 0.02) the logits differ by a few thousandths, so every probability is
    1/7 +- 0.002 (and every Mask2Former mask is a flat 0.5) and a test tolerance of 1e-4
    would be loose; scaled, the logits differ by a few units."""
    with torch.no_grad():
        for name, factor in spec.get("scale", {}).items():
            layer = model.get_submodule(name)
            layer.weight.mul_(factor)
            if getattr(layer, "bias", None) is not None:
                layer.bias.mul_(factor)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def probs_from(kind, outs):
    """The reference computation on raw outputs (torch tensors, batch 1) -> [K,TILE,TILE]."""
    if kind == "mask_classification":
        classes, masks = outs
        masks = torch.nn.functional.interpolate(masks, size=(TILE, TILE), mode="bilinear", align_corners=False)
        return torch.einsum("bqc,bqhw->bchw", classes.softmax(dim=-1)[..., :-1], masks.sigmoid())[0]
    (logits,) = outs
    logits = torch.nn.functional.interpolate(logits, size=(TILE, TILE), mode="bilinear", align_corners=False)
    return logits[0].softmax(dim=0)


def reference_probs(name, spec, model, x):
    """Per-class probabilities [K,TILE,TILE] by transformers' own post-processing, and
    the check of its argmax against the processor's post_process_semantic_segmentation."""
    with torch.no_grad():
        out = model(pixel_values=x)
    processor = spec["processor"]()
    hf = processor.post_process_semantic_segmentation(
        out, target_sizes=[(TILE, TILE)], return_segmentation_scores=True
    )[0]
    if spec["kind"] == "mask_classification":
        # post_process_semantic_segmentation's computation before the argmax.
        masks = torch.nn.functional.interpolate(
            out.masks_queries_logits, size=(TILE, TILE), mode="bilinear", align_corners=False
        )
        classes = out.class_queries_logits.softmax(dim=-1)[..., :-1]
        probs = torch.einsum("bqc,bqhw->bchw", classes, masks.sigmoid())[0]
        assert float((probs - hf.segmentation_scores).abs().max()) == 0.0, name
    else:
        logits = torch.nn.functional.interpolate(
            out.logits, size=(TILE, TILE), mode="bilinear", align_corners=False
        )[0]
        assert float((logits - hf.segmentation_scores).abs().max()) == 0.0, name
        probs = logits.softmax(dim=0)
    # HF's labels (argmax of its scores); the argmax of the probabilities may differ only
    # where the top two probabilities round to the same float32.
    labels = hf.segmentation
    differ = probs.argmax(dim=0) != labels
    top = probs.gather(0, labels[None])[0]
    assert bool((top[differ] == probs.max(dim=0).values[differ]).all()), f"{name}: argmax differs"
    print(f"{name}: argmax of the probabilities equals HF's labels but at {int(differ.sum())} float32 ties")
    # Rounded to a multiple of 2**-20 (error < 5e-7, far below the tests' 1e-4): the low
    # mantissa bits are noise that DEFLATE cannot compress.
    probs = np.round(probs.numpy().astype(np.float64) * 2.0**20) / 2.0**20
    return out, probs.astype(np.float32), labels.numpy().astype(np.uint8)


def sidecar(name, spec, param_count, tile=TILE, about=None):
    side = {
        "bands": BANDS,
        "band_indices": [1, 2, 3, 4],
        "input_scale": 1.0,
        "input_offset": 0.0,
        "class_names": CLASS_NAMES,
        "class_colors": CLASS_COLORS,
        "output_kind": spec["kind"],
    }
    if len(spec["outputs"]) == 1:
        side["output_name"] = spec["outputs"][0]
    else:
        # Mask classification reads both; output_name names the mask logits (the spatial one).
        side["output_name"] = "masks_queries_logits"
    side["output_stride"] = spec["stride"]
    side["size_multiple"] = spec["size_multiple"]
    if not spec["dynamic_hw"]:
        side["tile_size"] = tile
    side["resolution_m"] = 10.0
    side["description"] = (
        f"{about or spec['about']}; random weights (torch.manual_seed({SEED}), HF init, then "
        + ", ".join(f"{k} x{v:g}" for k, v in spec.get("scale", {}).items())
        + f"), {param_count} parameters, "
        f"{NUM_CLASSES} meaningless classes. Input: Sentinel-2 reflectance (DN/10000) blue, "
        f"green, red, nir as Float32, fed as is."
    )
    side["source"] = (
        f"generated by models/test/hf/export.py (transformers {transformers.__version__}, "
        f"torch {torch.__version__.split('+')[0]})"
    )
    side["license"] = "MIT OR Apache-2.0"
    return side


def export_test_model(name, out_dir, tile, gt, proj, cache):
    spec = MODELS[name]
    torch.manual_seed(SEED)
    model = spec["build"]().eval()
    scale_layers(spec, model)
    wrapped = spec["wrap"](model).eval()
    params = sum(p.numel() for p in model.parameters())
    x = torch.from_numpy(tile[None])
    onnx_path = os.path.join(out_dir, f"{name}.onnx")
    export_onnx(wrapped, onnx_path, spec["outputs"], spec["dynamic_hw"], x)
    sess = session(onnx_path)
    diff, got = max_diff(sess, wrapped, x, spec["outputs"])
    diffs = {"1x4x384x384": diff}
    if spec["dynamic_hw"]:
        # The dynamic axes must be honest: another batch and a non-square size.
        g = torch.Generator().manual_seed(SEED)
        other = torch.rand(2, 4, 256, 320, generator=g) * 0.3
        diffs["2x4x256x320"] = max_diff(sess, wrapped, other, spec["outputs"])[0]
    print(f"{name}: {params} parameters, {os.path.getsize(onnx_path)} bytes, torch vs ORT max abs diff {diffs}")

    out, probs, labels = reference_probs(name, spec, model, x)
    ort_probs = probs_from(spec["kind"], [torch.from_numpy(a) for a in got]).numpy()
    ort_prob_diff = float(np.abs(ort_probs - probs).max())
    print(f"{name}: per-class probabilities from ONNX Runtime's outputs vs the reference: max abs diff {ort_prob_diff:.3g}")
    if name == "dpt":
        with torch.no_grad():
            d = float((wrapped(x)[0] - out.logits).abs().max())
        assert d == 0.0, f"dpt wrapper differs from HF's forward by {d}"
    shapes = {n: list(a.shape) for n, a in zip(spec["outputs"], got)}
    for n, a in shapes.items():
        if n != "class_queries_logits":
            assert a[2] * spec["stride"] == TILE and a[3] * spec["stride"] == TILE, (name, a)

    files = {
        "onnx": f"{name}.onnx",
        "sidecar": f"{name}.onnx.json",
        "input": f"{name}.input.tif",
        "reference": f"{name}.reference.tif",
        "reference_labels": f"{name}.reference_labels.tif",
    }
    with open(os.path.join(out_dir, files["sidecar"]), "w") as f:
        json.dump(sidecar(name, spec, params), f, indent=2)
        f.write("\n")
    write_tif(os.path.join(out_dir, files["input"]), tile, gt, proj, BANDS)
    write_tif(os.path.join(out_dir, files["reference"]), probs, gt, proj, CLASS_NAMES)
    write_tif(os.path.join(out_dir, files["reference_labels"]), labels[None], gt, proj)
    shares = np.bincount(labels.ravel(), minlength=NUM_CLASSES) / labels.size
    print(f"{name}: reference class shares {np.round(shares, 3).tolist()}, "
          f"probability range {probs.min():.4f}..{probs.max():.4f}")
    twin = None
    if spec.get("whole_image_twin"):
        # after everything above: the 384 model's files do not depend on it
        twin = export_whole_image_twin(name, spec, wrapped, params, out_dir, cache)
    entry = {
        "files": files,
        "sha256": {k: sha256(os.path.join(out_dir, v)) for k, v in files.items()},
        "architecture": spec["about"],
        "input_name": "pixel_values",
        "input_shape": [1, 4, TILE, TILE],
        "output_names": spec["outputs"],
        "output_shapes": shapes,
        "dynamic_axes": "N, H, W" if spec["dynamic_hw"] else "N",
        "output_kind": spec["kind"],
        "output_stride": spec["stride"],
        "size_multiple": spec["size_multiple"],
        "parameters": params,
        "scaled_layers": spec.get("scale", {}),
        "onnx_bytes": os.path.getsize(onnx_path),
        "torch_vs_onnxruntime_max_abs_diff": diffs,
        "onnxruntime_probabilities_vs_reference_max_abs_diff": ort_prob_diff,
        "reference": "per-class probabilities [7,384,384]: "
        + (
            "masks_queries_logits resized to 384x384 (bilinear, align_corners=False), "
            "softmax(class_queries_logits)[..., :-1] x sigmoid(masks), summed over queries "
            "(Mask2FormerImageProcessor.post_process_semantic_segmentation before its argmax)"
            if spec["kind"] == "mask_classification"
            else "logits resized to 384x384 (bilinear, align_corners=False), then softmax over "
            "classes (post_process_semantic_segmentation's resize; its argmax equals "
            "reference_labels)"
        )
        + "; rounded to a multiple of 2**-20",
        "reference_class_shares": [round(float(s), 4) for s in shares],
    }
    if twin:
        entry["whole_image_twin"] = twin
    return entry


def export_whole_image_twin(name, spec, wrapped, params, out_dir, cache):
    """The same model instance (same weights) exported with a fixed WHOLE x WHOLE input:
    NAME_WHOLE.onnx and its sidecar, for tests/model_families.rs's whole-image pass over
    the WHOLE x WHOLE crop at WHOLE_XY (a fixed-size model cannot take it otherwise).
    Checked against torch on that crop and on random input."""
    crop, _, _ = read_tile(cache, WHOLE_XY, WHOLE)
    x = torch.from_numpy(crop[None])
    base = f"{name}_{WHOLE}"
    onnx_path = os.path.join(out_dir, f"{base}.onnx")
    export_onnx(wrapped, onnx_path, spec["outputs"], False, x)
    sess = session(onnx_path)
    diff, got = max_diff(sess, wrapped, x, spec["outputs"])
    g = torch.Generator().manual_seed(SEED)
    other = torch.rand(2, 4, WHOLE, WHOLE, generator=g) * 0.3
    diffs = {
        f"1x4x{WHOLE}x{WHOLE} (scene crop)": diff,
        f"2x4x{WHOLE}x{WHOLE} (random)": max_diff(sess, wrapped, other, spec["outputs"])[0],
    }
    shapes = {n: list(a.shape) for n, a in zip(spec["outputs"], got)}
    about = (
        f"Whole-image twin of {name}.onnx (the same weights, exported with a fixed "
        f"{WHOLE}x{WHOLE} input) for the tiled-vs-whole-image test in tests/model_families.rs: "
        f"{spec['about']}"
    )
    side_path = onnx_path + ".json"
    with open(side_path, "w") as f:
        json.dump(sidecar(name, spec, params, tile=WHOLE, about=about), f, indent=2)
        f.write("\n")
    print(f"{base}: {os.path.getsize(onnx_path)} bytes, outputs {shapes}, torch vs ORT max abs diff {diffs}")
    return {
        "files": {"onnx": f"{base}.onnx", "sidecar": f"{base}.onnx.json"},
        "sha256": {"onnx": sha256(onnx_path), "sidecar": sha256(side_path)},
        "input_shape": [1, 4, WHOLE, WHOLE],
        "output_shapes": shapes,
        "onnx_bytes": os.path.getsize(onnx_path),
        "torch_vs_onnxruntime_max_abs_diff": diffs,
        "checked_on": f"window x {WHOLE_XY[0]}, y {WHOLE_XY[1]}, {WHOLE}x{WHOLE} of {SCENE} "
        "(reflectance), and random input",
    }


def export_bench(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for k in (NUM_CLASSES, 150):
        torch.manual_seed(SEED)
        model = segformer_b0(k).eval()
        wrapped = Plain(model, ["logits"]).eval()
        name = f"segformer_b0_{k}"
        path = os.path.join(out_dir, f"{name}.onnx")
        x = torch.rand(1, 4, 512, 512, generator=torch.Generator().manual_seed(SEED)) * 0.3
        export_onnx(wrapped, path, ["logits"], True, x)
        diff = max_diff(session(path), wrapped, x, ["logits"])[0]
        side = {
            "bands": BANDS,
            "band_indices": [1, 2, 3, 4],
            "input_scale": 0.0001,
            "input_offset": 0.0,
            "class_names": [f"class_{i}" for i in range(k)],
            "output_kind": "logits",
            "output_name": "logits",
            "output_stride": 4,
            "size_multiple": 32,
            "resolution_m": 10.0,
            "description": f"SegFormer-B0 (SegformerConfig(num_channels=4, num_labels={k})), random "
            f"weights (torch.manual_seed({SEED})); for scripts/bench.sh. Input: Sentinel-2 L1C DN.",
            "source": f"generated by models/test/hf/export.py --bench-out (transformers {transformers.__version__})",
            "license": "MIT OR Apache-2.0",
        }
        with open(path + ".json", "w") as f:
            json.dump(side, f, indent=2)
            f.write("\n")
        print(f"{path}: {os.path.getsize(path)} bytes, torch vs ORT max abs diff {diff:.3g} at 1x4x512x512")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ",".join(MODELS))
    ap.add_argument("--out", default=HERE, help="output folder (default: this script's folder)")
    ap.add_argument("--cache", default=os.environ.get("TERRATILE_CACHE", os.path.join(HERE, "../../../.cache")))
    ap.add_argument("--bench-out", help="write only the full-size SegFormer-B0 (7 and 150 classes) here")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.bench_out:
        export_bench(args.bench_out)
        return
    tile, gt, proj = read_tile(args.cache)
    refs_path = os.path.join(args.out, "references.json")
    refs = {"models": {}}
    if os.path.exists(refs_path):
        with open(refs_path) as f:
            refs = json.load(f)
    refs.update(
        {
            "seed": SEED,
            "opset": OPSET,
            "versions": {
                "transformers": transformers.__version__,
                "torch": torch.__version__.split("+")[0],
                "onnxruntime": ort.__version__,
            },
            "input_tile": {
                "scene": SCENE,
                "window_xoff_yoff_xsize_ysize": [*WINDOW_XY, TILE, TILE],
                "values": "reflectance = DN / 10000, Float32, bands blue, green, red, nir",
                "geotransform": list(gt),
            },
        }
    )
    for name in args.models.split(","):
        if name not in MODELS:
            sys.exit(f"export.py: unknown model '{name}'; choose from {', '.join(MODELS)}")
        refs["models"][name] = export_test_model(name, args.out, tile, gt, proj, args.cache)
    refs["models"] = {k: refs["models"][k] for k in MODELS if k in refs["models"]}
    with open(refs_path, "w") as f:
        json.dump(refs, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
