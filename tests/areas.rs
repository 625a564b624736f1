//! Ground areas in every CRS: the same real class map (Landsat 5's NIR cut into quantile
//! classes) in UTM near the central meridian and at a zone's edge, Web Mercator (twice),
//! an Albers equal-area CRS, a State Plane CRS in US survey feet and EPSG:4326 (warped
//! with nearest neighbour) gives class areas within 0.1% of a geodesic truth: pyproj's
//! `Geod.polygon_area_perimeter` on every pixel's densified footprint
//! (tests/area_truth.py, run in the venv of scripts/setup.sh). Both ways terratile
//! measures areas are checked: `change`'s matrix and the class areas `segment --db`
//! records (`ClassMap::class_areas`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use gdal::spatial_ref::SpatialRef;
use gdal::Dataset;
use terratile::raster::ClassMap;

const N: usize = 5;
/// The largest error allowed, of the total and of each class, relative.
const TOLERANCE: f64 = 1e-3;

/// `gdal_translate -a_srs SRS -a_ullr`: the same pixels laid over other coordinates.
fn relabel(src: &Path, dst: &Path, srs: &str, ulx: f64, uly: f64) {
    let gt = Dataset::open(src).unwrap().geo_transform().unwrap();
    relabel_px(src, dst, srs, ulx, uly, gt[1]);
}

/// [`relabel`] with square pixels of `px` CRS units.
fn relabel_px(src: &Path, dst: &Path, srs: &str, ulx: f64, uly: f64, px: f64) {
    let (w, h) = Dataset::open(src).unwrap().raster_size();
    let c: Vec<String> = [ulx, uly, ulx + w as f64 * px, uly - h as f64 * px]
        .iter()
        .map(|v| format!("{v:.6}"))
        .collect();
    tool(
        "gdal_translate",
        &[
            &"-q", &"-a_srs", &srs, &"-a_ullr", &c[0], &c[1], &c[2], &c[3], &src, &dst,
        ],
    );
}

/// `gdalwarp -t_srs SRS -r near`.
fn warp(src: &Path, dst: &Path, srs: &str) {
    tool(
        "gdalwarp",
        &[&"-q", &"-t_srs", &srs, &"-r", &"near", &src, &dst],
    );
}

/// The venv's python (scripts/setup.sh installs pyproj there).
fn python() -> PathBuf {
    let py = cache().join("venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run `bash scripts/setup.sh` first",
        py.display()
    );
    py
}

/// The geodesic truth of tests/area_truth.py: (area per class, total) in m2.
fn truth(map: &Path, dir: &Path) -> (Vec<f64>, f64) {
    let ds = Dataset::open(map).unwrap();
    let (w, h) = ds.raster_size();
    let band = ds.rasterband(1).unwrap();
    let mut values = vec![0u8; w * h];
    band.read_into_slice::<u8>((0, 0), (w, h), (w, h), &mut values, None)
        .unwrap();
    let stem = map.file_stem().unwrap().to_string_lossy().into_owned();
    let raw = dir.join(format!("{stem}.u8"));
    std::fs::write(&raw, &values).unwrap();
    let grid = dir.join(format!("{stem}.json"));
    let spec = serde_json::json!({
        "width": w, "height": h,
        "geotransform": ds.geo_transform().unwrap(),
        "crs": ds.projection(),
        "values": raw,
        "classes": N,
        "nodata": band.no_data_value(),
    });
    std::fs::write(&grid, spec.to_string()).unwrap();
    let out = Command::new(python())
        .arg(repo("tests/area_truth.py"))
        .arg(&grid)
        .output()
        .expect("cannot run the venv's python");
    assert!(
        out.status.success(),
        "area_truth.py failed (is pyproj in the venv? run scripts/setup.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let class_m2: Vec<f64> = (0..N).map(|c| t["class_m2"][c].as_f64().unwrap()).collect();
    (class_m2, t["total_m2"].as_f64().unwrap())
}

/// The planar area the pixels have in the CRS (|det| x unit^2), as terratile measured
/// before: shown for comparison.
fn planar_m2(map: &Path) -> f64 {
    let ds = Dataset::open(map).unwrap();
    let gt = ds.geo_transform().unwrap();
    let srs = SpatialRef::from_wkt(&ds.projection()).unwrap();
    let unit = if srs.is_geographic() {
        f64::NAN
    } else {
        srs.linear_units()
    };
    let counts = ClassMap::open(map).unwrap().class_areas(N).unwrap().pixels;
    counts.iter().sum::<u64>() as f64 * (gt[1] * gt[5] - gt[2] * gt[4]).abs() * unit * unit
}

/// `change` of the map against itself: class areas of BEFORE from the report, and the
/// report's area method.
fn change_areas(map: &Path, dir: &Path) -> (Vec<f64>, f64, String) {
    let stem = map.file_stem().unwrap().to_string_lossy().into_owned();
    let (out, db) = (
        dir.join(format!("{stem}_change.tif")),
        dir.join(format!("{stem}.gpkg")),
    );
    terratile_ok(&[
        &"change",
        &"--before-classes",
        &map,
        &"--after-classes",
        &map,
        &"-o",
        &out,
        &"--db",
        &db,
        &"-q",
    ]);
    let r = report_json(&db, None);
    assert_report_schema(&r);
    let class_m2: Vec<f64> = (0..N)
        .map(|c| {
            r["classes"][c]["dates"]["before"]["area_m2"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let table = terratile(&[&"report", &"--db", &db]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("\nareas: ground areas on the"),
        "the table names the area method: {table}"
    );
    (
        class_m2,
        r["valid_area_m2"].as_f64().unwrap(),
        r["area_method"].as_str().unwrap_or("none").to_string(),
    )
}

/// The largest relative error of the total and of the classes.
fn errors(got: &[f64], got_total: f64, want: &[f64], want_total: f64) -> (f64, f64) {
    let total = (got_total - want_total).abs() / want_total;
    let class = got
        .iter()
        .zip(want)
        .filter(|(_, w)| **w > 0.0)
        .map(|(g, w)| (g - w).abs() / w)
        .fold(0.0, f64::max);
    (total, class)
}

#[test]
fn areas_match_a_geodesic_truth_in_every_crs() {
    let dir = tempdir("areas");
    // the real map, on its own grid: UTM 37N, 0.8 degrees east of the central meridian
    // at 6.8 N
    let utm = dir.join("utm37_centre.tif");
    quantile_classes(&landsat_2000(), 4, N, &utm);
    let gt = Dataset::open(&utm).unwrap().geo_transform().unwrap();
    // the same pixels 3 degrees east of the central meridian (a zone's edge: scale 1.0007)
    let utm_edge = dir.join("utm37_edge.tif");
    relabel(&utm, &utm_edge, "EPSG:32637", 500_000.0 + 331_500.0, gt[3]);
    // the same pixels in North Carolina (UTM 17N), then in NC State Plane, US feet
    let utm_nc = dir.join("utm17_nc.tif");
    relabel(&utm, &utm_nc, "EPSG:32617", 650_000.0, 3_950_000.0);
    let ftus = dir.join("nc_2264_ftus.tif");
    warp(&utm_nc, &ftus, "EPSG:2264");
    // the same pixels at 60 N (UTM 33N), then Web Mercator (4x the ground area there)
    let utm_60n = dir.join("utm33_60n.tif");
    relabel(&utm, &utm_60n, "EPSG:32633", 500_000.0, 6_650_000.0);
    let merc_60n = dir.join("merc_60n_3857.tif");
    warp(&utm_60n, &merc_60n, "EPSG:3857");
    // the same pixels 300 m wide (a 30 km map: the lattice has cells of 6 px, so pixel
    // areas are interpolated across 17 x 17 cells), at 60 N and at UTM's zone edge
    let utm_60n_300 = dir.join("utm33_60n_300m.tif");
    relabel_px(
        &utm,
        &utm_60n_300,
        "EPSG:32633",
        500_000.0,
        6_650_000.0,
        300.0,
    );
    let merc_60n_300 = dir.join("merc_60n_300m_3857.tif");
    warp(&utm_60n_300, &merc_60n_300, "EPSG:3857");
    let utm_edge_300 = dir.join("utm37_edge_300m.tif");
    relabel_px(&utm, &utm_edge_300, "EPSG:32637", 831_500.0, gt[3], 300.0);
    let merc = dir.join("merc_3857.tif");
    warp(&utm, &merc, "EPSG:3857");
    let albers = dir.join("albers.tif");
    warp(
        &utm,
        &albers,
        "+proj=aea +lat_0=0 +lon_0=40 +lat_1=2 +lat_2=12 +datum=WGS84 +units=m +no_defs",
    );
    let geographic = dir.join("geographic_4326.tif");
    warp(&utm, &geographic, "EPSG:4326");

    let mut failures = Vec::new();
    eprintln!(
        "{:<22} {:>16} {:>16} {:>16} {:>10} {:>10} {:>9}  method",
        "CRS", "terratile m2", "truth m2", "planar m2", "total err", "class err", "planar"
    );
    for (what, map) in [
        ("UTM 37N (0.8 deg off)", &utm),
        ("UTM 37N (zone edge)", &utm_edge),
        ("UTM 17N (NC)", &utm_nc),
        ("UTM 33N (60 N)", &utm_60n),
        ("EPSG:3857 (6.8 N)", &merc),
        ("EPSG:3857 (60 N)", &merc_60n),
        ("UTM 37N (edge, 300 m)", &utm_edge_300),
        ("EPSG:3857 (60N, 300m)", &merc_60n_300),
        ("Albers equal-area", &albers),
        ("EPSG:2264 (ftUS)", &ftus),
        ("EPSG:4326", &geographic),
    ] {
        let (want, want_total) = truth(map, &dir);
        let (got, got_total, method) = change_areas(map, &dir);
        let (total_err, class_err) = errors(&got, got_total, &want, want_total);
        // segment --db's class areas: the same measure
        let ca = ClassMap::open(map).unwrap().class_areas(N).unwrap();
        let ca_total: f64 = ca.area_m2.iter().sum();
        let (ca_total_err, ca_class_err) = errors(&ca.area_m2, ca_total, &want, want_total);
        let planar = planar_m2(map);
        eprintln!(
            "{what:<22} {got_total:>16.1} {want_total:>16.1} {:>16} {:>9.5}% {:>9.5}% {:>9}  {method}",
            if planar.is_nan() { "-".into() } else { format!("{planar:.1}") },
            100.0 * total_err,
            100.0 * class_err,
            if planar.is_nan() {
                "-".into()
            } else {
                format!("{:+.3}%", 100.0 * (planar - want_total) / want_total)
            },
        );
        let expected_method = if map == &geographic {
            "ellipsoidal-rows"
        } else {
            "geodesic-footprints"
        };
        if method != expected_method {
            failures.push(format!("{what}: method {method}, not {expected_method}"));
        }
        for (err, of) in [
            (total_err, "total (change)"),
            (class_err, "a class (change)"),
            (ca_total_err, "total (class_areas)"),
            (ca_class_err, "a class (class_areas)"),
        ] {
            if err >= TOLERANCE {
                failures.push(format!(
                    "{what}: {of} is {:.3}% off the geodesic truth",
                    100.0 * err
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_crs_without_a_way_to_lon_lat_is_named_in_one_line() {
    let dir = tempdir("areas-local");
    let utm = dir.join("utm.tif");
    quantile_classes(&landsat_2000(), 4, N, &utm);
    let local = dir.join("local_grid.tif");
    relabel(
        &utm,
        &local,
        r#"LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]"#,
        1000.0,
        5000.0,
    );
    let out = dir.join("change.tif");
    let o = terratile(&[
        &"change",
        &"--before-classes",
        &local,
        &"--after-classes",
        &local,
        &"-o",
        &out,
        &"-q",
    ]);
    assert_fails_cleanly(&o, &out, &["local_grid.tif"]);
    // segment --db's class areas: the CRS has no way to lon/lat
    let e = ClassMap::open(&local)
        .unwrap()
        .class_areas(N)
        .unwrap_err()
        .to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("local_grid.tif") && e.contains("longitude/latitude"),
        "{e}"
    );
    eprintln!("{e}");
}
