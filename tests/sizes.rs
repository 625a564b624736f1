//! Sizes and disks: a raster too wide for the memory budget is walked in column stripes
//! and gives exactly the one-pass class map; a budget too small for one stripe is
//! refused with the numbers; a class map that cannot fit the output folder's disk is
//! refused before any work, and a disk that fills up mid-run (a small tmpfs) gives one
//! line naming the path and the space needed, leaves nothing and touches no input.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use terratile::store::sha256_file;

/// A 1200x600 crop of the real S2 scene (made once per test binary).
fn s2_wide() -> PathBuf {
    static CROP: OnceLock<PathBuf> = OnceLock::new();
    CROP.get_or_init(|| {
        let dir = tempdir("s2-wide");
        let out = dir.join("s2_1200x600.tif");
        crop(&s2(), &out, 300, 400, 1200, 600);
        dir.keep();
        out
    })
    .clone()
}

/// small_cnn (a model that sees context, so blending matters) in 128 px tiles.
const CNN: &[&str] = &[
    "--tile",
    "128",
    "--overlap",
    "32",
    "--no-resample",
    "--confidence",
];

#[test]
fn column_stripes_give_the_one_pass_class_map_pixel_for_pixel() {
    let dir = tempdir("stripes");
    let (one, striped) = (dir.join("one.tif"), dir.join("striped.tif"));
    let note = segment_ok(&s2_wide(), &small_cnn(), &one, CNN);
    assert!(!note.contains("column stripes"), "{note}");
    // 128 rows x (3 classes x 4 + 16) bytes a column, 7.4 MiB of tiles in flight: a
    // 10 MiB budget leaves one 256 px block per stripe
    let extra: Vec<&str> = CNN
        .iter()
        .copied()
        .chain(["--memory-budget", "10M"])
        .collect();
    let note = segment_ok(&s2_wide(), &small_cnn(), &striped, &extra);
    assert!(
        note.contains("walked in 5 column stripes of 256 px"),
        "the note says how the raster was walked: {note}"
    );
    for band in [1, 2] {
        let (a, b) = (read_band(&one, band), read_band(&striped, band));
        assert_eq!(a.len(), 1200 * 600);
        let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 0, "band {band}: {differ} pixels differ");
    }
    let classes = read_band(&one, 1);
    assert!(
        (0..3).all(|c| classes.contains(&c)),
        "the real scene gives every class, so the comparison means something"
    );
    assert_eq!(attribute_table(&one), attribute_table(&striped));
    assert_eq!(files_in(&dir).len(), 6, "{:?}", files_in(&dir)); // tif, aux.xml, qml x 2
}

#[test]
fn a_budget_too_small_for_one_stripe_is_refused_with_the_numbers() {
    let dir = tempdir("budget-refused");
    let out = dir.join("o.tif");
    let extra: Vec<&str> = CNN
        .iter()
        .copied()
        .chain(["--memory-budget", "4M"])
        .collect();
    let o = segment(&s2_wide(), &small_cnn(), &out, &extra).run();
    let err = assert_fails_cleanly(
        &o,
        &out,
        &[
            "s2_1200x600.tif",
            "1200x600 px",
            "MiB",
            "memory budget of 4 MiB",
            "--memory-budget",
        ],
    );
    assert!(err.contains("column stripe"), "{err}");
    // a size that does not parse is clap's usage error (exit 2)
    let o = segment(&s2_wide(), &small_cnn(), &out, &["--memory-budget", "lots"]).run();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a size"));
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop. Needs root (CI runs
/// as root): without it the test fails with the reason.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let o = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0777"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .expect("cannot run mount");
        assert!(
            o.status.success(),
            "this test mounts a small tmpfs to fill a disk, which needs root (CAP_SYS_ADMIN); mount said: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_nothing_and_says_what_is_needed() {
    let dir = tempdir("full-disk");
    let disk = dir.join("disk");
    std::fs::create_dir(&disk).unwrap();
    let _fs = Tmpfs::mount(&disk, "256k");
    // on the small disk: the input (a VRT of the whole real scene) and a file of the
    // user's; the class map (3.8 Mpx) does not fit beside them
    let input = disk.join("scene.vrt");
    tool("gdalbuildvrt", &[&"-q", &input, &s2()]);
    let mine = disk.join("mine.txt");
    std::fs::write(&mine, "x".repeat(64 << 10)).unwrap();
    let before = (sha256_file(&input).unwrap(), sha256_file(&mine).unwrap());
    let out = disk.join("classes.tif");
    let args = ["--no-resample", "-q"];

    // refused before any work, with the numbers
    let o = segment(&input, &perpixel(), &out, &args).run();
    let err = assert_fails_cleanly(
        &o,
        &out,
        &["classes.tif", "needs up to", "free", "--no-space-check"],
    );
    assert!(err.contains("10 MiB") && err.contains("KiB free"), "{err}");

    // told to go ahead, the disk fills up mid-run: one line, the path, the space needed
    let extra = ["--no-resample", "-q", "--no-space-check"];
    let o = segment(&input, &perpixel(), &out, &extra).run();
    let err = assert_fails_cleanly(
        &o,
        &out,
        &[
            "classes.tif",
            "the disk is full",
            "needs up to 10 MiB",
            "nothing was written",
        ],
    );
    println!("full disk: {err}");

    let mut left = files_in(&disk);
    left.sort();
    assert_eq!(
        left,
        ["mine.txt", "scene.vrt"],
        "only the user's files are left"
    );
    assert_eq!(
        (sha256_file(&input).unwrap(), sha256_file(&mine).unwrap()),
        before,
        "the input and the user's file are untouched"
    );
}
