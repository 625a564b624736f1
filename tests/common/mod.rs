//! Shared helpers for the integration tests, in four rooms:
//!
//! - [`data`]: where the real data lives (fetched by scripts/setup.sh) and the fixtures
//!   made from it (crops, class maps cut from real imagery);
//! - [`dir`]: a fresh temporary folder per test, removed when the test passes and kept
//!   for inspection when it fails;
//! - [`command`]: running `terratile` (and GDAL's programs) through [`TestCommand`], whose
//!   failures print the command line, the working folder and the test folder's files;
//! - [`assert`]: reading outputs back and the assertions shared by the test files.
//!
//! Every test binary compiles this module and uses a different subset of it, hence the
//! `dead_code` allowances on the module declarations (and only there).

#[allow(dead_code)]
pub mod assert;
#[allow(dead_code)]
pub mod command;
#[allow(dead_code)]
pub mod data;
#[allow(dead_code)]
pub mod dir;

pub use assert::*;
pub use command::*;
pub use data::*;
pub use dir::*;
