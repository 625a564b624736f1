//! The output's file format and GDAL creation options, as GDAL programs take them
//! (`--of`, `--co KEY=VALUE`): the project's defaults, overridden key by key by the
//! user's, and checked against the driver's own list before any work starts.
//!
//! Defaults (every one overridable with `--co`):
//!
//! | format | options |
//! |---|---|
//! | `COG` (default) | `COMPRESS=DEFLATE` (GDAL's `LEVEL` 6), `BLOCKSIZE=512`, `OVERVIEW_RESAMPLING=MODE`, `BIGTIFF=IF_SAFER`, `NUM_THREADS=` the thread budget (one fewer for a map of up to 8 MiB written while the model is freed: [`super::ClassWriter::leave_a_core`]) |
//! | `GTiff` | `TILED=YES`, `BLOCKXSIZE=512`, `BLOCKYSIZE=512`, `COMPRESS=DEFLATE`, `BIGTIFF=IF_SAFER`, `NUM_THREADS=` the thread budget (no overviews) |

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;

use gdal::DriverManager;

use crate::error::{Error, Result};

/// The raster format of a published output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Cloud Optimized GeoTIFF (tiled, with overviews): GDAL's COG driver.
    #[default]
    Cog,
    /// A plain tiled GeoTIFF without overviews: GDAL's GTiff driver.
    GTiff,
}

impl Format {
    /// GDAL's driver name.
    pub fn driver(self) -> &'static str {
        match self {
            Format::Cog => "COG",
            Format::GTiff => "GTiff",
        }
    }
}

/// The key of a `KEY=VALUE` creation option, upper case.
fn option_key(option: &str) -> String {
    option.split('=').next().unwrap_or("").to_ascii_uppercase()
}

/// How an output is published: format and creation options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publish {
    pub format: Format,
    /// The user's `KEY=VALUE` creation options; they replace the defaults of the same key.
    pub creation_options: Vec<String>,
}

impl Publish {
    /// The project's default creation options for the format (`threads`: NUM_THREADS).
    pub fn defaults(&self, threads: usize) -> Vec<String> {
        let threads = format!("NUM_THREADS={}", threads.max(1));
        let d: &[&str] = match self.format {
            Format::Cog => &[
                "COMPRESS=DEFLATE",
                "BLOCKSIZE=512",
                "OVERVIEW_RESAMPLING=MODE",
                "BIGTIFF=IF_SAFER",
            ],
            Format::GTiff => &[
                "TILED=YES",
                "BLOCKXSIZE=512",
                "BLOCKYSIZE=512",
                "COMPRESS=DEFLATE",
                "BIGTIFF=IF_SAFER",
            ],
        };
        d.iter()
            .map(|s| s.to_string())
            .chain(std::iter::once(threads))
            .collect()
    }

    /// The creation options passed to the driver: the defaults, each replaced by the
    /// user's option of the same key (case-insensitive), then the user's other options.
    pub fn options(&self, threads: usize) -> Vec<String> {
        self.defaults(threads)
            .into_iter()
            .filter(|d| !self.user_sets(option_key(d).as_str()))
            .chain(self.creation_options.iter().cloned())
            .collect()
    }

    /// Whether the user gave creation option `key` (case-insensitive).
    pub fn user_sets(&self, key: &str) -> bool {
        self.creation_options
            .iter()
            .any(|o| option_key(o).eq_ignore_ascii_case(key))
    }

    /// Checks, before any work, the output's name (a GeoTIFF: `.tif`, `.tiff` or no
    /// extension) and the user's creation options against the driver's option list.
    pub fn check(&self, output: &Path) -> Result<()> {
        if let Some(ext) = output
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
        {
            if ext != "tif" && ext != "tiff" {
                return Err(Error::output(
                    output,
                    format!(
                        "has the extension .{ext}, but terratile writes GeoTIFF (--of {}); name the output .tif or .tiff",
                        self.format.driver()
                    ),
                ));
            }
        }
        for o in &self.creation_options {
            match o.split_once('=') {
                Some((k, _)) if !k.trim().is_empty() => {}
                _ => {
                    return Err(Error::output(
                        output,
                        format!("--co {o:?} is not KEY=VALUE; write it as in gdal_translate, e.g. --co COMPRESS=ZSTD"),
                    ))
                }
            }
        }
        if self.creation_options.is_empty() {
            return Ok(());
        }
        let driver = self.format.driver();
        let d = DriverManager::get_driver_by_name(driver)
            .map_err(|e| Error::output(output, format!("GDAL has no {driver} driver: {e}")))?;
        validate(&d, &self.creation_options).map_err(|problems| {
            Error::output(
                output,
                format!(
                    "bad creation option for GDAL's {driver} driver: {problems}; see `gdalinfo --format {driver}` for the options it takes"
                ),
            )
        })
    }
}

/// GDAL's `GDALValidateCreationOptions`, with its warnings collected instead of logged:
/// `Err` holds them joined by "; ".
fn validate(driver: &gdal::Driver, options: &[String]) -> std::result::Result<(), String> {
    let owned: Vec<CString> = options
        .iter()
        .map(|o| CString::new(o.replace('\0', "")).unwrap_or_default())
        .collect();
    let mut ptrs: Vec<*mut c_char> = owned.iter().map(|c| c.as_ptr() as *mut c_char).collect();
    ptrs.push(std::ptr::null_mut());
    let mut messages: Vec<String> = Vec::new();

    unsafe extern "C" fn collect(_class: gdal_sys::CPLErr::Type, _no: c_int, msg: *const c_char) {
        // SAFETY: the user data is the Vec pushed with this handler, alive until the pop;
        // GDAL calls the handler on this thread only (the handler stack is thread-local).
        let messages = gdal_sys::CPLGetErrorHandlerUserData() as *mut Vec<String>;
        if !messages.is_null() && !msg.is_null() {
            let text = CStr::from_ptr(msg).to_string_lossy();
            (*messages).push(text.trim_end_matches('.').to_string());
        }
    }
    // SAFETY: a NULL-terminated list of valid C strings outliving the call; the handler
    // and its user data are popped before `messages` goes out of scope.
    let ok = unsafe {
        gdal_sys::CPLPushErrorHandlerEx(Some(collect), &mut messages as *mut _ as *mut c_void);
        let ok = gdal_sys::GDALValidateCreationOptions(driver.c_driver(), ptrs.as_mut_ptr() as _);
        gdal_sys::CPLPopErrorHandler();
        ok
    };
    if ok != 0 {
        Ok(())
    } else if messages.is_empty() {
        Err(options.join(" "))
    } else {
        Err(messages.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_options_replace_defaults_by_key() {
        let p = Publish {
            format: Format::Cog,
            creation_options: vec!["compress=ZSTD".into(), "LEVEL=9".into()],
        };
        let o = p.options(4);
        assert!(o.contains(&"compress=ZSTD".to_string()));
        assert!(!o.iter().any(|s| s == "COMPRESS=DEFLATE"));
        assert!(o.contains(&"BLOCKSIZE=512".to_string()));
        assert!(o.contains(&"NUM_THREADS=4".to_string()));
        assert!(o.contains(&"LEVEL=9".to_string()));
    }

    #[test]
    fn validation_names_the_bad_option() {
        // the defaults too: an option the driver does not list is ignored by GDAL. In
        // this test, not one of its own: GDAL builds a driver's option list on first
        // use, not safely from two threads at once.
        for format in [Format::Cog, Format::GTiff] {
            let p = Publish {
                format,
                creation_options: vec![],
            };
            let d = DriverManager::get_driver_by_name(format.driver()).unwrap();
            validate(&d, &p.defaults(2)).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        }
        let p = Publish {
            format: Format::Cog,
            creation_options: vec!["COMPRES=ZSTD".into()],
        };
        let e = p.check(Path::new("x.tif")).unwrap_err().to_string();
        assert!(e.contains("COMPRES"), "{e}");
        let p = Publish {
            format: Format::Cog,
            creation_options: vec!["COMPRESS=ZSTD".into(), "BLOCKSIZE=256".into()],
        };
        p.check(Path::new("x.tif")).unwrap();
        assert!(Publish::default().check(Path::new("x.jpg")).is_err());
        assert!(Publish::default().check(Path::new("x.TIFF")).is_ok());
    }
}
