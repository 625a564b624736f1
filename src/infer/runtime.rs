//! Finding and loading the ONNX Runtime shared library (the `ort` crate is built with
//! `load-dynamic`), and keeping its environment alive for the whole process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// File name of the ONNX Runtime build terratile is made for.
pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.31.1";

static ENV: OnceLock<ort::environment::Environment> = OnceLock::new();
static LOADED_FROM: OnceLock<PathBuf> = OnceLock::new();

/// The project's cache folder: `TERRATILE_CACHE`, else `.cache` in the source tree.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("TERRATILE_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache"),
    }
}

/// Candidate library paths in the order they are tried: `--ort-lib`, `ORT_DYLIB_PATH`,
/// the project's cache, then the system library path (by bare name).
pub fn candidates(flag: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = flag {
        v.push(p.to_path_buf());
        return v; // an explicit flag is the only choice: a wrong one must not be masked
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        v.push(PathBuf::from(p));
        return v;
    }
    v.push(cache_dir().join("ort").join(ORT_LIB_NAME));
    v.push(PathBuf::from(ORT_LIB_NAME));
    v.push(PathBuf::from("libonnxruntime.so"));
    v
}

/// Loads ONNX Runtime once per process and returns its environment.
pub fn environment(flag: Option<&Path>) -> Result<&'static ort::environment::Environment> {
    if let Some(env) = ENV.get() {
        return Ok(env);
    }
    let mut tried = Vec::new();
    for cand in candidates(flag) {
        let explicit = cand.components().count() > 1;
        if explicit && !cand.exists() {
            tried.push(format!("{} (no such file)", cand.display()));
            continue;
        }
        match ort::init_from(&cand) {
            Ok(builder) => {
                let env = builder.with_name("terratile").build().map_err(|e| {
                    Error::Runtime(format!("ONNX Runtime from {}: {e}", cand.display()))
                })?;
                let _ = LOADED_FROM.set(cand);
                return Ok(ENV.get_or_init(|| env));
            }
            Err(e) => tried.push(format!("{} ({e})", cand.display())),
        }
    }
    Err(Error::Runtime(format!(
        "ONNX Runtime 1.31 was not found (tried: {}); run scripts/setup.sh, or pass --ort-lib PATH / set ORT_DYLIB_PATH to {ORT_LIB_NAME} (from the PyPI wheel onnxruntime==1.31.1)",
        tried.join("; ")
    )))
}

/// The library file ONNX Runtime was loaded from, once loaded.
pub fn loaded_from() -> Option<&'static Path> {
    LOADED_FROM.get().map(|p| p.as_path())
}
