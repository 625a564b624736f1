//! Reading outputs back (bands, category names, attribute tables, reports) and the
//! assertions the test files share.

use std::path::Path;
use std::process::Output;

use gdal::Dataset;

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
