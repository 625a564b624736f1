//! `job run`: one item by index (`--index N`, or the scheduler's array index from the
//! environment), or every item with K worker processes (`--all --workers K`).
//!
//! An item whose output already carries its stamp is skipped. Otherwise it runs as
//! `segment` does (temporary files beside the output, renamed into place at the end, so
//! a failed, interrupted or killed item leaves nothing at its output path), with the
//! stamp written into the output's metadata. Its status file
//! (`OUT_DIR/status/OUTPUT.json`, written atomically) counts its runs and keeps the state
//! (`running`, `done`, `failed` with the one-line error, `interrupted`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::stamp::{self, Stamper, STAMP_KEY};
use super::Job;
use crate::cancel;
use crate::error::{Error, Result};
use crate::segment::{segment, Summary};

/// What one item's run did.
pub enum Outcome {
    /// Its output already carried its stamp.
    Skipped,
    Ran(Box<Summary>),
}

/// An item's status file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ItemStatus {
    pub index: usize,
    pub item: String,
    /// `running`, `done`, `failed` or `interrupted`.
    pub state: String,
    /// How many times the item was run (skips are not runs).
    pub runs: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub started: String,
    #[serde(default)]
    pub finished: String,
    #[serde(default)]
    pub seconds: f64,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
}

/// Where item `index`'s status file is.
pub fn status_path(job: &Job, job_file: &Path, index: usize) -> PathBuf {
    let name = job.items[index]
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| index.to_string());
    job.out_dir(job_file)
        .join("status")
        .join(format!("{name}.json"))
}

/// Item `index`'s status (None: never run).
pub fn read_status(job: &Job, job_file: &Path, index: usize) -> Option<ItemStatus> {
    let text = std::fs::read_to_string(status_path(job, job_file, index)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_status(job: &Job, job_file: &Path, st: &ItemStatus) -> Result<()> {
    let path = status_path(job, job_file, st.index);
    let dir = crate::write::output::folder_of(&path);
    let io = |e: std::io::Error| {
        Error::output(&path, format!("cannot write the item's status: {e}")).caused_by(e)
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let tmp = crate::write::output::temp_beside(&path, "json");
    let text = serde_json::to_string_pretty(st).unwrap_or_default();
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Runs item `index` of the job in `job_file` (its thread budget `threads` when given).
pub fn run_item(job_file: &Path, index: usize, threads: Option<usize>) -> Result<Outcome> {
    let job = Job::load(job_file)?;
    job.item(job_file, index)?;
    let what = job.describe(index);
    let started = Instant::now();
    let mut st = read_status(&job, job_file, index).unwrap_or_default();
    let failed = |st: &mut ItemStatus, e: Error| -> Error {
        let e = match e {
            Error::Interrupted(p) => {
                st.state = "interrupted".into();
                Error::Interrupted(p)
            }
            e => {
                st.state = "failed".into();
                Error::Runtime(format!("{}: {what}: {e}", job_file.display()))
            }
        };
        st.error = Some(e.to_string());
        st.finished = crate::store::utc_now();
        st.seconds = started.elapsed().as_secs_f64();
        let _ = write_status(&job, job_file, st);
        e
    };
    let item = &job.items[index];
    let output = job.out_dir(job_file).join(&item.output);
    let stamp = match Stamper::new(&job).and_then(|s| s.item(index)) {
        Ok(s) => s,
        Err(e) => {
            st.runs += 1;
            st.index = index;
            st.item = what.clone();
            return Err(failed(&mut st, e));
        }
    };
    if stamp::carries(&output, &stamp) {
        return Ok(Outcome::Skipped);
    }
    st = ItemStatus {
        index,
        item: what.clone(),
        state: "running".into(),
        runs: st.runs + 1,
        error: None,
        started: crate::store::utc_now(),
        finished: String::new(),
        seconds: 0.0,
        host: hostname(),
        pid: std::process::id(),
    };
    write_status(&job, job_file, &st)?;
    let result = (|| {
        let folder = crate::write::output::folder_of(&output);
        std::fs::create_dir_all(&folder).map_err(|e| {
            Error::output(
                &folder,
                format!("cannot create the folder ({e}); check the output folder of the job"),
            )
        })?;
        let mut opts = job.settings.to_options(job_file)?;
        opts.input = job.scenes[item.scene].input.clone();
        opts.output = output.clone();
        opts.rows = item.rows.map(|[a, b]| a..b);
        opts.threads = threads.or(opts.threads);
        opts.progress = false;
        opts.extra_metadata = vec![
            (STAMP_KEY.into(), stamp.clone()),
            ("TERRATILE_JOB_ITEM".into(), what.clone()),
        ];
        segment(&opts)
    })();
    match result {
        Ok(summary) => {
            st.state = "done".into();
            st.finished = crate::store::utc_now();
            st.seconds = started.elapsed().as_secs_f64();
            write_status(&job, job_file, &st)?;
            Ok(Outcome::Ran(Box::new(summary)))
        }
        Err(e) => Err(failed(&mut st, e)),
    }
}

/// What `job run --all` did.
#[derive(Debug, Default)]
pub struct AllSummary {
    pub ran: usize,
    pub skipped: usize,
    pub failed: Vec<usize>,
    pub seconds: f64,
}

/// Runs every item of the job with `workers` worker processes (this program, `job run
/// JOB --index N`, one item each), the done ones skipped; a failed item does not stop
/// the others. A stop request (Ctrl-C, SIGTERM) starts no more items.
pub fn run_all(
    job_file: &Path,
    workers: usize,
    threads: Option<usize>,
    quiet: bool,
) -> Result<AllSummary> {
    let started = Instant::now();
    let job = Job::load(job_file)?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::Runtime(format!("cannot find the terratile program: {e}")))?;
    // the done items are skipped here, without starting a process
    let stamper = Stamper::new(&job).ok();
    let todo: Vec<usize> = (0..job.items.len())
        .filter(|&i| {
            let out = job.out_dir(job_file).join(&job.items[i].output);
            let done = stamper
                .as_ref()
                .and_then(|s| s.item(i).ok())
                .is_some_and(|s| stamp::carries(&out, &s));
            !done
        })
        .collect();
    let summary = Mutex::new(AllSummary {
        skipped: job.items.len() - todo.len(),
        ..AllSummary::default()
    });
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers.max(1).min(todo.len().max(1)) {
            s.spawn(|| loop {
                if cancel::requested() {
                    return;
                }
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&i) = todo.get(k) else { return };
                let mut cmd = Command::new(&exe);
                cmd.arg("job")
                    .arg("run")
                    .arg(job_file)
                    .arg("--index")
                    .arg(i.to_string());
                if let Some(t) = threads {
                    cmd.arg("--threads").arg(t.to_string());
                }
                if quiet {
                    cmd.arg("-q");
                }
                for var in [
                    "SLURM_ARRAY_TASK_ID",
                    "JOB_COMPLETION_INDEX",
                    "AWS_BATCH_JOB_ARRAY_INDEX",
                ] {
                    cmd.env_remove(var);
                }
                let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
                let mut sm = summary.lock().expect("no worker panics");
                if ok {
                    sm.ran += 1;
                } else {
                    sm.failed.push(i);
                }
            });
        }
    });
    let mut sm = summary.into_inner().expect("no worker panics");
    sm.failed.sort();
    sm.seconds = started.elapsed().as_secs_f64();
    if cancel::requested() {
        return Err(Error::Interrupted(job.out_dir(job_file)));
    }
    Ok(sm)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
