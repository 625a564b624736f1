//! `job status`: every item done (its output carries its stamp), failed (with its error
//! line), running, or pending (never run, interrupted, killed, or its output stale).

use std::fmt;
use std::path::Path;

use super::run::read_status;
use super::stamp::{self, Stamper};
use super::Job;
use crate::error::Result;

/// One item's state.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Done,
    Failed(String),
    Running,
    Pending,
}

/// An item's line of `job status`.
#[derive(Debug, Clone)]
pub struct ItemState {
    pub index: usize,
    pub item: String,
    pub state: State,
    /// Times it was run.
    pub runs: u32,
}

/// The states of every item.
pub fn status(job_file: &Path) -> Result<Vec<ItemState>> {
    let job = Job::load(job_file)?;
    let stamper = Stamper::new(&job);
    let out_dir = job.out_dir(job_file);
    Ok((0..job.items.len())
        .map(|i| {
            let st = read_status(&job, job_file, i);
            let runs = st.as_ref().map_or(0, |s| s.runs);
            let out = out_dir.join(&job.items[i].output);
            let expected = stamper.as_ref().ok().and_then(|s| s.item(i).ok());
            let state = if expected.as_ref().is_some_and(|s| stamp::carries(&out, s)) {
                State::Done
            } else {
                match st {
                    Some(s) if s.state == "failed" => State::Failed(s.error.unwrap_or_default()),
                    Some(s) if s.state == "running" && alive(&s.host, s.pid) => State::Running,
                    _ => match (&stamper, expected) {
                        // a missing model or input fails every run: say so now
                        (Err(e), _) => State::Failed(e.to_string()),
                        _ => State::Pending,
                    },
                }
            };
            ItemState {
                index: i,
                item: job.describe(i),
                state,
                runs,
            }
        })
        .collect())
}

/// True when the process `pid` on `host` may still run (on another host: assumed so).
fn alive(host: &str, pid: u32) -> bool {
    let here = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    host != here || Path::new("/proc").join(pid.to_string()).exists()
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, detail) = match &self.state {
            State::Done => ("done", String::new()),
            State::Failed(e) => ("failed", format!("  {e}")),
            State::Running => ("running", String::new()),
            State::Pending => ("pending", String::new()),
        };
        write!(
            f,
            "{:>5}  {word:<8} runs {:<3} {}{detail}",
            self.index, self.runs, self.item
        )
    }
}

/// "3 done, 1 failed, 0 running, 2 pending".
pub fn tally(states: &[ItemState]) -> String {
    let n = |k: fn(&State) -> bool| states.iter().filter(|s| k(&s.state)).count();
    format!(
        "{} done, {} failed, {} running, {} pending",
        n(|s| *s == State::Done),
        n(|s| matches!(s, State::Failed(_))),
        n(|s| *s == State::Running),
        n(|s| *s == State::Pending)
    )
}
