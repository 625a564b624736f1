//! The library's one error type. Every message is written for the person running the
//! command: it names the file, says what is wrong and, where possible, how to fix it.

use std::path::{Path, PathBuf};

/// Everything that can stop a terratile run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input raster is missing, unreadable or unsuitable.
    #[error("{}: {problem}", path.display())]
    Input { path: PathBuf, problem: String },
    /// The model file is missing, not ONNX, or its metadata cannot be used.
    #[error("{}: {problem}", path.display())]
    Model { path: PathBuf, problem: String },
    /// The model and the raster do not fit together (bands, tile size, data type).
    #[error("{}: {problem}", path.display())]
    Mismatch { path: PathBuf, problem: String },
    /// The output cannot be written.
    #[error("{}: {problem}", path.display())]
    Output { path: PathBuf, problem: String },
    /// ONNX Runtime could not be found or loaded.
    #[error("{0}")]
    Runtime(String),
    /// Flags that contradict each other or are out of range.
    #[error("{0}")]
    Usage(String),
    /// The run was cancelled (Ctrl-C); temporary files were removed.
    #[error("interrupted; nothing was written at {}", .0.display())]
    Interrupted(PathBuf),
}

impl Error {
    pub fn input(path: &Path, problem: impl Into<String>) -> Self {
        Error::Input {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
    pub fn model(path: &Path, problem: impl Into<String>) -> Self {
        Error::Model {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
    pub fn mismatch(path: &Path, problem: impl Into<String>) -> Self {
        Error::Mismatch {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
    pub fn output(path: &Path, problem: impl Into<String>) -> Self {
        Error::Output {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a GDAL error into one readable line: GDAL's own message without the binding's
/// wrapper text ("GDAL method ... returned a NULL pointer").
pub(crate) fn gdal_text(e: &gdal::errors::GdalError) -> String {
    use gdal::errors::GdalError;
    let raw = match e {
        GdalError::CplError { msg, .. } | GdalError::NullPointer { msg, .. } => {
            if msg.trim().is_empty() {
                "not a format GDAL recognises".to_string()
            } else {
                msg.clone()
            }
        }
        other => other.to_string(),
    };
    let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    s.trim_end_matches('.').to_string()
}

/// GDAL's last error message (for calls made through `gdal_sys`), on one line.
pub(crate) fn last_gdal_error() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a valid, NUL-terminated string owned by GDAL.
    let msg = unsafe { std::ffi::CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) }
        .to_string_lossy()
        .into_owned();
    let s = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() {
        "GDAL gave no reason".into()
    } else {
        s
    }
}
