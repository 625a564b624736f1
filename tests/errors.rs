//! Bad inputs: each gives a clear one-line error naming the file, a non-zero exit, no
//! panic, and nothing at the output path.

mod common;

use std::path::Path;

use common::*;

/// Runs segment, expects failure; returns stderr after checking the common promises.
fn fails(input: &Path, model: &Path, out: &Path, extra: &[&str], mentions: &[&str]) -> String {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"segment", &input, &"-m", &model, &"-o", &out, &"-q"];
    for e in extra {
        args.push(e);
    }
    assert_fails_cleanly(&terratile(&args), out, mentions)
}

#[test]
fn missing_input() {
    let dir = tempdir("missing");
    let input = dir.join("nope.tif");
    fails(
        &input,
        &perpixel(),
        &dir.join("o.tif"),
        &[],
        &["nope.tif", "no such file"],
    );
}

#[test]
fn input_that_is_not_a_raster() {
    let dir = tempdir("notraster");
    let input = dir.join("notes.tif");
    std::fs::write(&input, "these are not pixels\n").unwrap();
    fails(
        &input,
        &perpixel(),
        &dir.join("o.tif"),
        &[],
        &["notes.tif", "cannot open this file as a raster"],
    );
}

#[test]
fn truncated_geotiff() {
    let dir = tempdir("truncated");
    // a GeoTIFF whose directory sits at the end: GDAL cannot even open it
    let input = dir.join("cut.tif");
    let bytes = std::fs::read(s2()).unwrap();
    std::fs::write(&input, &bytes[..bytes.len() / 3]).unwrap();
    fails(
        &input,
        &perpixel(),
        &dir.join("o.tif"),
        &["--tile", "256"],
        &["cut.tif", "check the file is complete"],
    );
    // a COG (header first) cut in half: it opens, and reading fails mid-run, after the
    // output has been started; nothing may be left behind
    let cog = dir.join("s2_cog.tif");
    let st = std::process::Command::new("gdal_translate")
        .args(["-q", "-of", "COG"])
        .arg(s2())
        .arg(&cog)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&cog).unwrap();
    let input = dir.join("cut_cog.tif");
    std::fs::write(&input, &bytes[..bytes.len() / 2]).unwrap();
    fails(
        &input,
        &perpixel(),
        &dir.join("o.tif"),
        &["--tile", "256"],
        &["cut_cog.tif", "cannot read band", "truncated"],
    );
}

#[test]
fn too_few_bands_for_the_model() {
    let dir = tempdir("fewbands");
    let input = data("data/s2/s2_B02.tif");
    let err = fails(
        &input,
        &perpixel(),
        &dir.join("o.tif"),
        &[],
        &["s2_B02.tif", "1 band", "4 bands"],
    );
    assert!(err.contains("--bands"), "says how to fix it: {err}");
    // and a band number that does not exist
    fails(
        &s2(),
        &perpixel(),
        &dir.join("o.tif"),
        &["--bands", "1,2,3,9"],
        &["band 9"],
    );
}

#[test]
fn model_that_is_not_onnx() {
    let dir = tempdir("notonnx");
    let model = dir.join("model.onnx");
    std::fs::write(&model, b"\x00\x01 definitely not protobuf \xff\xfe").unwrap();
    fails(
        &s2(),
        &model,
        &dir.join("o.tif"),
        &[],
        &["model.onnx", "not an ONNX model"],
    );
    fails(
        &s2(),
        &dir.join("missing.onnx"),
        &dir.join("o.tif"),
        &[],
        &["missing.onnx", "no such model"],
    );
}

#[test]
fn unwritable_output_folder() {
    let dir = tempdir("unwritable");
    fails(
        &s2(),
        &perpixel(),
        &dir.join("no/such/folder/o.tif"),
        &[],
        &["does not exist"],
    );
    // a "folder" that is a regular file
    let file = dir.join("plain-file");
    std::fs::write(&file, "x").unwrap();
    fails(
        &s2(),
        &perpixel(),
        &file.join("o.tif"),
        &[],
        &["plain-file"],
    );
}

#[test]
fn existing_output_is_kept_when_a_run_fails() {
    let dir = tempdir("keep");
    let out = dir.join("o.tif");
    std::fs::write(&out, "previous result").unwrap();
    let o = terratile(&[
        &"segment",
        &dir.join("nope.tif"),
        &"-m",
        &perpixel(),
        &"-o",
        &out,
    ]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous result");
}

#[test]
fn output_may_not_overwrite_the_input() {
    let dir = tempdir("overwrite");
    let input = dir.join("in.tif");
    std::fs::copy(data("data/s2/s2_B02.tif"), &input).unwrap();
    let o = terratile(&[
        &"segment",
        &input,
        &"-m",
        &perpixel(),
        &"-o",
        &input,
        &"--bands",
        &"1,1,1,1",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is the input raster"));
    assert_eq!(
        std::fs::metadata(&input).unwrap().len(),
        std::fs::metadata(data("data/s2/s2_B02.tif")).unwrap().len()
    );
}

#[test]
fn onnx_runtime_not_found_says_how_to_get_it() {
    let dir = tempdir("noort");
    let out = dir.join("o.tif");
    // an explicit --ort-lib that does not exist is not silently replaced by another library
    let err = fails(
        &s2(),
        &perpixel(),
        &out,
        &["--ort-lib", "/nonexistent/libonnxruntime.so.1.31.1"],
        &["/nonexistent/libonnxruntime.so.1.31.1"],
    );
    assert!(
        err.contains("scripts/setup.sh") && err.contains("onnxruntime==1.31.1"),
        "{err}"
    );
    // ORT_DYLIB_PATH pointing at a file that is not a library
    let bogus = dir.join("libonnxruntime.so");
    std::fs::write(&bogus, "not a shared library").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_terratile"))
        .args([
            "segment".as_ref(),
            s2().as_os_str(),
            "-m".as_ref(),
            perpixel().as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ])
        .env("ORT_DYLIB_PATH", &bogus)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("libonnxruntime.so") && err.contains("ORT_DYLIB_PATH"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn cuda_request_without_a_cuda_build_says_so_and_runs_on_the_cpu() {
    let dir = tempdir("cuda");
    let out = dir.join("o.tif");
    let stderr = segment_ok(
        &s2(),
        &perpixel(),
        &out,
        &["--device", "cuda", "--tile", "512"],
    );
    assert!(
        stderr.contains("CUDA") && stderr.contains("running on the CPU"),
        "{stderr}"
    );
    assert!(out.exists());
}

/// Runs `terratile ARGS`, expects the same promises as `fails` for the output `out`.
fn change_fails(args: &[&dyn AsRef<std::ffi::OsStr>], out: &Path, mentions: &[&str]) -> String {
    assert_fails_cleanly(&terratile(args), out, mentions)
}

#[test]
fn change_of_rasters_that_do_not_overlap() {
    let dir = tempdir("nooverlap");
    let (b, a) = (dir.join("before.tif"), dir.join("after_far.tif"));
    quantile_classes(&landsat_2000(), 4, 3, &b);
    // the 2010 scene moved 100 km east
    let near = dir.join("after.tif");
    quantile_classes(&landsat_2010(), 4, 3, &near);
    tool(
        "gdal_translate",
        &[
            &"-q", &"-a_ullr", &"689035", &"756165", &"692065", &"753135", &near, &a,
        ],
    );
    let out = dir.join("change.tif");
    let db = dir.join("stats.gpkg");
    change_fails(
        &[
            &"change",
            &"--before-classes",
            &b,
            &"--after-classes",
            &a,
            &"-o",
            &out,
            &"--db",
            &db,
        ],
        &out,
        &["after_far.tif", "does not overlap", "before.tif"],
    );
    // the database was created (opened first) and records the run as failed, with its
    // error line and no figures
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (runs, status, error): (i64, String, String) = conn
        .query_row("SELECT count(*), status, error FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((runs, status.as_str()), (1, "failed"));
    assert!(error.contains("does not overlap"), "{error}");
    let figures: i64 = conn
        .query_row("SELECT count(*) FROM class_areas", [], |r| r.get(0))
        .unwrap();
    assert_eq!(figures, 0);
    // imagery of a place that does not overlap, through the model: the same error, and
    // the temporary class maps are removed
    let far_img = dir.join("lt5_far.tif");
    tool(
        "gdal_translate",
        &[
            &"-q",
            &"-a_ullr",
            &"689035",
            &"756165",
            &"692065",
            &"753135",
            &landsat_2010(),
            &far_img,
        ],
    );
    change_fails(
        &[
            &"change",
            &landsat_2000(),
            &far_img,
            &"-m",
            &perpixel(),
            &"--bands",
            &"1,2,3,4",
            &"-o",
            &out,
            &"-q",
        ],
        &out,
        &["lt5_far.tif", "does not overlap"],
    );
}

#[test]
fn change_without_a_model_or_classes() {
    let dir = tempdir("nomodel");
    let out = dir.join("change.tif");
    change_fails(
        &[&"change", &landsat_2000(), &landsat_2010(), &"-o", &out],
        &out,
        &["lt05_2000.tif", "-m MODEL.onnx", "--before-classes"],
    );
    change_fails(
        &[
            &"change",
            &"--before-classes",
            &dir.join("missing.tif"),
            &"--after-classes",
            &landsat_2010(),
            &"-o",
            &out,
        ],
        &out,
        &["missing.tif", "no such file"],
    );
    // imagery (not a class map) passed as classes: values beyond 254 are refused
    change_fails(
        &[
            &"change",
            &"--before-classes",
            &s2(),
            &"--after-classes",
            &s2(),
            &"-o",
            &out,
        ],
        &out,
        &["s2_b02_b03_b04_b08.tif", "class"],
    );
}

#[test]
fn change_into_a_missing_folder_names_the_output_before_segmenting() {
    let dir = tempdir("change-nofolder");
    let out = dir.join("no/such/change.tif");
    let model = repo("models/landcover-nc7/model.onnx");
    change_fails(
        &[
            &"change",
            &landsat_2000(),
            &landsat_2010(),
            &"-m",
            &model,
            &"-o",
            &out,
        ],
        &out,
        &["no/such/change.tif", "does not exist"],
    );
}
