//! What makes an item done: its output carries the GDAL metadata item
//! `TERRATILE_JOB_STAMP`, a sha256 over the job's settings (less the thread budget),
//! the model's (and mask model's) sha256, the input's identity (path, size and
//! modification time; GDAL's `VSIStatL` for `/vsi...` paths) and the item's rows. An
//! output that exists but carries another stamp (other settings, a retrained model, a
//! changed input) is not done.

use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Item, Job, Settings};
use crate::error::{Error, Result};
use crate::store::sha256_file;

/// The metadata item holding the stamp.
pub const STAMP_KEY: &str = "TERRATILE_JOB_STAMP";

/// Computes item stamps; the models are checksummed once.
pub struct Stamper<'a> {
    job: &'a Job,
    settings: Settings,
    model: String,
    mask: Option<String>,
}

impl<'a> Stamper<'a> {
    /// Checksums the job's models (an error when one is missing).
    pub fn new(job: &'a Job) -> Result<Stamper<'a>> {
        let settings = Settings {
            threads: None,
            ..job.settings.clone()
        };
        let model = model_sha(&settings.model)?;
        let mask = settings.mask_model.as_deref().map(model_sha).transpose()?;
        Ok(Stamper {
            job,
            settings,
            model,
            mask,
        })
    }

    /// The stamp item `index` must carry (an error when its input is missing).
    pub fn item(&self, index: usize) -> Result<String> {
        let it: &Item = &self.job.items[index];
        let scene = &self.job.scenes[it.scene];
        let identity = json!({
            "terratile": env!("CARGO_PKG_VERSION"),
            "settings": self.settings,
            "model_sha256": self.model,
            "mask_sha256": self.mask,
            "input": input_identity(&scene.input)?,
            "rows": it.rows,
            "scene": scene.name,
        });
        Ok(hex(&Sha256::digest(identity.to_string().as_bytes())))
    }
}

/// The stamp of a merged scene: over the stamps of its items, in order.
pub fn of_scene(item_stamps: &[String]) -> String {
    hex(&Sha256::digest(item_stamps.join(",").as_bytes()))
}

/// The stamp an existing raster carries (None: no raster there, or no stamp).
pub fn read(path: &Path) -> Option<String> {
    if !path.exists() {
        return None;
    }
    use gdal::Metadata;
    let ds = gdal::Dataset::open(path).ok()?;
    ds.metadata_item(STAMP_KEY, "")
}

/// True when the raster at `path` carries `stamp`.
pub fn carries(path: &Path, stamp: &str) -> bool {
    read(path).as_deref() == Some(stamp)
}

fn model_sha(path: &Path) -> Result<String> {
    if !path.is_file() {
        return Err(Error::model(
            path,
            "does not exist (or is not a file); put the model there or plan the job again with -m",
        ));
    }
    sha256_file(path)
}

/// Path, size and modification time of an input: a local file's from the file system,
/// a GDAL virtual path's (`/vsicurl/`, `/vsis3/`, `/vsizip/`) from GDAL.
pub fn input_identity(path: &Path) -> Result<serde_json::Value> {
    let missing = || {
        Error::input(
            path,
            "does not exist or cannot be read; restore the input (or plan the job again without it)",
        )
    };
    let text = path.to_string_lossy();
    if text.starts_with("/vsi") {
        let size = vsi_size(&text).ok_or_else(missing)?;
        return Ok(json!({"path": text, "size": size}));
    }
    let m = std::fs::metadata(path).map_err(|_| missing())?;
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as u64);
    Ok(json!({"path": text, "size": m.len(), "mtime": mtime}))
}

/// GDAL's size of a (virtual) path (for `/vsicurl/`, one HEAD request).
pub fn vsi_size(path: &str) -> Option<u64> {
    let c = std::ffi::CString::new(path).ok()?;
    let mode = std::ffi::CString::new("rb").ok()?;
    // SAFETY: the handle is checked for NULL, used, then closed; the strings outlive it.
    unsafe {
        let fp = gdal_sys::VSIFOpenL(c.as_ptr(), mode.as_ptr());
        if fp.is_null() {
            return None;
        }
        let ok = gdal_sys::VSIFSeekL(fp, 0, 2) == 0; // SEEK_END
        let size = gdal_sys::VSIFTellL(fp);
        gdal_sys::VSIFCloseL(fp);
        ok.then_some(size)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
