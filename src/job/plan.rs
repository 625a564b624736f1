//! `job plan`: inputs -> a job file.
//!
//! Inputs: paths (any path GDAL opens, `/vsicurl/...` included), glob patterns (quoted
//! so that the shell leaves them alone: `'scenes/*.tif'`), a list file (one path or
//! pattern a line; `#` comments; relative paths from the list's folder), and STAC
//! Items / ItemCollections ([`super::stac`]). A VRT is one scene, as GDAL sees it: the
//! mosaic it describes, sharded like any tall raster (to run its sources one by one,
//! list them instead).
//!
//! A scene taller than `--shard-rows` rows is cut into row bands of about that height
//! (`ceil(height / shard_rows)` bands of equal height); each band is an item that runs
//! on the whole raster's tile grid, so the merged bands equal one unsharded run.

use std::path::{Path, PathBuf};

use super::{stac, Item, Job, Scene, Settings, JOB_VERSION};
use crate::error::{Error, Result};
use crate::raster::RasterInfo;
use crate::segment::SegmentOptions;

/// What `job plan` is told.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Paths, `/vsi...` paths or glob patterns.
    pub inputs: Vec<String>,
    /// A file listing inputs, one a line.
    pub list: Option<PathBuf>,
    /// STAC Items or ItemCollections.
    pub stac: Vec<PathBuf>,
    /// The assets stacked from each STAC Item, in order (keys or common names).
    pub assets: Vec<String>,
    /// Where the job file goes.
    pub job: PathBuf,
    /// Where the outputs go.
    pub out_dir: PathBuf,
    /// Scenes taller than this are cut into row-band shards.
    pub shard_rows: Option<usize>,
    /// The settings every item runs with (input, output and rows unused).
    pub segment: SegmentOptions,
}

/// Plans the job and writes the job file; returns it.
pub fn plan(o: &PlanOptions) -> Result<Job> {
    if o.shard_rows == Some(0) {
        return Err(Error::Usage(
            "--shard-rows 0: give the height of a shard in rows, e.g. 1024".into(),
        ));
    }
    let model = absolute(&o.segment.model);
    if !model.is_file() {
        return Err(Error::model(
            &o.segment.model,
            "does not exist (or is not a file); give the ONNX model with -m",
        ));
    }
    std::fs::create_dir_all(&o.out_dir).map_err(|e| {
        Error::output(
            &o.out_dir,
            format!("cannot create the output folder ({e}); choose a writable one"),
        )
    })?;
    let out_dir = o
        .out_dir
        .canonicalize()
        .unwrap_or_else(|_| absolute(&o.out_dir));

    // every input as a (name, path) pair, in the order given
    let mut inputs: Vec<(String, PathBuf)> = Vec::new();
    for pat in &o.inputs {
        for p in expand(pat, Path::new("."), None)? {
            inputs.push((stem(&p), p));
        }
    }
    if let Some(list) = &o.list {
        let text = std::fs::read_to_string(list).map_err(|e| {
            Error::input(list, format!("cannot read the list ({e}); check the path"))
        })?;
        let base = crate::write::output::folder_of(list);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for p in expand(line, &base, Some((list, n + 1)))? {
                inputs.push((stem(&p), p));
            }
        }
    }
    for s in &o.stac {
        for sc in stac::scenes(s, &o.assets, &out_dir.join("stac-inputs"))? {
            inputs.push((sc.id, sc.vrt));
        }
    }
    if inputs.is_empty() {
        return Err(Error::Usage(
            "job plan: no inputs; give rasters, glob patterns, --list FILE or --stac FILE".into(),
        ));
    }

    // scenes: each input described once (a missing or unreadable input stops the plan)
    let mut scenes: Vec<Scene> = Vec::new();
    for (name, input) in inputs {
        let info = RasterInfo::open(&input)?;
        let mut name = safe_name(&name);
        let base = name.clone();
        let mut k = 2;
        while scenes.iter().any(|s| s.name == name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        scenes.push(Scene {
            name,
            input,
            width_px: info.grid.width_px,
            height_px: info.grid.height_px,
        });
    }

    // items: a scene, or its row bands
    let mut items = Vec::new();
    for (i, s) in scenes.iter().enumerate() {
        match o.shard_rows {
            Some(n) if s.height_px > n => {
                let k = s.height_px.div_ceil(n);
                for b in 0..k {
                    let (a, z) = (b * s.height_px / k, (b + 1) * s.height_px / k);
                    items.push(Item {
                        scene: i,
                        rows: Some([a, z]),
                        output: PathBuf::from("shards")
                            .join(format!("{}.rows-{a:06}-{z:06}.tif", s.name)),
                    });
                }
            }
            _ => items.push(Item {
                scene: i,
                rows: None,
                output: PathBuf::from(format!("{}.tif", s.name)),
            }),
        }
    }
    let mut settings = Settings::of(&o.segment);
    settings.model = model;
    settings.mask_model = settings.mask_model.as_deref().map(absolute);
    let job = Job {
        terratile_job: JOB_VERSION,
        out_dir,
        settings,
        scenes,
        items,
    };
    job.save(&o.job)?;
    Ok(job)
}

/// One input line: a `/vsi...` path as it is, a glob pattern expanded (sorted; an error
/// when it matches nothing), a path made absolute.
fn expand(pat: &str, base: &Path, line: Option<(&Path, usize)>) -> Result<Vec<PathBuf>> {
    let whence = || match line {
        Some((list, n)) => format!("{} line {n}: ", list.display()),
        None => String::new(),
    };
    if pat.starts_with("/vsi") {
        return Ok(vec![PathBuf::from(pat)]);
    }
    let full = if Path::new(pat).is_absolute() {
        PathBuf::from(pat)
    } else {
        base.join(pat)
    };
    if !pat.contains(['*', '?', '[']) {
        return Ok(vec![absolute(&full)]);
    }
    let text = full.to_string_lossy().into_owned();
    let found = glob::glob(&text)
        .map_err(|e| Error::Usage(format!("{}{pat}: not a glob pattern ({e})", whence())))?
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .map(|p| absolute(&p))
        .collect::<Vec<_>>();
    if found.is_empty() {
        return Err(Error::Usage(format!(
            "{}{pat}: the pattern matches no file; check it (and quote it so the shell leaves it to terratile)",
            whence()
        )));
    }
    Ok(found)
}

/// A path made absolute (canonical when it exists), so the job runs from any folder.
fn absolute(p: &Path) -> PathBuf {
    if p.to_string_lossy().starts_with("/vsi") {
        return p.to_path_buf();
    }
    p.canonicalize().unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// The scene name of a path: its file name without the extension.
fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scene".into())
}

/// A name usable as a file name: letters, digits, `.`, `_` and `-` kept, the rest `_`.
pub fn safe_name(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if n.is_empty() || n.starts_with('.') {
        format!("scene{n}")
    } else {
        n
    }
}
