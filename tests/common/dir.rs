//! A fresh temporary folder per test, under cargo's `CARGO_TARGET_TMPDIR` (so runs leave
//! nothing in /tmp): `target/tmp/terratile-test/BINARY/NAME`. The test binary's name
//! keeps two test files apart, and a name asked for twice within one binary gets a
//! counter (`NAME-2`, ...), so no two tests ever share a folder. The folder is removed
//! when the test passes and kept (its path printed) when it fails; set
//! `TERRATILE_KEEP_TEST_DIRS=1` to keep every folder.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folder of this test binary's temporary folders.
pub fn tmp_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("terratile-test")
        .join(env!("CARGO_CRATE_NAME"))
}

/// A fresh, empty folder for one test (a previous run's folder of the same name is
/// replaced). Derefs to its [`Path`].
pub fn tempdir(name: &str) -> TestDir {
    static TAKEN: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
    let unique = {
        let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
        let n = taken
            .get_or_insert_with(HashMap::new)
            .entry(name.to_string())
            .or_insert(0);
        *n += 1;
        if *n == 1 {
            name.to_string()
        } else {
            format!("{name}-{n}")
        }
    };
    let path = tmp_root().join(unique);
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    TestDir { path, keep: false }
}

/// A test's temporary folder: removed on drop unless the test is failing (panicking), the
/// folder was [`kept`](TestDir::keep), or `TERRATILE_KEEP_TEST_DIRS` is set.
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
    keep: bool,
}

impl TestDir {
    /// Keeps the folder for good (fixtures shared by the tests of one binary) and
    /// returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<OsStr> for TestDir {
    fn as_ref(&self) -> &OsStr {
        self.path.as_os_str()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if self.keep || std::env::var_os("TERRATILE_KEEP_TEST_DIRS").is_some_and(|v| !v.is_empty())
        {
            return;
        }
        if std::thread::panicking() {
            eprintln!("test folder kept for inspection: {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
