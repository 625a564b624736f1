//! Jobs: many scenes (and row-band shards of tall ones) as independent items that any
//! scheduler runs by index (a Slurm array, a Kubernetes Indexed Job, an AWS Batch array
//! job, or `job run --all` here), then merged into one COG per scene, a VRT, a STAC
//! ItemCollection and one statistics database.
//!
//! - [`plan`]: inputs (list file, glob, VRT, STAC) -> the job file (JSON,
//!   `schemas/job.schema.json`);
//! - [`stac`]: STAC Items / ItemCollections -> one VRT per item stacking the chosen assets;
//! - [`stamp`]: what makes an item done: its output carries the stamp of the job's
//!   settings, the model's sha256, the input's identity and the item's rows;
//! - [`run`]: one item by index (flag or the scheduler's environment), or all of them
//!   with K worker processes; each item's status file counts its runs and keeps its
//!   error line;
//! - [`merge`]: shards -> one COG per scene, the VRT, the STAC ItemCollection;
//! - [`status`]: done / failed / running / pending per item.
//!
//! The job file holds only settings and paths; a job never depends on the process that
//! planned it.

pub mod merge;
pub mod plan;
pub mod run;
pub mod stac;
pub mod stamp;
pub mod status;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::infer::Device;
use crate::prepare::BandSpec;
use crate::segment::SegmentOptions;
use crate::stitch::Blend;
use crate::write::{Format, Publish};

/// The job file's format version.
pub const JOB_VERSION: u32 = 1;

/// A job: what every item runs with, the scenes and the items.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Always [`JOB_VERSION`].
    pub terratile_job: u32,
    /// Where the outputs go (relative paths: from the job file's folder).
    pub out_dir: PathBuf,
    pub settings: Settings,
    pub scenes: Vec<Scene>,
    pub items: Vec<Item>,
}

/// One input raster and its merged output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// A unique name: the output is `NAME.tif` in the output folder.
    pub name: String,
    /// Any path GDAL opens (a file, a VRT, `/vsicurl/...`, `/vsis3/...`).
    pub input: PathBuf,
    pub width_px: usize,
    pub height_px: usize,
}

/// One unit of work: a scene, or a band of its rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Index into `scenes`.
    pub scene: usize,
    /// Output rows `[start, end)` of a row-band shard; absent for a whole scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<[usize; 2]>,
    /// The item's output, relative to the output folder.
    pub output: PathBuf,
}

/// The `segment` settings every item runs with (the flags of `job plan`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub model: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile_px: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_px: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin_px: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// As `--bands`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<String>,
    /// Thread budget of one item (not part of the stamp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// "cpu" or "cuda".
    #[serde(default = "cpu")]
    pub device: String,
    /// "hann" or "center".
    #[serde(default = "hann")]
    pub blend: String,
    #[serde(default)]
    pub tta: bool,
    #[serde(default)]
    pub confidence: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_model: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask_classes: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_bands: Option<String>,
    #[serde(default)]
    pub no_resample: bool,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub model_grid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_nodata: Option<Vec<f64>>,
    /// "COG" or "GTiff".
    #[serde(default = "cog")]
    pub format: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub creation_options: Vec<String>,
}

fn cpu() -> String {
    "cpu".into()
}
fn hann() -> String {
    "hann".into()
}
fn cog() -> String {
    "COG".into()
}

impl Settings {
    /// The settings of `segment` options (input, output and rows are the items').
    pub fn of(o: &SegmentOptions) -> Settings {
        Settings {
            model: o.model.clone(),
            tile_px: o.tile_px,
            overlap_px: o.overlap_px,
            margin_px: o.margin_px,
            batch: o.batch,
            bands: o.bands.as_ref().map(|b| b.to_string()),
            threads: o.threads,
            device: match o.device {
                Device::Cpu => "cpu",
                Device::Cuda => "cuda",
            }
            .into(),
            blend: match o.blend {
                Blend::Hann => "hann",
                Blend::Centre => "center",
            }
            .into(),
            tta: o.tta,
            confidence: o.confidence,
            mask_model: o.mask_model.clone(),
            mask_classes: o.mask_classes.clone(),
            mask_bands: o.mask_bands.as_ref().map(|b| b.to_string()),
            no_resample: o.no_resample,
            force: o.force,
            model_grid: o.model_grid,
            scale: o.scale,
            offset: o.offset,
            src_nodata: o.src_nodata.clone(),
            format: match o.publish.format {
                Format::Cog => "COG",
                Format::GTiff => "GTiff",
            }
            .into(),
            creation_options: o.publish.creation_options.clone(),
        }
    }

    /// `segment` options for these settings, or which setting of `job` is wrong.
    pub fn to_options(&self, job: &Path) -> Result<SegmentOptions> {
        let bad = |key: &str, value: &str, fix: &str| {
            Error::input(
                job,
                format!("settings.{key} is {value:?}: {fix}; fix the job file or plan it again with terratile job plan"),
            )
        };
        let bands = |key: &str, v: &Option<String>| -> Result<Option<BandSpec>> {
            v.as_ref()
                .map(|s| {
                    s.parse::<BandSpec>()
                        .map_err(|e| bad(key, s, &e.to_string()))
                })
                .transpose()
        };
        Ok(SegmentOptions {
            model: self.model.clone(),
            tile_px: self.tile_px,
            overlap_px: self.overlap_px,
            margin_px: self.margin_px,
            batch: self.batch,
            bands: bands("bands", &self.bands)?,
            threads: self.threads,
            device: match self.device.as_str() {
                "cpu" => Device::Cpu,
                "cuda" => Device::Cuda,
                d => return Err(bad("device", d, "it is cpu or cuda")),
            },
            blend: match self.blend.as_str() {
                "hann" => Blend::Hann,
                "center" => Blend::Centre,
                b => return Err(bad("blend", b, "it is hann or center")),
            },
            tta: self.tta,
            confidence: self.confidence,
            mask_model: self.mask_model.clone(),
            mask_classes: self.mask_classes.clone(),
            mask_bands: bands("mask_bands", &self.mask_bands)?,
            no_resample: self.no_resample,
            force: self.force,
            model_grid: self.model_grid,
            scale: self.scale,
            offset: self.offset,
            src_nodata: self.src_nodata.clone(),
            publish: Publish {
                format: match self.format.as_str() {
                    "COG" | "cog" => Format::Cog,
                    "GTiff" | "gtiff" => Format::GTiff,
                    f => return Err(bad("format", f, "it is COG or GTiff")),
                },
                creation_options: self.creation_options.clone(),
            },
            ..SegmentOptions::default()
        })
    }
}

impl Job {
    /// Reads a job file, or says in one line what is wrong with it.
    pub fn load(path: &Path) -> Result<Job> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(
                path,
                format!("cannot read the job file ({e}); give the file terratile job plan wrote"),
            )
        })?;
        let job: Job = serde_json::from_str(&text).map_err(|e| {
            Error::input(
                path,
                format!("is not a terratile job file ({e}); plan it again with terratile job plan (schemas/job.schema.json describes the format)"),
            )
        })?;
        job.check(path)?;
        Ok(job)
    }

    /// The checks serde cannot make: version, item -> scene links, rows, unique outputs.
    fn check(&self, path: &Path) -> Result<()> {
        let bad = |what: String| {
            Error::input(
                path,
                format!("{what}; plan the job again with terratile job plan"),
            )
        };
        if self.terratile_job != JOB_VERSION {
            return Err(bad(format!(
                "is a job file of version {}, this terratile reads version {JOB_VERSION}",
                self.terratile_job
            )));
        }
        if self.items.is_empty() {
            return Err(bad("lists no items".into()));
        }
        self.settings.to_options(path)?;
        let mut outputs = std::collections::HashSet::new();
        for (i, it) in self.items.iter().enumerate() {
            let Some(scene) = self.scenes.get(it.scene) else {
                return Err(bad(format!(
                    "item {i} names scene {} but the job has {} scene(s)",
                    it.scene,
                    self.scenes.len()
                )));
            };
            if let Some([a, b]) = it.rows {
                if a >= b || b > scene.height_px {
                    return Err(bad(format!(
                        "item {i} has rows {a}..{b}, outside the {} rows of scene {}",
                        scene.height_px, scene.name
                    )));
                }
            }
            let out = &it.output;
            if out.is_absolute()
                || out
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
                || out.as_os_str().is_empty()
            {
                return Err(bad(format!(
                    "item {i} has the output {:?}; outputs are relative paths inside the output folder",
                    out.display().to_string()
                )));
            }
            if !outputs.insert(out.clone()) {
                return Err(bad(format!(
                    "item {i} writes {}, as another item does",
                    out.display()
                )));
            }
        }
        let mut names = std::collections::HashSet::new();
        for s in &self.scenes {
            if s.name.is_empty() || s.name.contains(['/', '\\']) || !names.insert(&s.name) {
                return Err(bad(format!(
                    "scene name {:?} is empty, has a slash, or is not unique",
                    s.name
                )));
            }
        }
        Ok(())
    }

    /// Writes the job file (temporary name, then renamed into place).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("job file: {e}")))?;
        crate::write::output::check_writable(path)?;
        let tmp = crate::write::output::temp_beside(path, "json");
        let io = |e: std::io::Error| {
            Error::output(path, format!("cannot write the job file: {e}")).caused_by(e)
        };
        std::fs::write(&tmp, text + "\n").map_err(io)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// The output folder, resolved against the job file's folder.
    pub fn out_dir(&self, job_file: &Path) -> PathBuf {
        if self.out_dir.is_absolute() {
            self.out_dir.clone()
        } else {
            crate::write::output::folder_of(job_file).join(&self.out_dir)
        }
    }

    /// Item `index`, or the one-line error an index out of range deserves.
    pub fn item(&self, job_file: &Path, index: usize) -> Result<&Item> {
        self.items.get(index).ok_or_else(|| {
            Error::Usage(format!(
                "{}: index {index} is out of range: the job has {} item(s), 0..={}; submit the array as --array=0-{}",
                job_file.display(),
                self.items.len(),
                self.items.len() - 1,
                self.items.len() - 1
            ))
        })
    }

    /// A short name of item `index` for messages: `3 (s2 rows 512..1024)`.
    pub fn describe(&self, index: usize) -> String {
        let it = &self.items[index];
        let scene = &self.scenes[it.scene].name;
        match it.rows {
            Some([a, b]) => format!("item {index} ({scene} rows {a}..{b})"),
            None => format!("item {index} ({scene})"),
        }
    }
}

/// The array index the scheduler gives this process: `SLURM_ARRAY_TASK_ID` (Slurm),
/// `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job), `AWS_BATCH_JOB_ARRAY_INDEX` (an
/// AWS Batch array job). None when none is set.
pub fn index_from_env() -> Result<Option<usize>> {
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "JOB_COMPLETION_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ] {
        if let Ok(v) = std::env::var(var) {
            return v.trim().parse().map(Some).map_err(|_| {
                Error::Usage(format!("{var}={v:?} is not an array index; give --index N"))
            });
        }
    }
    Ok(None)
}
