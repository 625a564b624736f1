//! The corrupt-input corpus: `scripts/make_corpus.py` makes several hundred broken or odd
//! inputs from the real sample data (truncated and bit-flipped rasters, absurd sizes,
//! every data type, NaN, odd geotransforms and CRSs, strips; broken models, sidecars and
//! Deepness metadata; broken statistics databases), and this test runs `terratile` on
//! every one. Each run must either succeed with a valid output, or fail cleanly: exit 1,
//! one line `terratile: error: ...` with no debug dump, and nothing left at or beside
//! its output path. It prints a tally and fails on any panic, abort, signal, hang,
//! multi-line or debug-format error, or leftover file.
//!
//! The corpus is generated into `target/tmp/` on every run (about 10 s); set
//! `TERRATILE_CORPUS_JOBS` to change the number of cases run at once (default: the
//! number of CPUs).

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;

/// The most one case may take before it counts as a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(90);

/// One line of `cases-PART.jsonl`.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    args: Vec<String>,
    /// Only a clean error is right (else success is fine too).
    must_fail: bool,
    /// Hold an exclusive write lock on this database for the first seconds of the run.
    lock_db: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    clean_errors: usize,
    successes: usize,
    panics: usize,
    leftovers: usize,
    bad_messages: usize,
    hangs: usize,
    wrong_success: usize,
    problems: Vec<String>,
    /// (seconds, case) of every case, to name the slowest.
    times: Vec<(f64, String)>,
}

fn python(program: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) {
    TestCommand::program(program)
        .args(args)
        .env("TERRATILE_CACHE", cache())
        .ok();
}

/// Makes the corpus under `dir` and returns its cases.
fn make_corpus(dir: &Path) -> Vec<Case> {
    let script = repo("scripts/make_corpus.py");
    let system_python = std::env::var_os("TERRATILE_SYSTEM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/python3"));
    let venv_python = cache().join("venv/bin/python");
    assert!(
        venv_python.exists(),
        "{} is missing: run `bash scripts/setup.sh` first",
        venv_python.display()
    );
    let _ = data("data/s2/s2_b02_b03_b04_b08.tif");
    python(&system_python, &[&script, &"rasters", &dir]);
    // a real statistics database, written by terratile itself
    let base = dir.join("base.sqlite");
    TestCommand::new("change")
        .arg("--before-classes")
        .arg(dir.join("classes_before.tif"))
        .arg("--after-classes")
        .arg(dir.join("classes_after.tif"))
        .arg("-o")
        .arg(dir.join("base_change.tif"))
        .arg("--db")
        .arg(&base)
        .arg("-q")
        .ok();
    python(&system_python, &[&script, &"dbs", &dir, &base]);
    python(&venv_python, &[&script, &"models", &dir]);

    let mut cases = Vec::new();
    for part in ["rasters", "dbs", "models"] {
        let text = std::fs::read_to_string(dir.join(format!("cases-{part}.jsonl"))).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            cases.push(Case {
                name: v["name"].as_str().unwrap().to_string(),
                args: v["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
                must_fail: v["accept"] == "error",
                lock_db: None,
            });
        }
    }
    // a database another process is writing to: the run waits for it, then lands
    let locked = dir.join("dbs/locked.sqlite");
    std::fs::copy(&base, &locked).unwrap();
    cases.push(Case {
        name: "db_change_locked_for_2s".into(),
        args: [
            "change",
            "--before-classes",
            &dir.join("classes_before.tif").to_string_lossy(),
            "--after-classes",
            &dir.join("classes_after.tif").to_string_lossy(),
            "-o",
            "@OUT@",
            "--db",
            &locked.to_string_lossy(),
            "-q",
        ]
        .map(String::from)
        .to_vec(),
        must_fail: false,
        lock_db: Some(locked),
    });
    cases
}

/// What is wrong with a failing command's stderr, if anything.
fn message_problem(stderr: &str) -> Option<&'static str> {
    let s = stderr.trim_end();
    if s.lines().count() != 1 {
        return Some("not one line");
    }
    if !s.starts_with("terratile: error: ") {
        return Some("does not start with `terratile: error: `");
    }
    for (needle, why) in [
        ("{ ", "a debug struct dump"),
        ("Error(", "a debug-format error"),
        ("called `Result::unwrap()`", "an unwrap"),
        ("called `Option::unwrap()`", "an unwrap"),
        ("panicked", "a panic"),
        ("Some(", "a debug-format Option"),
    ] {
        if s.contains(needle) {
            return Some(why);
        }
    }
    None
}

/// Files in the case's folder that a failed run left, or a successful run left besides
/// its output (hidden temporary files).
fn leftovers(dir: &Path, succeeded: bool) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|f| !succeeded || f.contains(".terratile-"))
        .collect()
}

fn output_is_valid(out: &Path) -> Result<(), String> {
    let ds = gdal::Dataset::open(out).map_err(|e| format!("GDAL cannot open it: {e}"))?;
    if ds.raster_count() == 0 {
        return Err("it has no bands".into());
    }
    let band = ds.rasterband(1).map_err(|e| e.to_string())?;
    let (w, h) = band.size();
    let (w, h) = (w.min(256), h.min(256));
    band.read_as::<f64>((0, 0), (w, h), (w, h), None)
        .map_err(|e| format!("its pixels cannot be read: {e}"))?;
    Ok(())
}

/// Holds an exclusive transaction on `db` for `hold`, on its own thread.
fn lock_for(db: &Path, hold: Duration) -> std::thread::JoinHandle<()> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(hold);
        conn.execute_batch("COMMIT").unwrap();
    })
}

fn run_case(case: &Case, runs: &Path, logs: &Path, tally: &Mutex<Tally>) {
    let dir = runs.join(&case.name);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.tif");
    let has_output = case.args.iter().any(|a| a == "@OUT@");
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| {
            if a == "@OUT@" {
                out.to_string_lossy().into_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let (stdout_path, stderr_path) = (
        logs.join(format!("{}.stdout", case.name)),
        logs.join(format!("{}.stderr", case.name)),
    );
    let lock = case
        .lock_db
        .as_ref()
        .map(|db| lock_for(db, Duration::from_secs(2)));
    let cmd = TestCommand::terratile().args(&args);
    let mut child = cmd
        .command()
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > CASE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(l) = lock {
        l.join().unwrap();
    }
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let line = cmd.command_line();
    let mut t = tally.lock().unwrap();
    t.cases += 1;
    t.times
        .push((start.elapsed().as_secs_f64(), case.name.clone()));
    let problem = |t: &mut Tally, what: String| {
        t.problems.push(format!(
            "{}: {what}\n    {line}\n    stderr: {}",
            case.name,
            stderr.trim_end().replace('\n', "\n            ")
        ))
    };
    let Some(status) = status else {
        t.hangs += 1;
        problem(&mut t, format!("still running after {CASE_TIMEOUT:?}"));
        return;
    };
    match status.code() {
        Some(0) => {
            t.successes += 1;
            if case.must_fail {
                t.wrong_success += 1;
                problem(&mut t, "succeeded, but only a clean error is right".into());
            }
            if has_output {
                if let Err(e) = output_is_valid(&out) {
                    problem(
                        &mut t,
                        format!("succeeded, but its output is not valid: {e}"),
                    );
                }
            }
            let left = leftovers(&dir, true);
            if !left.is_empty() {
                t.leftovers += 1;
                problem(&mut t, format!("succeeded and left {left:?}"));
            }
        }
        Some(1) => {
            t.clean_errors += 1;
            if let Some(why) = message_problem(&stderr) {
                t.bad_messages += 1;
                problem(&mut t, format!("error message: {why}"));
            }
            let left = leftovers(&dir, false);
            if !left.is_empty() {
                t.leftovers += 1;
                problem(&mut t, format!("failed and left {left:?}"));
            }
        }
        other => {
            t.panics += 1;
            problem(&mut t, format!("crashed: exit {other:?} ({status})"));
        }
    }
}

#[test]
fn corrupt_inputs_fail_cleanly_or_succeed() {
    let dir = tempdir("corpus");
    let corpus = dir.join("corpus");
    let started = Instant::now();
    let cases = make_corpus(&corpus);
    let made_s = started.elapsed().as_secs_f64();
    let (runs, logs) = (dir.join("runs"), dir.join("logs"));
    std::fs::create_dir_all(&runs).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    let jobs = std::env::var("TERRATILE_CORPUS_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                run_case(case, &runs, &logs, &tally);
            });
        }
    });
    let mut t = tally.into_inner().unwrap();
    t.times.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest: Vec<String> = t.times[..t.times.len().min(5)]
        .iter()
        .map(|(s, n)| format!("{n} {s:.1} s"))
        .collect();
    // straight to stderr, past the test harness's capture: the tally shows on every run
    let mut err = std::io::stderr();
    let _ = writeln!(err, "corpus: slowest cases: {}", slowest.join(", "));
    let _ = writeln!(
        err,
        "corpus: {} cases, {} clean errors, {} successes, panics = {}, leftovers = {}, \
         bad messages = {}, hangs = {}, wrong successes = {} (made in {made_s:.0} s, run in {:.0} s)",
        t.cases,
        t.clean_errors,
        t.successes,
        t.panics,
        t.leftovers,
        t.bad_messages,
        t.hangs,
        t.wrong_success,
        started.elapsed().as_secs_f64() - made_s,
    );
    assert!(t.cases >= 200, "only {} cases", t.cases);
    assert!(
        t.problems.is_empty(),
        "{} of {} cases went wrong:\n{}",
        t.problems.len(),
        t.cases,
        t.problems.join("\n")
    );
    // the corpus is large (about 50 MB): remove it as soon as the test passed
    let _ = std::fs::remove_dir_all(&corpus);
}
