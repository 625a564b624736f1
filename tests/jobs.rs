//! Jobs: `job plan|run|merge|status` over real scenes. Row-band shards of the S2 scene
//! merge into exactly what one unsharded run writes (with a context model, so a wrong
//! tile grid would show); an item is done when its output carries its stamp; bad job
//! input fails one item with a one-line error and leaves the others alone; STAC
//! ItemCollections; remote inputs through /vsicurl/ read only part of the file; and the
//! whole job as a real Slurm array, cancelled mid-way and resubmitted.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// The settings every job here runs with: the small context CNN (receptive field 15 px)
/// on 256 px tiles overlapping by 64, one thread.
const ENGINE: &[&str] = &[
    "--tile",
    "256",
    "--overlap",
    "64",
    "--bands",
    "1,2,3,4",
    "--threads",
    "1",
];

/// `job plan` of `inputs` into `dir/job.json`, outputs in `dir/out`.
fn plan(dir: &Path, inputs: &[&Path], extra: &[&str]) -> PathBuf {
    let job = dir.join("job.json");
    TestCommand::new("job")
        .arg("plan")
        .args(inputs)
        .args(["-m".as_ref(), small_cnn().as_os_str()])
        .args(ENGINE)
        .args(extra)
        .arg("-o")
        .arg(&job)
        .arg("--out-dir")
        .arg(dir.join("out"))
        .ok();
    job
}

fn job_json(job: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(job).unwrap()).unwrap()
}

/// One unsharded, single-process `segment` of `input` with the job's settings.
fn reference(dir: &Path, input: &Path, name: &str) -> Vec<u16> {
    let out = dir.join(format!("ref-{name}.tif"));
    segment_ok(input, &small_cnn(), &out, ENGINE);
    read_band(&out, 1)
}

/// Every file under `dir` whose name marks it as temporary.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(temporaries(&p));
        } else if p.to_string_lossy().contains(".terratile-") {
            found.push(p);
        }
    }
    found
}

/// The run counters of the status files, by item index.
fn runs(job: &Path, n: usize) -> Vec<u64> {
    let j = job_json(job);
    let out = PathBuf::from(j["out_dir"].as_str().unwrap());
    (0..n)
        .map(|i| {
            let name = Path::new(j["items"][i]["output"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let p = out.join("status").join(format!("{name}.json"));
            std::fs::read_to_string(p)
                .ok()
                .map(|t| {
                    serde_json::from_str::<serde_json::Value>(&t).unwrap()["runs"]
                        .as_u64()
                        .unwrap()
                })
                .unwrap_or(0)
        })
        .collect()
}

/// `job status` lines, by item: "done", "failed", "running", "pending".
fn states(job: &Path) -> Vec<String> {
    let out = TestCommand::new("job").arg("status").arg(job).ok();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.next()?.parse::<usize>().ok()?;
            w.next().map(str::to_string)
        })
        .collect()
}

/// Rows of the statistics database: (scene, job stamp) of each logged run.
fn logged_scenes(db: &Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT json_extract(parameters, '$.scene'), json_extract(parameters, '$.job_stamp') FROM runs WHERE status = 'ok' ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// The S2 scene in 4 row-band shards and the two Landsat 5 scenes, run locally with two
/// workers, merged: every scene equals its single-process run pixel for pixel, the
/// database holds each scene once (also after a second merge), and a second run skips
/// every item by its stamp.
#[test]
fn shards_merge_into_the_unsharded_run() {
    let dir = tempdir("jobs-local");
    let scenes = [s2(), landsat_2000(), landsat_2010()];
    let job = plan(
        dir.path(),
        &scenes.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
        &["--shard-rows", "500"],
    );
    let j = job_json(&job);
    let items = j["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "4 shards of S2 and 2 scenes: {j:#}");
    assert_eq!(items.iter().filter(|i| i.get("rows").is_some()).count(), 4);
    // the job file follows its schema
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("schemas/job.schema.json")).unwrap())
            .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(&j).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "job file against its schema: {errors:?}");

    TestCommand::new("job")
        .arg("run")
        .arg(&job)
        .args(["--all", "--workers", "2", "-q"])
        .ok();
    assert_eq!(states(&job), vec!["done"; 6]);
    let out = TestCommand::new("job").arg("merge").arg(&job).ok();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let out_dir = dir.path().join("out");
    for (p, name) in scenes
        .iter()
        .zip(["s2_b02_b03_b04_b08", "lt05_2000", "lt5_2010"])
    {
        let merged = out_dir.join(format!("{name}.tif"));
        assert_same(
            &reference(dir.path(), p, name),
            &read_band(&merged, 1),
            &format!("classes of {name} (merged job output vs one segment run)"),
        );
        assert_eq!(category_names(&merged), ["class_a", "class_b", "class_c"]);
    }
    // the S2 shards are GeoTIFFs of their rows, georeferenced
    let shard = out_dir.join("shards/s2_b02_b03_b04_b08.rows-000486-000973.tif");
    let (full, part) = (
        gdal::Dataset::open(s2()).unwrap(),
        gdal::Dataset::open(&shard).unwrap(),
    );
    let (g, h) = (full.geo_transform().unwrap(), part.geo_transform().unwrap());
    assert_eq!(part.raster_size(), (1933, 487));
    assert_eq!(h[3], g[3] + 486.0 * g[5]);
    // the VRTs (one per CRS) and the STAC ItemCollection
    assert!(
        printed.contains("mosaic-1.vrt") && printed.contains("catalog.json"),
        "{printed}"
    );
    let cat: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("catalog.json")).unwrap())
            .unwrap();
    assert_eq!(cat["features"].as_array().unwrap().len(), 3);
    let bbox = cat["features"][0]["bbox"].as_array().unwrap();
    assert!(
        (-76.0..-75.0).contains(&bbox[0].as_f64().unwrap()),
        "{bbox:?}"
    ); // Virginia coast

    // the database holds each scene once, also after a second merge
    let db = out_dir.join("stats.gpkg");
    let first = logged_scenes(&db);
    assert_eq!(first.len(), 3, "{first:?}");
    TestCommand::new("job").arg("merge").arg(&job).ok();
    assert_eq!(logged_scenes(&db), first);

    // a second run skips every item: done means the stamp, and no item ran again
    let before = runs(&job, 6);
    assert_eq!(before, vec![1; 6]);
    let err = TestCommand::new("job")
        .arg("run")
        .arg(&job)
        .arg("--all")
        .ok_stderr();
    assert!(err.contains("0 item(s) run, 6 already done"), "{err}");
    assert_eq!(runs(&job, 6), before);
    // an output without the item's stamp is not done: a file put in its place is redone
    let item5 = out_dir.join("lt5_2010.tif");
    std::fs::copy(out_dir.join("lt05_2000.tif"), &item5).unwrap();
    assert_eq!(states(&job)[5], "pending");
    TestCommand::new("job")
        .args([
            "run".as_ref(),
            job.as_os_str(),
            "--index".as_ref(),
            "5".as_ref(),
            "-q".as_ref(),
        ])
        .ok();
    assert_eq!(runs(&job, 6), vec![1, 1, 1, 1, 1, 2]);
    assert_same(
        &reference(dir.path(), &landsat_2010(), "lt5_2010"),
        &read_band(&item5, 1),
        "the redone item",
    );
    assert!(
        temporaries(dir.path()).is_empty(),
        "{:?}",
        temporaries(dir.path())
    );
}

/// The array index comes from the scheduler's environment: Slurm, Kubernetes, AWS Batch.
#[test]
fn index_from_the_environment() {
    let dir = tempdir("jobs-env");
    let a = dir.path().join("a.tif");
    let b = dir.path().join("b.tif");
    let c = dir.path().join("c.tif");
    for p in [&a, &b, &c] {
        std::fs::copy(landsat_2000(), p).unwrap();
    }
    let job = plan(dir.path(), &[&a, &b, &c], &[]);
    for (i, var) in [
        "SLURM_ARRAY_TASK_ID",
        "JOB_COMPLETION_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ]
    .iter()
    .enumerate()
    {
        let mut cmd = TestCommand::new("job").arg("run").arg(&job).arg("-q");
        for v in [
            "SLURM_ARRAY_TASK_ID",
            "JOB_COMPLETION_INDEX",
            "AWS_BATCH_JOB_ARRAY_INDEX",
        ] {
            cmd = cmd.env_remove(v);
        }
        cmd.env(var, i.to_string()).ok();
        let r = runs(&job, 3);
        assert_eq!(r[i], 1, "{var}={i}: runs {r:?}");
        assert_eq!(r.iter().sum::<u64>(), i as u64 + 1, "{var}: {r:?}");
    }
    // no index anywhere: say how to give one
    let o = TestCommand::new("job")
        .arg("run")
        .arg(&job)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("AWS_BATCH_JOB_ARRAY_INDEX")
        .run();
    assert_fails_cleanly(&o, &dir.path().join("none.tif"), &["--index", "--all"]);
}

/// Bad job input: a job file edited into nonsense, an index out of range, a missing
/// input (that item fails with its error recorded, the others run), a STAC item
/// without the wanted assets: one-line errors naming the item and the fix.
#[test]
fn bad_job_input_fails_one_item_cleanly() {
    let dir = tempdir("jobs-bad");
    let keep = dir.path().join("keep.tif");
    let gone = dir.path().join("gone.tif");
    std::fs::copy(landsat_2000(), &keep).unwrap();
    std::fs::copy(landsat_2010(), &gone).unwrap();
    let job = plan(dir.path(), &[&gone, &keep], &[]);
    let out_dir = dir.path().join("out");

    // index out of range
    let o = TestCommand::new("job")
        .args([
            "run".as_ref(),
            job.as_os_str(),
            "--index".as_ref(),
            "7".as_ref(),
        ])
        .run();
    assert_fails_cleanly(
        &o,
        &out_dir.join("x.tif"),
        &["index 7", "out of range", "--array=0-1"],
    );

    // a missing input: its item fails with the reason, the other runs; exit 1 at the end
    std::fs::remove_file(&gone).unwrap();
    let o = TestCommand::new("job")
        .arg("run")
        .arg(&job)
        .args(["--all", "-q"])
        .run();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("gone.tif") && err.contains("item 0"), "{err}");
    assert!(out_dir.join("keep.tif").exists());
    assert!(!out_dir.join("gone.tif").exists());
    let status = TestCommand::new("job").arg("status").arg(&job).ok();
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    let line0 = text.lines().next().unwrap();
    assert!(
        line0.contains("failed")
            && line0.contains("gone.tif")
            && line0.contains("restore the input"),
        "{text}"
    );
    assert!(text.contains("1 done, 1 failed"), "{text}");
    // merge merges what is done and names what is not
    let o = TestCommand::new("job").arg("merge").arg(&job).run();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("gone (items 0)"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    // a job file edited by hand into nonsense
    for (what, text) in [
        ("not JSON", "{\"terratile_job\": 1, \"items\": ".to_string()),
        (
            "items of the wrong type",
            std::fs::read_to_string(&job)
                .unwrap()
                .replace("\"items\": [", "\"items\": 3, \"x\": ["),
        ),
        (
            "an item pointing nowhere",
            std::fs::read_to_string(&job)
                .unwrap()
                .replace("\"scene\": 1", "\"scene\": 9"),
        ),
        (
            "a blend that does not exist",
            std::fs::read_to_string(&job)
                .unwrap()
                .replace("\"hann\"", "\"smooth\""),
        ),
    ] {
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, text).unwrap();
        let o = TestCommand::new("job")
            .args([
                "run".as_ref(),
                bad.as_os_str(),
                "--index".as_ref(),
                "1".as_ref(),
            ])
            .run();
        let err = assert_fails_cleanly(&o, &out_dir.join("y.tif"), &["bad.json"]);
        assert!(err.contains("job plan"), "{what}: {err}");
    }

    // a STAC item without the wanted assets
    let stac = dir.path().join("items.json");
    std::fs::write(
        &stac,
        serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "LT05_2000", "assets": {
                "B1": {"href": keep.to_string_lossy(), "eo:bands": [{"name": "B1", "common_name": "blue"}]}}}
        ]})
        .to_string(),
    )
    .unwrap();
    let o = TestCommand::new("job")
        .args(["plan".as_ref(), "--stac".as_ref(), stac.as_os_str()])
        .args(["--assets", "blue,nir", "-m"])
        .arg(small_cnn())
        .arg("-o")
        .arg(dir.path().join("stac.json"))
        .arg("--out-dir")
        .arg(dir.path().join("stac-out"))
        .run();
    assert_fails_cleanly(
        &o,
        &dir.path().join("stac.json"),
        &[
            "items.json",
            "LT05_2000",
            "\"nir\"",
            "B1 (blue)",
            "--assets",
        ],
    );
}

/// A STAC ItemCollection whose assets are single-band files: each Item becomes a scene
/// stacking the assets picked by eo:bands common name (or key), in the order asked;
/// the result equals segmenting the original stack.
#[test]
fn stac_items_stack_their_assets() {
    let dir = tempdir("jobs-stac");
    let mut features = Vec::new();
    for (id, stack) in [("LT05_2000", landsat_2000()), ("LT5_2010", landsat_2010())] {
        let mut assets = serde_json::Map::new();
        // assets listed in another order than the bands: nir first
        for (b, common) in [(4, "nir"), (1, "blue"), (2, "green"), (3, "red")] {
            let f = format!("{id}_B{b}.tif");
            TestCommand::program("gdal_translate")
                .args(["-q", "-b", &b.to_string()])
                .arg(&stack)
                .arg(dir.path().join(&f))
                .ok();
            assets.insert(
                format!("B{b}"),
                serde_json::json!({"href": f, "type": "image/tiff",
                    "eo:bands": [{"name": format!("B{b}"), "common_name": common}]}),
            );
        }
        features.push(serde_json::json!({"type": "Feature", "stac_version": "1.0.0", "id": id, "assets": assets}));
    }
    let stac = dir.path().join("items.json");
    std::fs::write(
        &stac,
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .unwrap();
    let job = dir.path().join("job.json");
    TestCommand::new("job")
        .args(["plan".as_ref(), "--stac".as_ref(), stac.as_os_str()])
        .args(["--assets", "blue,green,B3,nir", "-m"])
        .arg(small_cnn())
        .args(ENGINE)
        .arg("-o")
        .arg(&job)
        .arg("--out-dir")
        .arg(dir.path().join("out"))
        .ok();
    TestCommand::new("job")
        .arg("run")
        .arg(&job)
        .args(["--all", "-q"])
        .ok();
    for (id, stack) in [("LT05_2000", landsat_2000()), ("LT5_2010", landsat_2010())] {
        assert_same(
            &reference(dir.path(), &stack, id),
            &read_band(&dir.path().join(format!("out/{id}.tif")), 1),
            &format!("classes of STAC item {id}"),
        );
    }
}

/// A tiny HTTP/1.1 file server that honours Range requests (and HEAD) and counts the
/// bytes of file content it sends. Returns the port and the counter.
fn serve(root: PathBuf) -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicU64::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
                    let mut range = None;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                            let (a, b) = v.trim().split_once('-').unwrap();
                            range = Some((a.parse::<u64>().unwrap(), b.parse::<u64>().ok()));
                        }
                    }
                    let file = root.join(path.trim_start_matches('/'));
                    let Ok(mut f) = std::fs::File::open(&file) else {
                        let _ = stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                        continue;
                    };
                    let size = f.metadata().unwrap().len();
                    let (status, a, b) = match range {
                        Some((a, b)) => (
                            "206 Partial Content",
                            a,
                            b.unwrap_or(size - 1).min(size - 1),
                        ),
                        None => ("200 OK", 0, size - 1),
                    };
                    let n = b + 1 - a;
                    let mut head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {n}\r\nAccept-Ranges: bytes\r\nContent-Type: image/tiff\r\n"
                    );
                    if range.is_some() {
                        head.push_str(&format!("Content-Range: bytes {a}-{b}/{size}\r\n"));
                    }
                    head.push_str("\r\n");
                    if stream.write_all(head.as_bytes()).is_err() {
                        return;
                    }
                    if method == "HEAD" {
                        continue;
                    }
                    let mut buf = vec![0u8; n as usize];
                    use std::io::Seek;
                    f.seek(std::io::SeekFrom::Start(a)).unwrap();
                    f.read_exact(&mut buf).unwrap();
                    if stream.write_all(&buf).is_err() {
                        return;
                    }
                    count.fetch_add(n, Ordering::SeqCst);
                }
            });
        }
    });
    (port, served)
}

/// Remote inputs: a COG of the S2 scene served over HTTP with range requests. A job
/// planned on its /vsicurl/ path runs one shard (the top rows) and reads only part of
/// the file; the shard equals the same rows of a local run.
#[test]
fn remote_cog_is_read_in_part() {
    let dir = tempdir("jobs-vsicurl");
    let cog = dir.path().join("s2_cog.tif");
    TestCommand::program("gdal_translate")
        .args([
            "-q",
            "-of",
            "COG",
            "-co",
            "COMPRESS=DEFLATE",
            "-co",
            "BLOCKSIZE=256",
        ])
        .arg(s2())
        .arg(&cog)
        .ok();
    let size = std::fs::metadata(&cog).unwrap().len();
    let (port, served) = serve(dir.path().to_path_buf());
    let url = format!("/vsicurl/http://127.0.0.1:{port}/s2_cog.tif");
    let job = dir.path().join("job.json");
    TestCommand::new("job")
        .args(["plan", &url, "-m"])
        .arg(perpixel())
        .args(["--tile", "256", "--overlap", "64", "--shard-rows", "300"])
        .arg("-o")
        .arg(&job)
        .arg("--out-dir")
        .arg(dir.path().join("out"))
        .env("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
        .ok();
    let planned = served.swap(0, Ordering::SeqCst);
    TestCommand::new("job")
        .args([
            "run".as_ref(),
            job.as_os_str(),
            "--index".as_ref(),
            "0".as_ref(),
            "-q".as_ref(),
        ])
        .env("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
        .ok();
    let read = served.load(Ordering::SeqCst);
    eprintln!("remote COG: {size} bytes; planning fetched {planned}, the first shard {read}");
    assert!(
        read > 0 && read < size / 2,
        "the first shard fetched {read} of {size} bytes (planning fetched {planned})"
    );
    // the same rows of a local run
    let local = dir.path().join("local.tif");
    segment_ok(
        &cog,
        &perpixel(),
        &local,
        &["--tile", "256", "--overlap", "64"],
    );
    let j = job_json(&job);
    let [a, b] = [0, 1].map(|k| j["items"][0]["rows"][k].as_u64().unwrap() as usize);
    let shard = dir
        .path()
        .join("out")
        .join(j["items"][0]["output"].as_str().unwrap());
    let all = read_band(&local, 1);
    assert_same(
        &all[a * 1933..b * 1933],
        &read_band(&shard, 1),
        "the remote shard's classes",
    );
}

/// An item killed outright (SIGKILL: what a scheduler sends when SIGTERM was not
/// enough) leaves no output; its rerun removes the temporary files it left, runs it
/// again (the second run of that item) and writes what an uninterrupted run writes.
#[test]
fn killed_item_is_redone_cleanly() {
    let dir = tempdir("jobs-kill");
    let scene = dir.path().join("s2_top.tif");
    crop(&s2(), &scene, 0, 0, 1933, 640);
    let job = plan(dir.path(), &[&scene], &[]);
    let out_dir = dir.path().join("out");
    let mut child = TestCommand::new("job")
        .args([
            "run".as_ref(),
            job.as_os_str(),
            "--index".as_ref(),
            "0".as_ref(),
            "-q".as_ref(),
        ])
        .command()
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !files_in(&out_dir).iter().any(|f| f.ends_with(".stage.tif")) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the item ended before it was killed"
        );
        assert!(t.elapsed() < Duration::from_secs(60), "no staging file");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let output = out_dir.join("s2_top.tif");
    assert!(!output.exists());
    assert!(
        !temporaries(dir.path()).is_empty(),
        "a SIGKILL leaves its temporary files"
    );
    assert_eq!(states(&job), ["pending"]);
    TestCommand::new("job")
        .args([
            "run".as_ref(),
            job.as_os_str(),
            "--index".as_ref(),
            "0".as_ref(),
            "-q".as_ref(),
        ])
        .ok();
    assert!(
        temporaries(dir.path()).is_empty(),
        "{:?}",
        temporaries(dir.path())
    );
    assert_eq!(runs(&job, 1), [2]);
    assert_same(
        &reference(dir.path(), &scene, "s2_top"),
        &read_band(&output, 1),
        "classes of the redone item",
    );
}

/// A raster inside a zip archive (/vsizip/) is an input like any other, for `segment`
/// and for a job.
#[test]
fn zipped_input() {
    let dir = tempdir("jobs-vsizip");
    let tif = dir.path().join("lt05_2000.tif");
    std::fs::copy(landsat_2000(), &tif).unwrap();
    let zip = dir.path().join("scene.zip");
    TestCommand::program("python3")
        .args(["-m", "zipfile", "-c"])
        .arg(&zip)
        .arg(&tif)
        .current_dir(dir.path())
        .ok();
    std::fs::remove_file(&tif).unwrap();
    let inner = format!("/vsizip/{}/lt05_2000.tif", zip.display());
    let job = plan(dir.path(), &[Path::new(&inner)], &[]);
    TestCommand::new("job")
        .arg("run")
        .arg(&job)
        .args(["--all", "-q"])
        .ok();
    assert_same(
        &reference(dir.path(), Path::new(&inner), "zipped"),
        &read_band(&dir.path().join("out/lt05_2000.tif"), 1),
        "classes of the zipped scene (job vs segment)",
    );
    assert_same(
        &read_band(&dir.path().join("out/lt05_2000.tif"), 1),
        &reference(dir.path(), &landsat_2000(), "plain"),
        "classes of the zipped scene vs the plain file",
    );
}

fn slurm(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} ({e}): run scripts/setup.sh"));
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn wait_gone(job_id: &str, limit: Duration) {
    let t = Instant::now();
    while !slurm("squeue", &["-h", "-j", job_id]).is_empty() {
        assert!(
            t.elapsed() < limit,
            "Slurm job {job_id} still queued after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The job as a real Slurm array on a one-node cluster (scripts/slurm.sh): the S2
/// scene in 4 shards and two Landsat scenes. Cancelled (scancel) once some items are
/// done, resubmitted: only the unfinished items run again, no temporary file is left,
/// the merged maps equal single-process runs and the database holds each scene once.
#[test]
fn slurm_array_cancel_and_resubmit() {
    let start = Command::new("bash")
        .arg(repo("scripts/slurm.sh"))
        .arg("start")
        .output()
        .expect("cannot run bash");
    assert!(
        start.status.success(),
        "the one-node Slurm cluster did not start (this test needs it, and root): {}",
        String::from_utf8_lossy(&start.stderr)
    );
    let dir = tempdir("jobs-slurm");
    let scenes = [s2(), landsat_2000(), landsat_2010()];
    let job = plan(
        dir.path(),
        &scenes.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
        &["--shard-rows", "500"],
    );
    let n = 6;
    let script = dir.path().join("item.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/bash\nexec {} job run {} -q\n",
            env!("CARGO_BIN_EXE_terratile"),
            job.display()
        ),
    )
    .unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = format!("{}/%A-%a.txt", logs.display());
    let array = format!("--array=0-{}", n - 1);
    // one task at a time, so that the cancel comes mid-way
    let id = slurm(
        "sbatch",
        &[
            "--parsable",
            &format!("{array}%1"),
            "-c",
            "1",
            "-o",
            &log,
            script.to_str().unwrap(),
        ],
    );
    let t = Instant::now();
    while states(&job).iter().filter(|s| *s == "done").count() < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no 2 items done in 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    slurm("scancel", &[&id]);
    wait_gone(&id, Duration::from_secs(60));
    let at_cancel = states(&job);
    let runs_at_cancel = runs(&job, n);
    let done_at_cancel = at_cancel.iter().filter(|s| *s == "done").count();
    assert!(
        (2..n).contains(&done_at_cancel),
        "the cancel came mid-way: {at_cancel:?}"
    );

    // resubmit the whole array; done items skip themselves
    let id2 = slurm(
        "sbatch",
        &[
            "--parsable",
            "--wait",
            &array,
            "-c",
            "1",
            "-o",
            &log,
            script.to_str().unwrap(),
        ],
    );
    wait_gone(&id2, Duration::from_secs(60));
    assert_eq!(states(&job), vec!["done"; n]);
    let after = runs(&job, n);
    for i in 0..n {
        let again = (at_cancel[i] != "done") as u64;
        assert_eq!(
            after[i],
            runs_at_cancel[i] + again,
            "item {i} ({} at the cancel): runs {runs_at_cancel:?} -> {after:?}",
            at_cancel[i]
        );
        assert!(after[i] <= 2, "item {i} ran {} times", after[i]);
    }
    assert!(
        temporaries(dir.path()).is_empty(),
        "{:?}",
        temporaries(dir.path())
    );

    TestCommand::new("job").arg("merge").arg(&job).ok();
    let out_dir = dir.path().join("out");
    for (p, name) in scenes
        .iter()
        .zip(["s2_b02_b03_b04_b08", "lt05_2000", "lt5_2010"])
    {
        assert_same(
            &reference(dir.path(), p, name),
            &read_band(&out_dir.join(format!("{name}.tif")), 1),
            &format!("classes of {name} (Slurm array vs one segment run)"),
        );
    }
    let db = out_dir.join("stats.gpkg");
    TestCommand::new("job").arg("merge").arg(&job).ok();
    let logged = logged_scenes(&db);
    let mut names: Vec<&str> = logged.iter().map(|(s, _)| s.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["lt05_2000", "lt5_2010", "s2_b02_b03_b04_b08"],
        "{logged:?}"
    );
}
