//! Output hygiene, in one place: nothing half-written ever sits at an output path, and
//! no input is overwritten.
//!
//! - Temporary files go beside the output under hidden, per-process names
//!   ([`temp_beside`]: `.NAME.terratile-PID.SUFFIX`) and are renamed into place at the
//!   end; [`TempFiles`] owns the ones a job makes and removes them (with their
//!   `.aux.xml` companions) when dropped, whatever happened.
//! - GDAL keeps category names and attribute tables in a PAM companion
//!   ([`aux_path`]: `NAME.aux.xml`) that moves and disappears with its raster, as does
//!   the QGIS style sidecar (`NAME.qml`, [`super::style`]).
//! - Before any work: the output's folder must exist and be writable
//!   ([`check_writable`]) and the output may not be one of the inputs
//!   ([`refuse_overwriting`]).

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `dir/.name.terratile-PID.suffix`: hidden, beside `path`, unique per process.
pub fn temp_beside(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.terratile-{}.{suffix}", std::process::id()))
}

/// GDAL's PAM companion of a raster: `path.aux.xml`.
pub fn aux_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".aux.xml");
    PathBuf::from(s)
}

/// Removes a raster and its companions (`.aux.xml`, the QGIS style `.qml`), ignoring
/// files that do not exist.
pub fn remove_with_companions(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(aux_path(path));
    let _ = std::fs::remove_file(super::style::qml_path(path));
}

/// Temporary files beside one output, removed (with their companions) on drop.
#[derive(Debug)]
pub struct TempFiles {
    output: PathBuf,
    made: RefCell<Vec<PathBuf>>,
}

impl TempFiles {
    pub fn beside(output: &Path) -> TempFiles {
        TempFiles {
            output: output.to_path_buf(),
            made: RefCell::default(),
        }
    }

    /// A new temporary path `.OUTPUT.terratile-PID.SUFFIX`, removed on drop.
    pub fn path(&self, suffix: &str) -> PathBuf {
        let p = temp_beside(&self.output, suffix);
        self.made.borrow_mut().push(p.clone());
        p
    }
}

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in self.made.borrow().iter() {
            remove_with_companions(p);
        }
    }
}

/// Removes the temporary files beside `output` that a terratile process left when it was
/// killed outright (SIGKILL, a crash, a power cut) and that no running process owns: the
/// hidden `.NAME.terratile-PID.*` files (and those of the jobs it ran inside, such as
/// the mask model's) whose PID is no longer alive. Returns what was removed and the
/// PIDs. Needs `/proc` to tell whether a process lives; without it nothing is removed.
pub fn remove_stale(output: &Path) -> (Vec<PathBuf>, Vec<u32>) {
    let (mut removed, mut pids) = (Vec::new(), Vec::new());
    let Some(name) = output.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return (removed, pids);
    };
    if !Path::new("/proc/self").exists() {
        return (removed, pids);
    }
    let Ok(entries) = std::fs::read_dir(folder_of(output)) else {
        return (removed, pids);
    };
    let prefix = format!("{name}.terratile-");
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.starts_with('.') {
            continue;
        }
        let Some(rest) = file.trim_start_matches('.').strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue; // ours, or a run that is still going
        }
        if std::fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    (removed, pids)
}

/// What [`remove_stale`] did, as a note for the user (None when it removed nothing).
pub fn stale_note(output: &Path, (removed, pids): &(Vec<PathBuf>, Vec<u32>)) -> Option<String> {
    if removed.is_empty() {
        return None;
    }
    let pids: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    Some(format!(
        "removed {} temporary file(s) beside {} left by an earlier run that was killed (process {})",
        removed.len(),
        output.display(),
        pids.join(", ")
    ))
}

/// Checks, before any work, that `path` can be written: its folder exists, it is not a
/// folder, and the folder is writable (a hidden probe file is created and removed).
pub fn check_writable(path: &Path) -> Result<()> {
    let probe = temp_beside(path, "probe");
    create_beside(path, &probe)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The folder a path lies in ("." for a bare file name).
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The checks of [`check_writable`], leaving the (empty) file `probe` created.
pub(crate) fn create_beside(path: &Path, probe: &Path) -> Result<()> {
    let parent = folder_of(path);
    if !parent.is_dir() {
        return Err(Error::output(
            path,
            format!("the output folder {} does not exist (or is not a folder); create it or choose another output path", parent.display()),
        ));
    }
    if path
        .as_os_str()
        .to_string_lossy()
        .ends_with(std::path::MAIN_SEPARATOR)
        || path.is_dir()
    {
        return Err(Error::output(
            path,
            "is a folder; give a file name such as classes.tif",
        ));
    }
    std::fs::File::create(probe).map_err(|e| {
        Error::output(
            path,
            format!(
                "cannot write in the output folder {} ({e}); choose a writable folder",
                parent.display()
            ),
        )
        .caused_by(e)
    })?;
    Ok(())
}

/// Refuses an `output` that would overwrite a file an input reads: the input itself
/// (however named: symlinks, `./`, ...), and every file GDAL reads for it
/// ([`files_read`]: a VRT's sources, `.aux.xml`, world files, overviews). The output's
/// own `.aux.xml` companion, which is written beside it, is checked too. `what` says what
/// the inputs are ("the input raster", "one of the inputs", "the model").
pub fn refuse_overwriting(output: &Path, inputs: &[&Path], what: &str) -> Result<()> {
    let written: Vec<PathBuf> = [output.to_path_buf(), aux_path(output)]
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    if written.is_empty() {
        return Ok(()); // new files overwrite nothing
    }
    let out = output.canonicalize().ok();
    for i in inputs {
        if out.is_some() && i.canonicalize().ok() == out {
            return Err(Error::output(
                output,
                format!("is {what}; choose another output path so the input is not overwritten"),
            ));
        }
        if let Some(f) = files_read(i).into_iter().find(|f| written.contains(f)) {
            return Err(Error::output(
                output,
                format!(
                    "would overwrite {}, a file that {what} {} reads; choose another output path so it is not overwritten",
                    f.display(),
                    i.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a statistics database `db` that is the output or a file an input reads
/// (the database would replace the class map, or the map the database), before any work.
pub fn refuse_db_clash(db: &Path, output: &Path, inputs: &[&Path]) -> Result<()> {
    let Some(d) = resolved(db) else {
        return Ok(());
    };
    if [output.to_path_buf(), aux_path(output)]
        .iter()
        .any(|o| resolved(o).is_some_and(|o| o == d))
    {
        return Err(Error::Usage(format!(
            "--db {} is the output -o {}: the database would replace the class map; give the database its own file, such as stats.gpkg",
            db.display(),
            output.display()
        )));
    }
    for i in inputs {
        if files_read(i).contains(&d) {
            return Err(Error::Usage(format!(
                "--db {} is a file that the input {} reads; give the database its own file, such as stats.gpkg",
                db.display(),
                i.display()
            )));
        }
    }
    Ok(())
}

/// Every file GDAL reads for the raster at `path` (its `GetFileList`: the file, a VRT's
/// sources, `.aux.xml`, world files, overviews; and the `.aux.xml` of each listed file
/// that has one), canonicalised; just `path` itself when
/// GDAL cannot open it (a model, a file that does not exist yet).
pub fn files_read(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = path.canonicalize().into_iter().collect();
    let Ok(ds) = gdal::Dataset::open(path) else {
        return files;
    };
    // SAFETY: GDALGetFileList returns a NULL-terminated list of strings that the caller
    // owns and frees with CSLDestroy; it is read while the dataset is open.
    unsafe {
        let list = gdal_sys::GDALGetFileList(ds.c_dataset());
        if !list.is_null() {
            let mut k = 0;
            while !(*list.add(k)).is_null() {
                let f = std::ffi::CStr::from_ptr(*list.add(k)).to_string_lossy();
                // a listed source's own PAM companion is read with it (a VRT lists
                // only its own)
                let f = Path::new(f.as_ref());
                for c in [f.canonicalize(), aux_path(f).canonicalize()] {
                    if let Some(c) = c.ok().filter(|c| !files.contains(c)) {
                        files.push(c);
                    }
                }
                k += 1;
            }
            gdal_sys::CSLDestroy(list);
        }
    }
    files
}

/// A path as the file system resolves it: canonical when it exists, else its canonical
/// folder joined with its name (None when the folder does not exist either).
fn resolved(path: &Path) -> Option<PathBuf> {
    path.canonicalize().ok().or_else(|| {
        let name = path.file_name()?;
        Some(folder_of(path).canonicalize().ok()?.join(name))
    })
}
