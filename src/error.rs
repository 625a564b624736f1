//! The library's one error type. Every message is written for the person running the
//! command: it names the file, says what is wrong and, where possible, how to fix it.
//! The library error that caused it (GDAL's, SQLite's, ...) is kept as the
//! [`source`](std::error::Error::source), so a caller can still see the cause; the
//! message itself already says, in one line, what the user needs.

use std::path::{Path, PathBuf};

/// The cause behind an error, kept for callers that walk the chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can stop a terratile run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input raster is missing, unreadable or unsuitable.
    #[error("{}: {problem}", path.display())]
    Input {
        path: PathBuf,
        problem: String,
        #[source]
        source: Option<Cause>,
    },
    /// The model file is missing, not ONNX, or its metadata cannot be used.
    #[error("{}: {problem}", path.display())]
    Model {
        path: PathBuf,
        problem: String,
        #[source]
        source: Option<Cause>,
    },
    /// The model and the raster do not fit together (bands, tile size, data type).
    #[error("{}: {problem}", path.display())]
    Mismatch {
        path: PathBuf,
        problem: String,
        #[source]
        source: Option<Cause>,
    },
    /// The output cannot be written.
    #[error("{}: {problem}", path.display())]
    Output {
        path: PathBuf,
        problem: String,
        #[source]
        source: Option<Cause>,
    },
    /// ONNX Runtime could not be found or loaded.
    #[error("{0}")]
    Runtime(String),
    /// Flags that contradict each other or are out of range.
    #[error("{0}")]
    Usage(String),
    /// A broken invariant of terratile itself (a bug, not the user's input).
    #[error("internal error: {0}; please report it")]
    Internal(String),
    /// The run was cancelled (Ctrl-C); temporary files were removed.
    #[error("interrupted; nothing was written at {}", .0.display())]
    Interrupted(PathBuf),
}

impl Error {
    pub fn input(path: &Path, problem: impl Into<String>) -> Self {
        Error::Input {
            path: path.to_path_buf(),
            problem: problem.into(),
            source: None,
        }
    }
    pub fn model(path: &Path, problem: impl Into<String>) -> Self {
        Error::Model {
            path: path.to_path_buf(),
            problem: problem.into(),
            source: None,
        }
    }
    pub fn mismatch(path: &Path, problem: impl Into<String>) -> Self {
        Error::Mismatch {
            path: path.to_path_buf(),
            problem: problem.into(),
            source: None,
        }
    }
    pub fn output(path: &Path, problem: impl Into<String>) -> Self {
        Error::Output {
            path: path.to_path_buf(),
            problem: problem.into(),
            source: None,
        }
    }

    /// Keeps `cause` as this error's source (the message is unchanged).
    pub fn caused_by(mut self, cause: impl Into<Cause>) -> Self {
        match &mut self {
            Error::Input { source, .. }
            | Error::Model { source, .. }
            | Error::Mismatch { source, .. }
            | Error::Output { source, .. } => *source = Some(cause.into()),
            _ => {}
        }
        self
    }
}

/// Tile-grid parameters that `tiles` rejects, in the words of the flags that set them.
impl From<tiles::GridError> for Error {
    fn from(e: tiles::GridError) -> Self {
        use tiles::GridError as G;
        match e {
            G::EmptyRaster => Error::Usage("the raster has no pixels".into()),
            G::ZeroTile => Error::Usage("--tile must be at least 1 pixel".into()),
            G::OverlapTooLarge {
                tile_px,
                overlap_px,
            } => Error::Usage(format!(
                "--overlap {overlap_px} must be smaller than the tile size {tile_px}"
            )),
            G::MarginTooLarge {
                overlap_px,
                margin_px,
            } => Error::Usage(format!(
                "--margin {margin_px} must be at most half the overlap ({overlap_px})"
            )),
            // plans align only tiles and overlaps that are multiples already
            G::Misaligned { .. } => Error::Internal(e.to_string()),
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

/// Maps a GDAL result into an [`Error`] whose message is built from GDAL's one-line text
/// and which keeps GDAL's error as its source.
pub(crate) trait GdalContext<T> {
    /// `make(text)` builds the error from GDAL's message.
    fn gdal_err(self, make: impl FnOnce(String) -> Error) -> Result<T>;
}

impl<T> GdalContext<T> for std::result::Result<T, gdal::errors::GdalError> {
    fn gdal_err(self, make: impl FnOnce(String) -> Error) -> Result<T> {
        self.map_err(|e| make(gdal_text(&e)).caused_by(e))
    }
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
