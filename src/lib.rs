//! terratile: streaming, seam-free semantic segmentation of large georeferenced rasters
//! with ONNX models.
//!
//! The modules follow the path the pixels take (see ARCHITECTURE.md):
//! [`read`] (GDAL windows) -> [`prepare`] (bands, scaling, nodata) -> [`infer`] (ONNX
//! Runtime batches) -> [`stitch`] (weighted blending, argmax) -> [`write`](mod@write) (COG),
//! run as one streamed job by [`segment`](mod@segment). After it: [`change`](mod@change)
//! compares the class maps of two dates, and [`store`] keeps runs and their statistics in
//! an SQLite database that is also a GeoPackage. [`raster`] is the vocabulary they share
//! (pixel grids, raster descriptions, class maps, areas, GDAL programs); [`commands`] runs
//! a job and logs it; [`cancel`] is the stop request. Tile geometry lives in the `tiles`
//! crate.

pub mod cancel;
pub mod change;
pub mod commands;
pub mod error;
pub mod infer;
pub mod job;
pub mod plot;
pub mod prepare;
pub mod raster;
pub mod read;
pub mod segment;
pub mod stitch;
pub mod store;
pub mod vector;
pub mod write;

#[cfg(test)]
mod fuzz;

pub use error::{Error, Result};
pub use segment::{segment, SegmentOptions, Summary};

/// Sets GDAL up for streaming: its messages go to `tracing` (debug level) instead of
/// stderr, so users see terratile's one-line errors, not GDAL's; and its block cache is
/// capped at 64 MB unless `GDAL_CACHEMAX` says otherwise (GDAL's default, 5% of RAM,
/// would let the cache grow with the raster). Call once at start-up.
pub fn configure_gdal() {
    gdal::config::set_error_handler(|class, code, msg| {
        tracing::debug!(target: "gdal", ?class, code, "{msg}");
    });
    if std::env::var_os("GDAL_CACHEMAX").is_none() {
        let _ = gdal::config::set_config_option("GDAL_CACHEMAX", "64");
    }
}
