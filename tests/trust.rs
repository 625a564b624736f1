//! Trust on the user's own data (issue 15): no file a run reads is ever overwritten, the
//! database never takes the place of a raster, legends are not mixed silently, failed
//! runs are recorded, and the report and messages read right.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use terratile::store::sha256_file;

/// A one-band raster of the S2 scene (B02) copied into `dir`, and a VRT over it.
fn source_and_vrt(dir: &Path) -> (PathBuf, PathBuf) {
    let src = dir.join("src.tif");
    std::fs::copy(data("data/s2/s2_B02.tif"), &src).unwrap();
    let vrt = dir.join("in.vrt");
    tool("gdalbuildvrt", &[&"-q", &vrt, &src]);
    (src, vrt)
}

/// The promises of a refused run whose output path holds a file the user keeps: exit 1,
/// one line naming each of `mentions`, no panic, no temporary file left.
fn refused(o: &Output, dir: &Path, mentions: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "expected exit 1: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("terratile: error: "), "{err}");
    for m in mentions {
        assert!(err.contains(m), "error should mention {m:?}: {err}");
    }
    let left: Vec<_> = files_in(dir)
        .into_iter()
        .filter(|f| f.contains("terratile-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    err
}

fn segment_args<'a>(
    input: &'a dyn AsRef<std::ffi::OsStr>,
    out: &'a dyn AsRef<std::ffi::OsStr>,
    extra: &'a [&'a dyn AsRef<std::ffi::OsStr>],
) -> Vec<&'a dyn AsRef<std::ffi::OsStr>> {
    static MODEL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let model = MODEL.get_or_init(perpixel);
    let mut a: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"segment", input, &"-m", model, &"-o", out, &"--bands", &"1,1,1,1", &"-q",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn output_may_not_overwrite_a_file_a_vrt_reads() {
    let dir = tempdir("trust-vrt");
    let (src, vrt) = source_and_vrt(&dir);
    let sum = sha256_file(&src).unwrap();
    let o = terratile(&segment_args(&vrt, &src, &[]));
    refused(&o, &dir, &["src.tif", "in.vrt", "choose another output"]);
    assert_eq!(sha256_file(&src).unwrap(), sum, "src.tif is unchanged");
    // the VRT still reads its source
    tool("gdalinfo", &[&"-checksum", &vrt]);

    // GDAL's PAM companion of the source (a file the VRT reads too)
    let aux = dir.join("src.tif.aux.xml");
    std::fs::write(
        &aux,
        "<PAMDataset><Metadata><MDI key=\"NOTE\">kept</MDI></Metadata></PAMDataset>\n",
    )
    .unwrap();
    let aux_sum = sha256_file(&aux).unwrap();
    let o = terratile(&segment_args(&vrt, &aux, &[]));
    refused(&o, &dir, &["src.tif.aux.xml", "in.vrt"]);
    assert_eq!(sha256_file(&aux).unwrap(), aux_sum);
    assert_eq!(sha256_file(&src).unwrap(), sum);

    // change: a class map reached through a VRT
    let (b, a) = (dir.join("b.tif"), dir.join("a.tif"));
    quantile_classes(&landsat_2000(), 4, 3, &b);
    quantile_classes(&landsat_2010(), 4, 3, &a);
    let bvrt = dir.join("b.vrt");
    tool("gdalbuildvrt", &[&"-q", &bvrt, &b]);
    let sum = sha256_file(&b).unwrap();
    let o = terratile(&[
        &"change",
        &"--before-classes",
        &bvrt,
        &"--after-classes",
        &a,
        &"-o",
        &b,
        &"-q",
    ]);
    refused(&o, &dir, &["b.tif", "b.vrt"]);
    assert_eq!(sha256_file(&b).unwrap(), sum, "b.tif is unchanged");

    // the model is an input too
    let model = dir.join("copy.onnx");
    std::fs::copy(perpixel(), &model).unwrap();
    let sum = sha256_file(&model).unwrap();
    let o = terratile(&[
        &"segment", &src, &"-m", &model, &"-o", &model, &"--bands", &"1,1,1,1", &"-q",
    ]);
    refused(&o, &dir, &["copy.onnx", "model"]);
    assert_eq!(sha256_file(&model).unwrap(), sum);
}

#[test]
fn db_may_not_be_the_output_or_an_input() {
    let dir = tempdir("trust-db");
    let (src, vrt) = source_and_vrt(&dir);
    // a new output and the same path as --db: refused before any work, nothing written
    let out = dir.join("seg.tif");
    let o = terratile(&segment_args(&src, &out, &[&"--db", &out]));
    assert_fails_cleanly(&o, &out, &["seg.tif", "--db", "-o"]);
    // an existing class map stays as it was
    segment_ok(&src, &perpixel(), &out, &["--bands", "1,1,1,1", "-q"]);
    let sum = sha256_file(&out).unwrap();
    let o = terratile(&segment_args(&src, &out, &[&"--db", &out]));
    refused(&o, &dir, &["seg.tif", "--db"]);
    assert_eq!(sha256_file(&out).unwrap(), sum, "the class map is kept");
    // --db naming an input's file (the VRT's source)
    let sum = sha256_file(&src).unwrap();
    let o = terratile(&segment_args(&vrt, &dir.join("o2.tif"), &[&"--db", &src]));
    refused(&o, &dir, &["src.tif", "in.vrt", "--db"]);
    assert_eq!(sha256_file(&src).unwrap(), sum);
    assert!(!dir.join("o2.tif").exists());

    // change, the same two ways
    let (b, a) = (dir.join("b.tif"), dir.join("a.tif"));
    quantile_classes(&landsat_2000(), 4, 3, &b);
    quantile_classes(&landsat_2010(), 4, 3, &a);
    let c = dir.join("c.tif");
    let o = terratile(&[
        &"change",
        &"--before-classes",
        &b,
        &"--after-classes",
        &a,
        &"-o",
        &c,
        &"--db",
        &c,
        &"-q",
    ]);
    assert_fails_cleanly(&o, &c, &["c.tif", "--db"]);
    let sum = sha256_file(&a).unwrap();
    let o = terratile(&[
        &"change",
        &"--before-classes",
        &b,
        &"--after-classes",
        &a,
        &"-o",
        &c,
        &"--db",
        &a,
        &"-q",
    ]);
    assert_fails_cleanly(&o, &c, &["a.tif", "--db"]);
    assert_eq!(sha256_file(&a).unwrap(), sum);
}

/// Gives band 1 of `path` the category names `names` (stored in its `.aux.xml`).
fn name_classes(path: &Path, names: &[&str]) {
    let ds = gdal::Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
            ..Default::default()
        },
    )
    .unwrap();
    let band = ds.rasterband(1).unwrap();
    let c: Vec<std::ffi::CString> = names
        .iter()
        .map(|n| std::ffi::CString::new(*n).unwrap())
        .collect();
    let mut ptrs: Vec<*mut std::ffi::c_char> = c.iter().map(|s| s.as_ptr() as *mut _).collect();
    ptrs.push(std::ptr::null_mut());
    // SAFETY: a NULL-terminated list of C strings that outlive the call; GDAL copies it.
    let err =
        unsafe { gdal_sys::GDALSetRasterCategoryNames(band.c_rasterband(), ptrs.as_mut_ptr()) };
    assert_eq!(err, gdal_sys::CPLErr::CE_None);
}

fn change_of(b: &Path, a: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"change",
        &"--before-classes",
        &b,
        &"--after-classes",
        &a,
        &"-o",
        &out,
        &"-q",
    ];
    for e in extra {
        args.push(e);
    }
    terratile(&args)
}

#[test]
fn legends_that_differ_are_refused_unless_mapped() {
    let dir = tempdir("trust-legend");
    let (b, a) = (dir.join("named.tif"), dir.join("plain.tif"));
    quantile_classes(&landsat_2000(), 4, 3, &b);
    name_classes(&b, &["clear", "cloud", "shadow"]);
    // AFTER has no names and five values: its classes are not BEFORE's
    let after = quantile_classes(&landsat_2010(), 4, 5, &a);
    let out = dir.join("c.tif");
    let o = change_of(&b, &a, &out, &[]);
    assert_fails_cleanly(&o, &out, &["plain.tif", "named.tif", "--class-map"]);
    // the other way round too
    let o = change_of(&a, &b, &out, &[]);
    assert_fails_cleanly(&o, &out, &["plain.tif", "named.tif", "--class-map"]);
    // both named, differently
    let b2 = dir.join("other_names.tif");
    quantile_classes(&landsat_2010(), 4, 3, &b2);
    name_classes(&b2, &["water", "forest", "city"]);
    let o = change_of(&b, &b2, &out, &[]);
    assert_fails_cleanly(
        &o,
        &out,
        &[
            "other_names.tif",
            "named.tif",
            "water",
            "clear",
            "--class-map",
        ],
    );
    // the same names compare as before
    let b3 = dir.join("same_names.tif");
    quantile_classes(&landsat_2010(), 4, 3, &b3);
    name_classes(&b3, &["clear", "cloud", "shadow"]);
    assert!(change_of(&b, &b3, &out, &[]).status.success());
    std::fs::remove_file(&out).unwrap();

    // --class-map recodes AFTER's five values onto BEFORE's three classes
    let db = dir.join("stats.gpkg");
    let o = change_of(
        &b,
        &a,
        &out,
        &[
            "--class-map",
            "0:0,1:0,2:1,3:2,4:2",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report_json(&db, None);
    let names: Vec<&str> = r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["clear", "cloud", "shadow"]);
    let recoded = [0u64, 0, 1, 2, 2];
    for (k, c) in r["classes"].as_array().unwrap().iter().enumerate() {
        let want = after
            .iter()
            .filter(|&&v| v != 255 && recoded[v as usize] == k as u64)
            .count() as u64;
        let got = c["dates"]["after"]["pixels"].as_u64().unwrap();
        // the comparison grid is the intersection: at most AFTER's own pixels
        assert!(got <= want && got > want / 2, "class {k}: {got} of {want}");
    }
    // the same mapping from a file; a value it does not list is refused by name
    let map = dir.join("map.txt");
    std::fs::write(&map, "# after:before\n0:0\n1:0\n2:1\n3:2\n").unwrap();
    let out2 = dir.join("c2.tif");
    let o = change_of(&b, &a, &out2, &["--class-map", map.to_str().unwrap()]);
    assert_fails_cleanly(&o, &out2, &["plain.tif", "value 4", "--class-map"]);
}

/// (status, error) of every run in a statistics database, in order.
fn runs_of(db: &Path) -> Vec<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare("SELECT status, error FROM runs ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap()
}

#[test]
fn failed_and_interrupted_runs_are_recorded() {
    let dir = tempdir("trust-failed");
    let db = dir.join("stats.gpkg");
    let out = dir.join("o.tif");
    // a run that fails: the new database records it, with the error line
    let notes = dir.join("notes.tif");
    std::fs::write(&notes, "these are not pixels\n").unwrap();
    let o = terratile(&segment_args(&notes, &out, &[&"--db", &db]));
    let err = assert_fails_cleanly(&o, &out, &["notes.tif"]);
    let runs = runs_of(&db);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].0, "failed");
    let logged = runs[0].1.clone().unwrap();
    assert!(
        err.contains(&logged),
        "the error line is logged: {logged:?} in {err:?}"
    );
    // report: no finished run yet
    let r = terratile(&[&"report", &"--db", &db]);
    assert_fails_cleanly(&r, &out, &["stats.gpkg", "no finished runs", "1 failed"]);

    // an interrupted run (Ctrl-C) midway through the U-Net on the whole scene at 10 m:
    // interrupted once its staging file is there, however fast the machine
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_terratile"))
        .arg("segment")
        .arg(s2())
        .arg("-m")
        .arg(csmask())
        .args(["--no-resample", "--threads", "1", "-o"])
        .arg(&out)
        .arg("--db")
        .arg(&db)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !files_in(&dir).iter().any(|f| f.ends_with(".stage.tif")) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        assert!(t.elapsed().as_secs() < 60, "no staging file");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    assert!(!out.exists());
    let runs = runs_of(&db);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].0, "interrupted");
    assert!(runs[1].1.as_deref().unwrap().contains("interrupted"));

    // a finished run; the report shows it (the latest finished), its JSON is valid, and
    // asking for a failed run says how it ended
    let src = dir.join("src.tif");
    std::fs::copy(data("data/s2/s2_B02.tif"), &src).unwrap();
    let o = terratile(&segment_args(&src, &out, &[&"--db", &db]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = terratile(&segment_args(&notes, &dir.join("o2.tif"), &[&"--db", &db]));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(runs_of(&db).len(), 4);
    let r = report_json(&db, None);
    assert_eq!(r["run"]["id"], 3);
    assert_report_schema(&r);
    let r = terratile(&[&"report", &"--db", &db, &"--run", &"1"]);
    assert_fails_cleanly(
        &r,
        &dir.join("none.tif"),
        &["run 1 failed", "notes.tif", "[3]"],
    );
}

/// The lines of the table section that starts with the line `title` (up to a blank line).
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| !l.starts_with(title))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

#[test]
fn report_columns_fit_large_areas_in_any_unit() {
    let dir = tempdir("trust-units");
    // 2000 x 1000 px of the global MODIS land-cover map (0.05 degree pixels, ~30 km2
    // each): areas of billions of hectares
    let modis = data("data/modis/MCD12C1.A2019001.006.2020220162300.tif");
    let crop = dir.join("modis.tif");
    tool(
        "gdal_translate",
        &[
            &"-q", &"-srcwin", &"2000", &"800", &"2000", &"1000", &modis, &crop,
        ],
    );
    let (out, db) = (dir.join("c.tif"), dir.join("stats.gpkg"));
    terratile_ok(&[
        &"change",
        &"--before-classes",
        &crop,
        &"--after-classes",
        &crop,
        &"-o",
        &out,
        &"--db",
        &db,
        &"-q",
    ]);
    let j = report_json(&db, None);
    let largest_m2 = j["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["dates"]["before"]["area_m2"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(largest_m2 / 1e4 > 1e8, "a class of over 10^8 ha");
    for (units, per_m2) in [("ha", 1e-4), ("km2", 1e-6), ("m2", 1.0)] {
        let o = terratile(&[&"report", &"--db", &db, &"--units", &units]);
        assert!(o.status.success());
        let text = String::from_utf8(o.stdout).unwrap();
        for title in ["class areas", "transitions"] {
            let lines = section(&text, title);
            assert!(lines.len() > 2, "{title}:\n{text}");
            let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
            assert!(
                widths.iter().all(|w| *w == widths[0]),
                "{title} columns line up ({units}):\n{text}"
            );
        }
        assert!(text.contains(&format!("before {units}")), "{text}");
        assert!(
            text.contains(&format!("{:.2}", largest_m2 * per_m2)),
            "the largest class in {units}:\n{text}"
        );
    }
}

#[test]
fn rough_edges_hints_plurals_rates_and_segment_reports() {
    let dir = tempdir("trust-rough");
    let one_band = data("data/s2/s2_B02.tif");
    // the --bands hint names as many bands as the model has channels (4)
    let out = dir.join("o.tif");
    let o = terratile(&[
        &"segment",
        &one_band,
        &"-m",
        &perpixel(),
        &"-o",
        &out,
        &"--bands",
        &"blue,green,red,nir",
    ]);
    let err = assert_fails_cleanly(&o, &out, &["s2_B02.tif", "--bands 1,2,3,4)"]);
    assert!(!err.contains("--bands 1,2,3)"), "{err}");

    // inspect: "1 band", not "1 bands"
    let o = terratile(&[
        &"inspect",
        &perpixel(),
        &"--raster",
        &one_band,
        &"--bands",
        &"1,1,1,1",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("1 band,") && !text.contains("1 bands"),
        "{text}"
    );

    // the progress bar (drawn on a terminal: `script` gives the run one) shows its rate
    // to one decimal
    let cmd = format!(
        "{} segment {} -m {} -o {} --tile 64",
        env!("CARGO_BIN_EXE_terratile"),
        s2().display(),
        perpixel().display(),
        dir.join("tty.tif").display()
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("script (util-linux) runs a command on a terminal");
    let tty = String::from_utf8_lossy(&o.stdout).replace('\r', "\n");
    assert!(o.status.success(), "{tty}");
    let rates: Vec<&str> = tty
        .split_whitespace()
        .zip(tty.split_whitespace().skip(1))
        .filter(|(_, unit)| *unit == "tiles/s")
        .map(|(rate, _)| rate)
        .collect();
    assert!(!rates.is_empty(), "a rate in tiles/s is shown:\n{tty}");
    for r in &rates {
        let decimals = r.split('.').nth(1).map_or(0, str::len);
        assert!(
            decimals == 1 && r.parse::<f64>().is_ok(),
            "{r} tiles/s: one decimal"
        );
    }

    // a segment run's report has no change figures, and its JSON follows the schema
    let db = dir.join("stats.gpkg");
    segment_ok(
        &landsat_2000(),
        &perpixel(),
        &dir.join("seg.tif"),
        &["--bands", "1,2,3,4", "--db", db.to_str().unwrap(), "-q"],
    );
    let r = report_json(&db, None);
    assert!(r["changed_px"].is_null(), "{}", r["changed_px"]);
    assert!(r["changed_area_m2"].is_null());
    assert_report_schema(&r);
}

#[test]
fn kept_class_maps_may_not_replace_an_input() {
    let dir = tempdir("keep-classes-input");
    // AFTER's imagery happens to be named as the kept BEFORE class map
    let after = dir.join("before_classes.tif");
    std::fs::copy(landsat_2010(), &after).unwrap();
    let sha = sha256_file(&after).unwrap();
    let out = dir.join("change.tif");
    let o = terratile(&[
        &"change",
        &landsat_2000(),
        &after,
        &"-m",
        &repo("models/landcover-nc7/model.onnx"),
        &"-o",
        &out,
        &"--keep-classes",
        &dir.as_os_str(),
        &"-q",
    ]);
    assert_fails_cleanly(&o, &out, &["before_classes.tif", "input"]);
    assert_eq!(
        sha256_file(&after).unwrap(),
        sha,
        "AFTER's imagery is unchanged"
    );
}
