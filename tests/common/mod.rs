//! Shared helpers for the integration tests: where the real data lives (fetched by
//! scripts/setup.sh), running the binary, and reading rasters back with GDAL.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gdal::Dataset;

/// The project's cache (TERRATILE_CACHE or .cache), where setup.sh puts real data.
pub fn cache() -> PathBuf {
    match std::env::var_os("TERRATILE_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache"),
    }
}

/// A file from the cache; fails the test with the fix when setup has not run.
pub fn data(rel: &str) -> PathBuf {
    let p = cache().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/setup.sh` (or `make test`) first",
        p.display()
    );
    p
}

/// The top-left 1920x1920 of the S2 scene (made once per test binary): square, so that
/// one tile of 1920 px is exactly one pass of a model over the whole image.
pub fn s2_square() -> PathBuf {
    static CROP: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CROP.get_or_init(|| {
        let dir = tempdir("s2-square");
        let out = dir.join("s2_1920.tif");
        crop(&s2(), &out, 0, 0, 1920, 1920);
        out
    })
    .clone()
}

pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn s2() -> PathBuf {
    data("data/s2/s2_b02_b03_b04_b08.tif")
}
pub fn csmask() -> PathBuf {
    data("models/csmask/model_4b_l1c.onnx")
}
pub fn csmask_dynamic() -> PathBuf {
    data("models/csmask/model_4b_l1c_dynamic.onnx")
}
pub fn perpixel() -> PathBuf {
    repo("models/test/perpixel_ndi.onnx")
}
pub fn small_cnn() -> PathBuf {
    repo("models/test/small_cnn.onnx")
}

/// A fresh temporary folder for one test.
/// A fresh folder for one test, under cargo's target/tmp (so runs leave nothing in /tmp;
/// the previous run's folder of the same name is replaced).
pub fn tempdir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("terratile-test-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `terratile ARGS...`.
pub fn terratile(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_terratile"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("cannot start terratile")
}

/// Runs `terratile segment INPUT -m MODEL -o OUTPUT EXTRA...` and asserts success.
pub fn segment_ok(input: &Path, model: &Path, output: &Path, extra: &[&str]) -> String {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"segment", &input, &"-m", &model, &"-o", &output];
    for e in extra {
        args.push(e);
    }
    let out = terratile(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "terratile segment failed: {stderr}");
    stderr
}

/// Segments `input` into `dir/NAME.tif` and returns its class band.
pub fn classes_of(dir: &Path, name: &str, input: &Path, model: &Path, extra: &[&str]) -> Vec<u16> {
    let out = dir.join(format!("{name}.tif"));
    segment_ok(input, model, &out, extra);
    read_band(&out, 1)
}

/// One tile the size of the (square) S2 crop: one pass of the model over the whole image
/// (at the raster's own resolution, even for models that declare another).
pub const WHOLE_IMAGE: &[&str] = &["--tile", "1920", "--overlap", "0", "--no-resample", "-q"];

/// Band `b` of a raster as u16 values, row-major.
pub fn read_band(path: &Path, b: usize) -> Vec<u16> {
    let ds = Dataset::open(path).unwrap();
    let band = ds.rasterband(b).unwrap();
    let (w, h) = band.size();
    let mut v = vec![0u16; w * h];
    band.read_into_slice::<u16>((0, 0), (w, h), (w, h), &mut v, None)
        .unwrap();
    v
}

/// Share of pixels where `a == b`, and share among pixels where `within(truth)`.
pub fn agreement(truth: &[u16], other: &[u16], within: impl Fn(u16) -> bool) -> (f64, f64, usize) {
    assert_eq!(truth.len(), other.len());
    let same = truth.iter().zip(other).filter(|(a, b)| a == b).count();
    let sel: Vec<_> = truth
        .iter()
        .zip(other)
        .filter(|(a, _)| within(**a))
        .collect();
    let sel_same = sel.iter().filter(|(a, b)| a == b).count();
    (
        same as f64 / truth.len() as f64,
        sel_same as f64 / sel.len().max(1) as f64,
        sel.len(),
    )
}

/// Files in a folder (to check nothing half-written is left).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `gdal_translate -srcwin` into `out` (crops for whole-image comparisons).
pub fn crop(src: &Path, out: &Path, x: usize, y: usize, w: usize, h: usize) {
    let st = Command::new("gdal_translate")
        .args([
            "-q",
            "-srcwin",
            &x.to_string(),
            &y.to_string(),
            &w.to_string(),
            &h.to_string(),
        ])
        .arg(src)
        .arg(out)
        .status()
        .expect("gdal_translate (gdal-bin) is needed: run scripts/setup.sh");
    assert!(st.success());
}

/// Asserts two class (or confidence) bands are identical, naming the first differences.
pub fn assert_same(expected: &[u16], got: &[u16], what: &str) {
    assert_eq!(expected.len(), got.len());
    let d: Vec<(usize, u16, u16)> = expected
        .iter()
        .zip(got)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| (i, *x, *y))
        .collect();
    assert!(
        d.is_empty(),
        "{} {what} differ, first (index, expected, got) {:?}",
        d.len(),
        &d[..d.len().min(5)]
    );
}

/// The category (class) names of band 1, as GDAL reports them.
pub fn category_names(path: &Path) -> Vec<String> {
    let ds = Dataset::open(path).unwrap();
    // GTiff loads the .aux.xml (PAM) lazily, on the first georeferencing query, as
    // gdalinfo and QGIS make.
    let _ = ds.geo_transform();
    let band = ds.rasterband(1).unwrap();
    let mut v = Vec::new();
    // SAFETY: GDAL returns a NULL-terminated list owned by the band.
    unsafe {
        let list = gdal_sys::GDALGetRasterCategoryNames(band.c_rasterband());
        if !list.is_null() {
            let mut i = 0;
            while !(*list.add(i)).is_null() {
                v.push(
                    std::ffi::CStr::from_ptr(*list.add(i))
                        .to_string_lossy()
                        .into_owned(),
                );
                i += 1;
            }
        }
    }
    v
}

/// Rows of band 1's raster attribute table as (value, class name, pixel count).
pub fn attribute_table(path: &Path) -> Vec<(i32, String, i64)> {
    let ds = Dataset::open(path).unwrap();
    let _ = ds.geo_transform(); // loads the .aux.xml, as above
    let band = ds.rasterband(1).unwrap();
    let mut rows = Vec::new();
    // SAFETY: GDAL owns the table; we only read it while the band is open.
    unsafe {
        let rat = gdal_sys::GDALGetDefaultRAT(band.c_rasterband());
        assert!(
            !rat.is_null(),
            "no raster attribute table on {}",
            path.display()
        );
        for r in 0..gdal_sys::GDALRATGetRowCount(rat) {
            let name = std::ffi::CStr::from_ptr(gdal_sys::GDALRATGetValueAsString(rat, r, 1))
                .to_string_lossy()
                .into_owned();
            rows.push((
                gdal_sys::GDALRATGetValueAsInt(rat, r, 0),
                name,
                gdal_sys::GDALRATGetValueAsInt(rat, r, 5) as i64,
            ));
        }
    }
    rows
}

/// The Landsat 5 pair of r-cran-satellite (2000-03-09, 2010-12-18): 6-band stacks.
pub fn landsat_2000() -> PathBuf {
    data("data/satellite/lt05_2000.tif")
}
pub fn landsat_2010() -> PathBuf {
    data("data/satellite/lt5_2010.tif")
}

/// A class map made from real imagery without a model: band `band` (NIR: 4) cut into
/// `classes` bins at its quantiles (Byte, nodata 255 where the band is nodata), on the
/// scene's own grid. Returns the class per pixel (255 = nodata).
pub fn quantile_classes(scene: &Path, band: usize, classes: usize, out: &Path) -> Vec<u8> {
    let ds = Dataset::open(scene).unwrap();
    let b = ds.rasterband(band).unwrap();
    let (w, h) = b.size();
    let nd = b.no_data_value();
    let mut v = vec![0f64; w * h];
    b.read_into_slice::<f64>((0, 0), (w, h), (w, h), &mut v, None)
        .unwrap();
    let mut sorted: Vec<f64> = v.iter().copied().filter(|x| Some(*x) != nd).collect();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let cuts: Vec<f64> = (1..classes)
        .map(|k| sorted[k * sorted.len() / classes])
        .collect();
    let cls: Vec<u8> = v
        .iter()
        .map(|x| {
            if Some(*x) == nd {
                255
            } else {
                cuts.iter().filter(|c| *x >= **c).count() as u8
            }
        })
        .collect();
    write_classes(out, &ds, &cls);
    cls
}

/// Writes a Byte class map (nodata 255) on the grid of `like`.
pub fn write_classes(out: &Path, like: &Dataset, cls: &[u8]) {
    use gdal::raster::{Buffer, RasterCreationOptions};
    let (w, h) = like.raster_size();
    let drv = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut o = drv
        .create_with_band_type_with_options::<u8, _>(out, w, h, 1, &RasterCreationOptions::new())
        .unwrap();
    o.set_geo_transform(&like.geo_transform().unwrap()).unwrap();
    o.set_projection(&like.projection()).unwrap();
    let mut band = o.rasterband(1).unwrap();
    band.set_no_data_value(Some(255.0)).unwrap();
    let mut buf = Buffer::new((w, h), cls.to_vec());
    band.write((0, 0), (w, h), &mut buf).unwrap();
}

/// Runs a command line tool (gdal_translate, gdalwarp, ...) and asserts success.
pub fn tool(cmd: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) {
    let out = Command::new(cmd)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap_or_else(|e| panic!("{cmd} cannot start ({e}): run scripts/setup.sh"));
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `terratile ARGS` and asserts success; returns stderr.
pub fn terratile_ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = terratile(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "terratile failed: {err}");
    err
}

/// `terratile report --db DB [--run ID] --format json`, parsed.
pub fn report_json(db: &Path, run: Option<i64>) -> serde_json::Value {
    let id = run.map(|r| r.to_string());
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"report", &"--db", &db, &"--format", &"json"];
    if let Some(id) = &id {
        args.push(&"--run");
        args.push(id);
    }
    let out = terratile(&args);
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report --format json is JSON")
}

/// (from, to) -> pixels of a report's transitions.
pub fn transitions_of(report: &serde_json::Value) -> std::collections::BTreeMap<(u64, u64), u64> {
    report["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                (t["from"].as_u64().unwrap(), t["to"].as_u64().unwrap()),
                t["pixels"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Asserts a `report --format json` document follows schemas/report.schema.json.
pub fn assert_report_schema(report: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schemas/report.schema.json")).unwrap();
    let v = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = v.iter_errors(report).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "report JSON against its schema: {errors:?}"
    );
}

/// The promises of every failing command: exit status 1, no panic, one line starting
/// `terratile: error: ` that mentions each of `mentions`, nothing at `out` and no
/// temporary file beside it. Returns the error line.
pub fn assert_fails_cleanly(o: &Output, out: &Path, mentions: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1, got {:?}: {err}",
        o.status
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("terratile: error: "), "{err}");
    for m in mentions {
        assert!(err.contains(m), "error should mention {m:?}: {err}");
    }
    assert!(!out.exists(), "nothing may be written at {}", out.display());
    if let Some(dir) = out.parent().filter(|d| d.is_dir()) {
        let left: Vec<_> = files_in(dir)
            .into_iter()
            .filter(|f| f.contains("terratile-"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
    err
}
