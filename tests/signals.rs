//! Stopping: SIGINT, SIGTERM and SIGHUP stop a run cleanly (exit 130, 143, 129; nothing
//! left), and a run removes the temporary files of the same output that a killed
//! (SIGKILL) run left behind, and says so.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `terratile segment` of the S2 scene with the U-Net at 10 m (several seconds).
fn slow_segment(out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_terratile"))
        .args(["segment".as_ref(), s2().as_os_str(), "-m".as_ref()])
        .arg(csmask())
        .args(["--no-resample", "--threads", "1", "-o"])
        .arg(out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start terratile")
}

/// Waits until the run has its staging file beside `out` (it is mid-way).
fn wait_for_stage(dir: &Path, child: &mut Child) {
    let t = Instant::now();
    while !files_in(dir).iter().any(|f| f.ends_with(".stage.tif")) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was stopped"
        );
        assert!(t.elapsed() < Duration::from_secs(60), "no staging file");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send(child: &Child, signal: &str) {
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn sigint_sigterm_and_sighup_stop_cleanly_with_their_exit_codes() {
    // SIGINT is Ctrl-C; each is sent once the run has its staging file (mid-way, however
    // fast the machine)
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let dir = tempdir(&format!("signal-{signal}"));
        let out = dir.join("o.tif");
        let mut child = slow_segment(&out);
        wait_for_stage(&dir, &mut child);
        send(&child, signal);
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "SIG{signal}: {err}");
        assert!(
            err.contains("interrupted") && err.contains("o.tif"),
            "{err}"
        );
        assert!(
            files_in(&dir).is_empty(),
            "SIG{signal} left behind: {:?}",
            files_in(&dir)
        );
    }
}

#[test]
fn a_killed_runs_leftovers_are_removed_by_the_next_run() {
    let dir = tempdir("sigkill-leftovers");
    let out = dir.join("o.tif");
    let mut child = slow_segment(&out);
    wait_for_stage(&dir, &mut child);
    let pid = child.id();
    send(&child, "KILL");
    let _ = child.wait();
    let left = files_in(&dir);
    assert!(
        left.iter().any(|f| f.contains(&format!("terratile-{pid}"))),
        "SIGKILL leaves its staging file: {left:?}"
    );
    // a run of another output in the same folder leaves them alone
    let other = segment_ok(&s2(), &perpixel(), &dir.join("other.tif"), &["-q"]);
    assert!(!other.contains("removed"), "{other}");
    assert_eq!(
        files_in(&dir).iter().filter(|f| f.starts_with('.')).count(),
        left.len()
    );
    // the next run of the same output removes them and says so
    let err = segment_ok(&s2(), &perpixel(), &out, &[]);
    assert!(
        err.contains("removed") && err.contains(&pid.to_string()),
        "the note names the killed process: {err}"
    );
    let now = files_in(&dir);
    assert!(
        now.iter().all(|f| !f.starts_with('.')),
        "leftovers remain: {now:?}"
    );
    assert!(out.exists());
}
