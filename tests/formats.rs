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
