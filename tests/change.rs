//! `terratile change` on the real Landsat 5 pair of r-cran-satellite (2000 vs 2010):
//! planted changes with known counts, the matrix against the valid pixels, geodesic
//! areas in EPSG:4326, mixed CRS, and one run through a real model.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use gdal::Dataset;

const N: usize = 5;

/// `change --before-classes B --after-classes A -o OUT --db DB -q EXTRA`; returns stderr.
fn change_classes(b: &Path, a: &Path, out: &Path, db: &Path, extra: &[&str]) -> String {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"change",
        &"--before-classes",
        &b,
        &"--after-classes",
        &a,
        &"-o",
        &out,
        &"--db",
        &db,
    ];
    for e in extra {
        args.push(e);
    }
    terratile_ok(&args)
}

fn geo_transform(p: &Path) -> [f64; 6] {
    Dataset::open(p).unwrap().geo_transform().unwrap()
}

/// Sets the block `xs` x `ys` of a 101-px-wide class map to `value`.
fn fill(map: &mut [u8], xs: std::ops::Range<usize>, ys: std::ops::Range<usize>, value: u8) {
    for y in ys {
        map[y * 101 + xs.start..y * 101 + xs.end].fill(value);
    }
}

#[test]
fn planted_change_gives_exactly_those_counts() {
    let dir = tempdir("planted");
    let (b, a) = (dir.join("before.tif"), dir.join("after.tif"));
    let before = quantile_classes(&landsat_2000(), 4, N, &b);
    // the same scene, with a block turned into class 4 and a smaller block of nodata
    let mut after = before.clone();
    fill(&mut after, 10..40, 20..50, 4);
    fill(&mut after, 55..75, 60..70, 255);
    let w = 101;
    write_classes(&a, &Dataset::open(landsat_2000()).unwrap(), &after);
    let mut expected: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for (f, t) in before.iter().zip(&after) {
        if *f != 255 && *t != 255 {
            *expected.entry((*f as u64, *t as u64)).or_default() += 1;
        }
    }
    let changed_expected: u64 = (20..50)
        .flat_map(|y| (10..40).map(move |x| (x, y)))
        .filter(|&(x, y)| before[y * w + x] != 255 && before[y * w + x] != 4)
        .count() as u64;
    assert!(changed_expected > 500, "the planted block changes pixels");

    let (out, db) = (dir.join("change.tif"), dir.join("stats.gpkg"));
    change_classes(&b, &a, &out, &db, &["-q"]);
    let r = report_json(&db, None);
    assert_eq!(
        transitions_of(&r),
        expected,
        "the matrix is exactly the planted one"
    );
    let valid: u64 = expected.values().sum();
    assert_eq!(r["valid_px"].as_u64().unwrap(), valid);
    assert_eq!(r["changed_px"].as_u64().unwrap(), changed_expected);
    // ground areas: 30 m UTM pixels 0.8 degrees off the central meridian (scale factor
    // 0.9997) cover a little more than the plane's 900 m2 (tests/areas.rs checks them
    // against a geodesic truth)
    assert!(r["pixel_area_m2"].is_null());
    assert_eq!(r["area_method"], "geodesic-footprints");
    let ground_px_m2 = r["valid_area_m2"].as_f64().unwrap() / valid as f64;
    assert!(
        ground_px_m2 > 900.0 && ground_px_m2 < 900.0 * 1.001,
        "{ground_px_m2} m2 per pixel"
    );
    // per class and date: the row and column sums
    for c in r["classes"].as_array().unwrap() {
        let k = c["class"].as_u64().unwrap();
        let rows: u64 = expected
            .iter()
            .filter(|((f, _), _)| *f == k)
            .map(|(_, n)| n)
            .sum();
        let cols: u64 = expected
            .iter()
            .filter(|((_, t), _)| *t == k)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(c["dates"]["before"]["pixels"].as_u64().unwrap(), rows);
        assert_eq!(c["dates"]["after"]["pixels"].as_u64().unwrap(), cols);
    }
    // the change raster, pixel for pixel: from * N + to, nodata 255
    let codes = read_band(&out, 1);
    for i in 0..before.len() {
        let want = if before[i] == 255 || after[i] == 255 {
            255
        } else {
            before[i] as u16 * N as u16 + after[i] as u16
        };
        assert_eq!(codes[i], want, "pixel {i}");
    }
    assert_eq!(geo_transform(&out), geo_transform(&b));
    let names = category_names(&out);
    assert_eq!(names.len(), N * N);
    assert_eq!(names[2 * N + 4], "class 2 -> class 4");
    assert_eq!(names[3 * N + 3], "class 3 (unchanged)");
    // changed pixels stand out: the colour of a change differs from the unchanged tint
    let ds = Dataset::open(&out).unwrap();
    let band = ds.rasterband(1).unwrap();
    let ct = band.color_table().unwrap();
    let (u, c) = (
        ct.entry_as_rgb(4 * N + 4).unwrap(),
        ct.entry_as_rgb(2 * N + 4).unwrap(),
    );
    assert_ne!((u.r, u.g, u.b), (c.r, c.g, c.b));
    // the tile layer adds up to the same change
    let tiles: i64 = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("SELECT sum(changed_px) FROM tile_stats", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(tiles as u64, changed_expected);
}

/// A copy of `src` with its pixels laid over other coordinates: `srs` and the corners
/// `[ulx, uly, lrx, lry]` (`gdal_translate -a_srs -a_ullr`).
fn relabel(src: &Path, dst: &Path, srs: &str, ullr: [f64; 4]) {
    let c: Vec<String> = ullr.iter().map(|v| format!("{v:.6}")).collect();
    tool(
        "gdal_translate",
        &[
            &"-q", &"-a_srs", &srs, &"-a_ullr", &c[0], &c[1], &c[2], &c[3], &src, &dst,
        ],
    );
}

#[test]
fn geographic_areas_match_geodesic_truth() {
    use geo::{GeodesicArea, LineString, Orient, Polygon};
    let dir = tempdir("geodesic");
    let utm = dir.join("classes_utm.tif");
    let cls = quantile_classes(&landsat_2000(), 4, N, &utm);
    // every pixel valid, then the same map laid over 1 x 1 degree at 60-61 N
    let full: Vec<u8> = cls.iter().map(|&c| if c == 255 { 0 } else { c }).collect();
    let filled = dir.join("filled.tif");
    write_classes(&filled, &Dataset::open(&utm).unwrap(), &full);
    let geo = dir.join("classes_4326.tif");
    relabel(&filled, &geo, "EPSG:4326", [10.0, 61.0, 11.0, 60.0]);
    // BEFORE: the top 50 rows class 1, the rest class 2 (so their areas differ by
    // latitude alone); AFTER: the real map
    let halves: Vec<u8> = (0..101 * 101)
        .map(|i| if i / 101 < 50 { 1 } else { 2 })
        .collect();
    let halves_utm = dir.join("halves_utm.tif");
    write_classes(&halves_utm, &Dataset::open(&utm).unwrap(), &halves);
    let halves_geo = dir.join("halves_4326.tif");
    relabel(
        &halves_utm,
        &halves_geo,
        "EPSG:4326",
        [10.0, 61.0, 11.0, 60.0],
    );
    let (out, db) = (dir.join("change.tif"), dir.join("stats.gpkg"));
    change_classes(&halves_geo, &geo, &out, &db, &["-q"]);
    let r = report_json(&db, None);
    assert!(r["pixel_area_m2"].is_null(), "pixel area varies by row");
    assert_eq!(r["area_method"], "ellipsoidal-rows");
    assert_eq!(r["valid_px"].as_u64().unwrap(), 101 * 101);
    // truth: geodesic areas of lon 10..11 between two latitudes, the edges densified
    // along the parallels
    let truth = |lat0: f64, lat1: f64| {
        let k = 2000;
        let mut ring = Vec::new();
        for i in 0..k {
            ring.push((10.0 + i as f64 / k as f64, lat0));
        }
        for i in 0..k {
            ring.push((11.0, lat0 + (lat1 - lat0) * i as f64 / k as f64));
        }
        for i in 0..k {
            ring.push((11.0 - i as f64 / k as f64, lat1));
        }
        for i in 0..k {
            ring.push((10.0, lat1 - (lat1 - lat0) * i as f64 / k as f64));
        }
        ring.push(ring[0]);
        Polygon::new(LineString::from(ring), vec![])
            .orient(geo::orient::Direction::Default)
            .geodesic_area_unsigned()
    };
    let split = 61.0 - 50.0 / 101.0;
    let area = |date: &str, class: usize| {
        r["classes"][class]["dates"][date]["area_m2"]
            .as_f64()
            .unwrap()
    };
    for (got, want, what) in [
        (
            r["valid_area_m2"].as_f64().unwrap(),
            truth(60.0, 61.0),
            "whole footprint",
        ),
        (area("before", 1), truth(split, 61.0), "northern rows"),
        (area("before", 2), truth(60.0, split), "southern rows"),
    ] {
        let rel = (got - want).abs() / want;
        assert!(
            rel < 1e-3,
            "{what}: {got} m2 vs geodesic {want} m2 ({rel:.2e})"
        );
    }
    // the northern rows are smaller per pixel: more than the tolerance apart
    let per_px_n = area("before", 1) / (50.0 * 101.0);
    let per_px_s = area("before", 2) / (51.0 * 101.0);
    assert!(
        (per_px_s - per_px_n) / per_px_s > 1e-2,
        "{per_px_n} vs {per_px_s}"
    );
    // AFTER's class areas add up to the same valid area
    let sum: f64 = (0..N).map(|c| area("after", c)).sum();
    assert!((sum - r["valid_area_m2"].as_f64().unwrap()).abs() < 1e-3);
}

#[test]
fn mixed_crs_inputs_compare_on_befores_grid() {
    let dir = tempdir("mixed");
    let (b, a) = (dir.join("before.tif"), dir.join("after_utm.tif"));
    quantile_classes(&landsat_2000(), 4, N, &b);
    quantile_classes(&landsat_2010(), 4, N, &a);
    // AFTER in EPSG:4326, with pixels a third of the size (so it is resampled by mode)
    let a_geo = dir.join("after_4326.tif");
    tool(
        "gdalwarp",
        &[
            &"-q",
            &"-t_srs",
            &"EPSG:4326",
            &"-r",
            &"near",
            &"-tr",
            &"0.00009",
            &"0.00009",
            &a,
            &a_geo,
        ],
    );
    let (out_a, db) = (dir.join("same_crs.tif"), dir.join("stats.gpkg"));
    let out_b = dir.join("mixed_crs.tif");
    change_classes(&b, &a, &out_a, &db, &["-q"]);
    let err = change_classes(&b, &a_geo, &out_b, &db, &[]);
    assert!(err.contains("resampled by mode"), "{err}");
    // the comparison grid is BEFORE's
    assert_eq!(geo_transform(&out_b), geo_transform(&b));
    let (ca, cb) = (read_band(&out_a, 1), read_band(&out_b, 1));
    assert_eq!(ca.len(), cb.len());
    let both: Vec<_> = ca
        .iter()
        .zip(&cb)
        .filter(|(x, y)| **x != 255 && **y != 255)
        .collect();
    let same = both.iter().filter(|(x, y)| x == y).count();
    assert!(both.len() as f64 > 0.97 * ca.iter().filter(|x| **x != 255).count() as f64);
    let agree = same as f64 / both.len() as f64;
    eprintln!("mixed CRS agreement {agree:.4} on {} px", both.len());
    assert!(
        agree > 0.95,
        "UTM vs EPSG:4326 AFTER agree on {agree:.3} of the pixels"
    );
    let (ra, rb) = (report_json(&db, Some(1)), report_json(&db, Some(2)));
    assert_eq!(ra["run"]["command"], "change");
    assert_eq!(rb["run"]["parameters"]["after_resampling"], "mode");
}

#[test]
fn partial_overlap_compares_the_intersection() {
    let dir = tempdir("partial");
    let (b, a) = (dir.join("before.tif"), dir.join("after.tif"));
    quantile_classes(&landsat_2000(), 4, N, &b);
    let full = dir.join("after_full.tif");
    quantile_classes(&landsat_2010(), 4, N, &full);
    // AFTER: the lower-right 61x51 px of the scene
    crop(&full, &a, 40, 50, 61, 51);
    let (out, db) = (dir.join("change.tif"), dir.join("stats.gpkg"));
    change_classes(&b, &a, &out, &db, &["-q", "--stats-tile", "32"]);
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.raster_size(), (61, 51));
    let gb = geo_transform(&b);
    let go = geo_transform(&out);
    assert_eq!(go[0], gb[0] + 40.0 * 30.0);
    assert_eq!(go[3], gb[3] - 50.0 * 30.0);
    let r = report_json(&db, None);
    let tiles: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM tile_stats", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tiles, 2 * 2, "61x51 px in 32 px tiles");
    let sum: u64 = transitions_of(&r).values().sum();
    assert_eq!(sum, r["valid_px"].as_u64().unwrap());
    assert!(sum <= 61 * 51 && sum > 61 * 51 * 9 / 10);
}

#[test]
fn imagery_through_a_real_model_equals_precomputed_class_maps() {
    let dir = tempdir("model");
    let (out, db) = (dir.join("change.tif"), dir.join("stats.gpkg"));
    let keep = dir.join("classes");
    std::fs::create_dir(&keep).unwrap();
    let model = perpixel();
    terratile_ok(&[
        &"change",
        &landsat_2000(),
        &landsat_2010(),
        &"-m",
        &model,
        &"--bands",
        &"1,2,3,4",
        &"-o",
        &out,
        &"--db",
        &db,
        &"--keep-classes",
        &keep,
        &"-q",
    ]);
    // the temporary class maps beside the output are gone
    let left: Vec<_> = files_in(&dir)
        .into_iter()
        .filter(|f| f.contains("terratile-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // the same model through `segment`, then change on the class maps
    let (b, a) = (dir.join("b.tif"), dir.join("a.tif"));
    segment_ok(&landsat_2000(), &model, &b, &["--bands", "1,2,3,4", "-q"]);
    segment_ok(&landsat_2010(), &model, &a, &["--bands", "1,2,3,4", "-q"]);
    assert_same(
        &read_band(&b, 1),
        &read_band(&keep.join("before_classes.tif"), 1),
        "before classes",
    );
    let out2 = dir.join("change2.tif");
    change_classes(&b, &a, &out2, &db, &["-q"]);
    assert_same(&read_band(&out, 1), &read_band(&out2, 1), "change codes");

    let r = report_json(&db, Some(1));
    let names: Vec<&str> = r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["other", "vegetation", "water"],
        "names from the model"
    );
    let codes = read_band(&out, 1);
    let valid = codes.iter().filter(|c| **c != 255).count() as u64;
    assert_eq!(r["valid_px"].as_u64().unwrap(), valid);
    assert_eq!(transitions_of(&r).values().sum::<u64>(), valid);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (path, sha): (String, String) = conn
        .query_row(
            "SELECT path, sha256 FROM models WHERE run_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(path.ends_with("perpixel_ndi.onnx"));
    assert_eq!(sha, terratile::store::sha256_file(&model).unwrap());
    let rasters: i64 = conn
        .query_row("SELECT count(*) FROM rasters WHERE run_id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rasters, 3, "before, after, output");
}

#[test]
fn zones_get_their_own_exact_figures() {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let dir = tempdir("zones");
    let (b, a) = (dir.join("before.tif"), dir.join("after.tif"));
    let before = quantile_classes(&landsat_2000(), 4, N, &b);
    let mut after = before.clone();
    fill(&mut after, 10..40, 20..50, 4);
    let w = 101;
    write_classes(&a, &Dataset::open(landsat_2000()).unwrap(), &after);
    // two zones as lon/lat polygons (GeoJSON, EPSG:4326) on pixel edges of the UTM grid:
    // the planted block, and an untouched block in the north-east
    let gt = geo_transform(&b);
    let mut utm = SpatialRef::from_wkt(&Dataset::open(&b).unwrap().projection()).unwrap();
    utm.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut wgs = SpatialRef::from_epsg(4326).unwrap();
    wgs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let ct = CoordTransform::new(&utm, &wgs).unwrap();
    let ring = |x0: usize, y0: usize, x1: usize, y1: usize| -> String {
        let px = [(x0, y1), (x1, y1), (x1, y0), (x0, y0), (x0, y1)];
        let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = px
            .iter()
            .map(|&(c, r)| (gt[0] + c as f64 * gt[1], gt[3] + r as f64 * gt[5]))
            .unzip();
        ct.transform_coords(&mut xs, &mut ys, &mut []).unwrap();
        let pts: Vec<String> = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| format!("[{x:.10},{y:.10}]"))
            .collect();
        format!("[[{}]]", pts.join(","))
    };
    let geojson = format!(
        r#"{{"type":"FeatureCollection","features":[
  {{"type":"Feature","properties":{{"name":"planted"}},"geometry":{{"type":"Polygon","coordinates":{}}}}},
  {{"type":"Feature","properties":{{"name":"north-east"}},"geometry":{{"type":"Polygon","coordinates":{}}}}}]}}"#,
        ring(10, 20, 40, 50),
        ring(60, 0, 90, 30)
    );
    let zones = dir.join("zones.geojson");
    std::fs::write(&zones, geojson).unwrap();
    let expect = |x0: usize, y0: usize, x1: usize, y1: usize| {
        let mut m: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        for y in y0..y1 {
            for x in x0..x1 {
                let (f, t) = (before[y * w + x], after[y * w + x]);
                if f != 255 && t != 255 {
                    *m.entry((f as u64, t as u64)).or_default() += 1;
                }
            }
        }
        m
    };
    let (out, db) = (dir.join("change.tif"), dir.join("stats.gpkg"));
    let z = zones.to_str().unwrap();
    let err = change_classes(
        &b,
        &a,
        &out,
        &db,
        &["--zones", z, "--zone-field", "name", "--stats-tile", "16"],
    );
    assert!(!err.contains("error"), "{err}");
    let r = report_json(&db, None);
    assert_report_schema(&r);
    let zs = r["zones"].as_array().unwrap();
    assert_eq!(zs.len(), 2);
    for (zj, want, name) in [
        (&zs[0], expect(10, 20, 40, 50), "planted"),
        (&zs[1], expect(60, 0, 90, 30), "north-east"),
    ] {
        assert_eq!(zj["name"], name);
        let got: BTreeMap<(u64, u64), u64> = zj["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    (t["from"].as_u64().unwrap(), t["to"].as_u64().unwrap()),
                    t["pixels"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "zone {name}");
        let px: u64 = want.values().sum();
        assert_eq!(zj["valid_px"].as_u64().unwrap(), px);
        // ground areas vary by about 1e-5 over the scene: the zone's pixels have the
        // scene's mean ground area
        let ground_px_m2 = r["valid_area_m2"].as_f64().unwrap() / r["valid_px"].as_f64().unwrap();
        let zone_m2 = zj["valid_area_m2"].as_f64().unwrap();
        assert!(
            (zone_m2 - px as f64 * ground_px_m2).abs() / zone_m2 < 1e-4,
            "zone {name}: {zone_m2} m2 for {px} px of {ground_px_m2} m2"
        );
    }
    assert!(zs[0]["changed_px"].as_u64().unwrap() > 500);
    assert_eq!(zs[1]["changed_px"].as_u64().unwrap(), 0);
    // the table names the zones; a field that does not exist is a clear error
    let t = terratile(&[&"report", &"--db", &db]);
    let text = String::from_utf8_lossy(&t.stdout);
    assert!(
        text.contains("planted") && text.contains("north-east"),
        "{text}"
    );
    let o = terratile(&[
        &"change",
        &"--before-classes",
        &b,
        &"--after-classes",
        &a,
        &"-o",
        &dir.join("x.tif"),
        &"--zones",
        &zones,
        &"--zone-field",
        &"NAME_1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("zones.geojson")
            && err.contains("no field \"NAME_1\"")
            && err.contains("name"),
        "{err}"
    );
    assert!(!dir.join("x.tif").exists());
}

#[test]
fn projected_areas_use_the_crs_linear_unit() {
    // the same class map on a grid in US survey feet (EPSG:2263): 30 m pixels are
    // 98.425 ftUS wide, so each pixel is still 900 m2
    let dir = tempdir("feet");
    let m = dir.join("classes_m.tif");
    quantile_classes(&landsat_2000(), 4, N, &m);
    let ft = dir.join("classes_ft.tif");
    let side_ft = 30.0 / (1200.0 / 3937.0);
    let (x0, y0) = (1_000_000.0, 200_000.0);
    let (x1, y1) = (x0 + 101.0 * side_ft, y0 - 101.0 * side_ft);
    relabel(&m, &ft, "EPSG:2263", [x0, y0, x1, y1]);
    let (out, db) = (dir.join("change.tif"), dir.join("stats.gpkg"));
    change_classes(&ft, &ft, &out, &db, &["-q"]);
    let r = report_json(&db, None);
    // ground areas: within NY Long Island's zone the scale factor is 1 +- 1e-4, so each
    // pixel still covers about 900 m2 (ft2 would be 10.76 times more)
    assert!(r["pixel_area_m2"].is_null());
    let valid = r["valid_px"].as_f64().unwrap();
    let px_m2 = r["valid_area_m2"].as_f64().unwrap() / valid;
    assert!(
        (px_m2 - 900.0).abs() / 900.0 < 2e-4,
        "pixel area {px_m2} m2, not ft2"
    );
}

#[test]
fn many_classes_give_uint16_codes() {
    let dir = tempdir("wide");
    let (b, a) = (dir.join("before.tif"), dir.join("after.tif"));
    let before = quantile_classes(&landsat_2000(), 4, 16, &b);
    let after = quantile_classes(&landsat_2010(), 4, 16, &a);
    let (out, db) = (dir.join("change.tif"), dir.join("stats.gpkg"));
    change_classes(&b, &a, &out, &db, &["-q"]);
    let ds = Dataset::open(&out).unwrap();
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.band_type(), gdal::raster::GdalDataType::UInt16);
    assert_eq!(band.no_data_value(), Some(65535.0));
    let codes = read_band(&out, 1);
    for i in 0..codes.len() {
        let want = if before[i] == 255 || after[i] == 255 {
            65535
        } else {
            before[i] as u16 * 16 + after[i] as u16
        };
        assert_eq!(codes[i], want, "pixel {i}");
    }
    assert_eq!(category_names(&out)[15 * 16 + 14], "class 15 -> class 14");
    let r = report_json(&db, None);
    assert_eq!(r["classes"].as_array().unwrap().len(), 16);
}

#[test]
fn land_cover_model_end_to_end_with_a_mask_model() {
    let dir = tempdir("landcover");
    let model = repo("models/landcover-nc7/model.onnx");
    let (out, db) = (dir.join("change.tif"), dir.join("stats.gpkg"));
    let keep = dir.join("classes");
    std::fs::create_dir(&keep).unwrap();
    terratile_ok(&[
        &"change",
        &landsat_2000(),
        &landsat_2010(),
        &"-m",
        &model,
        &"-o",
        &out,
        &"--db",
        &db,
        &"--keep-classes",
        &keep,
        &"-q",
    ]);
    let r = report_json(&db, None);
    let names: Vec<&str> = r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "developed",
            "agriculture",
            "herbaceous",
            "shrubland",
            "forest",
            "water",
            "sediment"
        ]
    );
    let (b, a) = (
        read_band(&keep.join("before_classes.tif"), 1),
        read_band(&keep.join("after_classes.tif"), 1),
    );
    let mut want: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for (f, t) in b.iter().zip(&a) {
        if *f != 255 && *t != 255 {
            *want.entry((*f as u64, *t as u64)).or_default() += 1;
        }
    }
    assert_eq!(
        transitions_of(&r),
        want,
        "the matrix is the class maps' pairs"
    );

    // the same with a mask model: the per-pixel test model masks what it calls
    // vegetation (class 1) at either date, and exactly those pixels drop out
    let veg = |img: &Path, name: &str| -> Vec<bool> {
        let p = dir.join(format!("{name}.tif"));
        segment_ok(img, &perpixel(), &p, &["--bands", "1,2,3,4", "-q"]);
        read_band(&p, 1).iter().map(|c| *c == 1).collect()
    };
    let (vb, va) = (
        veg(&landsat_2000(), "veg2000"),
        veg(&landsat_2010(), "veg2010"),
    );
    let masked = vb.iter().zip(&va).filter(|(x, y)| **x || **y).count() as u64;
    assert!(masked > 10, "the mask covers some pixels ({masked})");
    let out2 = dir.join("masked.tif");
    terratile_ok(&[
        &"change",
        &landsat_2000(),
        &landsat_2010(),
        &"-m",
        &model,
        &"-o",
        &out2,
        &"--db",
        &db,
        &"--mask-model",
        &perpixel(),
        &"--mask-classes",
        &"1",
        &"--mask-bands",
        &"1,2,3,4",
        &"-q",
    ]);
    let r2 = report_json(&db, Some(2));
    let valid: u64 = want.values().sum();
    assert_eq!(r2["valid_px"].as_u64().unwrap(), valid - masked);
    let codes = read_band(&out2, 1);
    for i in 0..codes.len() {
        if vb[i] || va[i] {
            assert_eq!(codes[i], 255, "masked pixel {i} is nodata");
        }
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let roles: Vec<String> = conn
        .prepare("SELECT role FROM models WHERE run_id = 2 ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(roles, ["segmentation", "mask"]);
}
