//! The statistics database under stress: `change --db` killed outright (SIGKILL) at 20
//! moments spread over a run on the real Landsat 5 pair leaves a database that passes
//! `PRAGMA integrity_check`, holds each run whole or not at all, and takes the next run;
//! eight runs writing to one database at once all land; a database on a read-only file
//! system is refused with the reason. (A database of a newer schema is a case of the
//! corrupt-input corpus, tests/corpus.rs: `db_*_newer_schema`.)

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rusqlite::Connection;

/// `terratile change` of the Landsat 5 pair through the per-pixel model, logged to `db`.
fn change_cmd(out: &Path, db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_terratile"));
    c.arg("change")
        .arg(landsat_2000())
        .arg(landsat_2010())
        .arg("-m")
        .arg(perpixel())
        .args(["--bands", "1,2,3,4", "--threads", "1", "-q", "-o"])
        .arg(out)
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn run_ok(out: &Path, db: &Path) {
    let o = change_cmd(out, db).output().unwrap();
    assert!(
        o.status.success(),
        "the run after a kill must succeed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The tables that hold a run's rows, by `run_id`.
const PER_RUN: &[&str] = &[
    "class_areas",
    "transitions",
    "tile_stats",
    "rasters",
    "models",
];

/// Rows of each [`PER_RUN`] table for run `id`.
fn rows_of(conn: &Connection, id: i64) -> Vec<i64> {
    PER_RUN
        .iter()
        .map(|t| {
            conn.query_row(
                &format!("SELECT count(*) FROM {t} WHERE run_id = ?1"),
                [id],
                |r| r.get(0),
            )
            .unwrap()
        })
        .collect()
}

/// Checks the database after a kill: integrity ok, and every run (all of them 'ok')
/// holds exactly the rows of the reference run. Returns (runs, partial runs).
fn check(db: &Path, reference: &[i64]) -> (i64, usize) {
    let conn = Connection::open(db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "PRAGMA integrity_check");
    let runs: Vec<(i64, String)> = conn
        .prepare("SELECT id, status FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let partial = runs
        .iter()
        .filter(|(id, status)| status != "ok" || rows_of(&conn, *id) != reference)
        .count();
    (runs.len() as i64, partial)
}

#[test]
fn kill_9_of_change_db_at_20_moments_loses_nothing() {
    let dir = tempdir("kill9");
    let db = dir.join("stats.gpkg");
    // one whole run: the reference rows, and how long a run takes
    let t = Instant::now();
    run_ok(&dir.join("first.tif"), &db);
    let run_s = t.elapsed().as_secs_f64();
    let reference = rows_of(&Connection::open(&db).unwrap(), 1);
    assert!(reference.iter().all(|&n| n > 0), "{reference:?}");
    let (mut expected_runs, mut landed, mut integrity_ok, mut partial_runs) = (1i64, 0, 0, 0);
    let mut moments = Vec::new();
    for i in 0..20 {
        // from the start to just past the end of a run: before, during and after the
        // database's transaction (at the end)
        let delay = run_s * 1.15 * (i as f64 + 0.5) / 20.0;
        let out = dir.join(format!("k{i}.tif"));
        let mut child = change_cmd(&out, &db).spawn().unwrap();
        std::thread::sleep(Duration::from_secs_f64(delay));
        let _ = child.kill(); // SIGKILL; a run that already ended is not an error
        let status = child.wait().unwrap();
        moments.push(format!("{:.0}", delay * 1000.0));
        let (runs, partial) = check(&db, &reference);
        integrity_ok += 1;
        partial_runs += partial;
        assert!(
            runs == expected_runs || runs == expected_runs + 1,
            "kill {i}: {runs} runs, expected {expected_runs} or one more"
        );
        if runs == expected_runs + 1 {
            landed += 1;
            assert!(
                out.exists(),
                "kill {i}: a run in the database has its output"
            );
        } else {
            assert!(
                !status.success(),
                "kill {i}: a run that exited 0 is in the database"
            );
        }
        expected_runs = runs;
        // the next run succeeds (and removes what the killed one left beside its output)
        run_ok(&out.with_file_name(format!("n{i}.tif")), &db);
        expected_runs += 1;
        let (runs, partial) = check(&db, &reference);
        assert_eq!(runs, expected_runs);
        partial_runs += partial;
    }
    eprintln!(
        "kill -9 of change --db (a run takes {:.0} ms): kill moments (ms) {}; integrity checks passed {integrity_ok}/20; runs that landed before their kill {landed}; partial runs found {partial_runs}",
        run_s * 1000.0,
        moments.join(", ")
    );
    assert_eq!(partial_runs, 0);
    assert!(
        landed < 20,
        "no kill landed before the end of its run: the test proves nothing"
    );
}

#[test]
fn eight_concurrent_writers_all_land() {
    let dir = tempdir("eight");
    let db = dir.join("stats.gpkg"); // created by the eight at once
    let kids: Vec<_> = (0..8)
        .map(|i| {
            change_cmd(&dir.join(format!("c{i}.tif")), &db)
                .spawn()
                .unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let conn = Connection::open(&db).unwrap();
    let reference = rows_of(&conn, 1);
    drop(conn);
    let (runs, partial) = check(&db, &reference);
    assert_eq!((runs, partial), (8, 0), "eight runs, each whole");
    eprintln!("eight concurrent writers: {runs} runs landed, {partial} partial");
}

/// A tmpfs mounted on `dir`, unmounted on drop. Needs root (CI runs as root): without
/// it the test fails with the reason.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Tmpfs {
        mount(&["-t", "tmpfs", "-o", "size=16m", "tmpfs"], dir);
        Tmpfs(dir.to_path_buf())
    }
    fn read_only(&self) {
        mount(&["-o", "remount,ro"], &self.0);
    }
}

fn mount(args: &[&str], dir: &Path) {
    let o = Command::new("mount").args(args).arg(dir).output().unwrap();
    assert!(
        o.status.success(),
        "this test mounts a tmpfs (read-only), which needs root (CAP_SYS_ADMIN); mount said: {}",
        String::from_utf8_lossy(&o.stderr).trim()
    );
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_database_on_a_read_only_file_system_is_refused() {
    let dir = tempdir("rofs");
    let disk = dir.join("disk");
    std::fs::create_dir(&disk).unwrap();
    let fs = Tmpfs::mount(&disk);
    let db = disk.join("stats.gpkg");
    run_ok(&dir.join("first.tif"), &db);
    fs.read_only();
    let before = std::fs::read(&db).unwrap();
    let out = dir.join("second.tif");
    let o = change_cmd(&out, &db).output().unwrap();
    let err = assert_fails_cleanly(&o, &out, &["stats.gpkg", "read-only"]);
    println!("read-only file system: {err}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is untouched"
    );
    // report still reads it
    let r = report_json(&db, None);
    assert_eq!(r["run"]["id"], 1, "{r}");
}
