//! Disk space, before and after: a run whose class map clearly cannot fit the output
//! folder's free space is refused before any work ([`check`]), and a write that fails
//! because the disk filled up says so, with the space needed ([`explain_full_disk`]).
//!
//! The bound is the uncompressed size of what a run writes beside the output: the
//! staging GeoTIFF and the COG made from it (with overviews, a third more), both there
//! at the end. Compression usually makes class maps several times smaller, so the
//! check can be passed over (`--no-space-check`) when the user knows better.

use std::path::Path;

use super::output::folder_of;
use crate::error::{Error, Result};

/// Free and total bytes of the file system holding `folder` (as an unprivileged user
/// sees them), or None when the system cannot tell.
pub fn free_bytes(folder: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(folder.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a statvfs struct the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as u64;
    Some((
        (st.f_bavail as u64).saturating_mul(frsize),
        (st.f_blocks as u64).saturating_mul(frsize),
    ))
}

/// True when the file system holding `folder` is mounted read-only.
pub fn read_only_fs(folder: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
        return false;
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a statvfs struct the call fills in.
    unsafe { libc::statvfs(c.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY != 0 }
}

/// The most bytes a class map of `pixels` pixels writes beside its output: the staging
/// file and the COG with its overviews, uncompressed (`bytes_per_px`: 1 for Byte, 2
/// for UInt16; times 2 with a confidence band).
pub fn class_map_bound(pixels: u64, bytes_per_px: u64, bands: u64) -> u128 {
    let raw = pixels as u128 * bytes_per_px as u128 * bands as u128;
    // staging + COG + overviews (1/4 + 1/16 + ... < 1/3), plus headers
    raw + raw + raw / 3 + (1 << 20)
}

/// Human-readable bytes: `512 MiB`, `3.4 GiB`.
pub fn human(bytes: u128) -> String {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    if gib >= 1024.0 * 1024.0 {
        format!("{:.1} PiB", gib / (1024.0 * 1024.0))
    } else if gib >= 1024.0 {
        format!("{:.1} TiB", gib / 1024.0)
    } else if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else if bytes >= 1 << 20 {
        format!("{:.0} MiB", (bytes as f64 / (1u64 << 20) as f64).ceil())
    } else {
        format!("{:.0} KiB", (bytes as f64 / 1024.0).ceil())
    }
}

/// Refuses, before any work, an `output` whose files need up to `need` bytes where its
/// folder has less free.
pub fn check(output: &Path, need: u128, what: &str) -> Result<()> {
    let folder = folder_of(output);
    let Some((free, _)) = free_bytes(&folder) else {
        return Ok(());
    };
    if need <= free as u128 {
        return Ok(());
    }
    Err(Error::output(
        output,
        format!(
            "{what} needs up to {} of disk (staging file and COG, uncompressed) but {} has {} free; free some space, choose another output folder, or pass --no-space-check (compression usually makes class maps several times smaller)",
            human(need),
            folder.display(),
            human(free as u128)
        ),
    ))
}

/// Below this many free bytes, a failed write is taken for a full disk.
const FULL_BELOW_BYTES: u64 = 16 << 20;

/// The words that start the problem of [`when_full`]'s error.
const FULL: &str = "the disk is full";

/// An output error met while the output folder's disk is (all but) full, said as such;
/// other errors unchanged. Called where the write failed, while the temporary files
/// still take their space (GDAL's own words for it vary: "No space left on device",
/// "TIFFRewriteDirectory: Error fetching directory count", ...).
pub fn when_full(e: Error, output: &Path) -> Error {
    if !matches!(e, Error::Output { .. }) {
        return e;
    }
    let folder = folder_of(output);
    match free_bytes(&folder) {
        Some((free, total)) if free < FULL_BELOW_BYTES => Error::output(
            output,
            format!(
                "{FULL}, {} free of {} in {}; nothing was written; free some space or choose another output folder",
                human(free as u128),
                human(total as u128),
                folder.display()
            ),
        )
        .caused_by(e),
        _ => e,
    }
}

/// A full-disk error of [`when_full`], said again with the space the run needs.
pub fn explain_full_disk(e: Error, output: &Path, need: u128) -> Error {
    match &e {
        Error::Output { problem, .. } if problem.starts_with(FULL) => {
            let rest = problem[FULL.len()..].to_string();
            Error::output(
                output,
                format!(
                    "{FULL}: the class map needs up to {} (staging file and COG, uncompressed){rest}",
                    human(need)
                ),
            )
            .caused_by(e)
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_and_human() {
        assert_eq!(class_map_bound(0, 1, 1), 1 << 20);
        assert_eq!(class_map_bound(3 << 20, 1, 1), (7 << 20) + (1 << 20));
        assert_eq!(human(512 << 20), "512 MiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
        assert!(free_bytes(Path::new(".")).is_some_and(|(f, t)| f <= t && t > 0));
        assert!(free_bytes(Path::new("/no/such/folder")).is_none());
    }
}
