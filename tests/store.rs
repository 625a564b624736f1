//! The statistics database: migrations, concurrent runs, bad databases, `segment --db`,
//! the report formats, and the GeoPackage as GDAL sees it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use rusqlite::Connection;

/// Two class maps of the real pair (NIR quantiles) in `dir`.
fn class_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let (b, a) = (dir.join("before.tif"), dir.join("after.tif"));
    quantile_classes(&landsat_2000(), 4, 4, &b);
    quantile_classes(&landsat_2010(), 4, 4, &a);
    (b, a)
}

fn change_cmd(b: &Path, a: &Path, out: &Path, db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_terratile"));
    c.arg("change")
        .arg("--before-classes")
        .arg(b)
        .arg("--after-classes")
        .arg(a)
        .arg("-o")
        .arg(out)
        .arg("--db")
        .arg(db)
        .arg("-q");
    c
}

/// GDAL's GeoPackage validator (python3-gdal) checks the requirements one by one.
fn validate_gpkg(db: &Path) {
    let v = Command::new("/usr/bin/python3")
        .args(["-m", "osgeo_utils.samples.validate_gpkg"])
        .arg(db)
        .output()
        .expect("python3 with GDAL (python3-gdal) is needed: run scripts/setup.sh");
    assert!(
        v.status.success(),
        "validate_gpkg {}: {}{}",
        db.display(),
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn migration_from_schema_1_keeps_rows() {
    let dir = tempdir("migrate");
    let db = dir.join("old.gpkg");
    {
        // a database as the first schema left it, with one run and its class areas
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(terratile::store::MIGRATIONS[0]).unwrap();
        conn.pragma_update(
            None,
            "application_id",
            terratile::store::GPKG_APPLICATION_ID,
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 10301).unwrap();
        conn.execute_batch(
            "INSERT INTO runs (command, parameters, tool_version, started, finished, status, class_count, pixel_area_m2, valid_px, valid_area_m2, output)
             VALUES ('segment', '{}', '0.0.1', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 'ok', 2, 900.0, 3, 2700.0, 'old.tif');
             INSERT INTO class_areas (run_id, date, class, class_name, pixels, area_m2, share)
             VALUES (1, 'classes', 0, 'land', 2, 1800.0, 0.6667), (1, 'classes', 1, 'sea', 1, 900.0, 0.3333);",
        )
        .unwrap();
        assert!(
            conn.prepare("SELECT * FROM zone_transitions").is_err(),
            "schema 1 has no zone tables"
        );
    }
    let (b, a) = class_pair(&dir);
    let st = change_cmd(&b, &a, &dir.join("c.tif"), &db)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let conn = Connection::open(&db).unwrap();
    let uv: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(uv, 10300 + terratile::store::SCHEMA_VERSION);
    assert_eq!(terratile::store::SCHEMA_VERSION, 6);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM zone_transitions"),
        0,
        "migration 2 ran"
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM runs WHERE area_method IS NULL"),
        1,
        "migration 0004 ran; the old run's areas were planar"
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM runs"), 2);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM class_areas WHERE run_id = 1 AND class_name IN ('land', 'sea')"
        ),
        2,
        "the old rows are kept"
    );
    validate_gpkg(&db);
    // and the old run still reads back
    let r = report_json(&db, Some(1));
    assert_eq!(r["classes"][1]["name"], "sea");
    assert_eq!(r["valid_px"], 3);
    assert_eq!(r["pixel_area_m2"], 900.0);
    assert!(r["area_method"].is_null());
    let t = terratile(&[&"report", &"--db", &db, &"--run", &"1"]);
    assert!(
        String::from_utf8_lossy(&t.stdout).contains("areas: planar pixel areas in the CRS"),
        "an old run says its areas were planar"
    );
    let r2 = report_json(&db, Some(2));
    assert_eq!(r2["area_method"], "geodesic-footprints");
    assert!(r2["pixel_area_m2"].is_null());
}

#[test]
fn two_concurrent_runs_both_land() {
    let dir = tempdir("concurrent");
    let (b, a) = class_pair(&dir);
    let db = dir.join("stats.gpkg");
    let mut kids: Vec<_> = (0..2)
        .map(|i| {
            change_cmd(&b, &a, &dir.join(format!("c{i}.tif")), &db)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for k in kids.drain(..) {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let conn = Connection::open(&db).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM runs"), 2);
    let outputs: Vec<String> = conn
        .prepare("SELECT output FROM runs ORDER BY output")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(
        outputs[0].ends_with("c0.tif") && outputs[1].ends_with("c1.tif"),
        "{outputs:?}"
    );
    // each run has its whole matrix
    let per_run = count(
        &conn,
        "SELECT count(DISTINCT run_id) FROM transitions WHERE run_id IN (SELECT id FROM runs)",
    );
    assert_eq!(per_run, 2);
    let wal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(wal, "wal");
}

/// Runs a command expected to fail; checks exit 1, one line naming `mentions`, no panic,
/// nothing at `out`.
fn fails(mut cmd: Command, out: &Path, mentions: &[&str]) -> String {
    assert_fails_cleanly(&cmd.output().unwrap(), out, mentions)
}

#[test]
fn bad_databases_give_clear_errors() {
    let dir = tempdir("baddb");
    let (b, a) = class_pair(&dir);
    let out = dir.join("c.tif");
    // a folder that does not exist
    let db = dir.join("no/such/folder/stats.gpkg");
    fails(
        change_cmd(&b, &a, &out, &db),
        &out,
        &["stats.gpkg", "does not exist", "--db"],
    );
    // a read-only database (refused even for root, who could write it)
    let db = dir.join("ro.gpkg");
    let st = change_cmd(&b, &a, &dir.join("first.tif"), &db)
        .output()
        .unwrap();
    assert!(st.status.success());
    let before = std::fs::read(&db).unwrap();
    let mut p = std::fs::metadata(&db).unwrap().permissions();
    p.set_readonly(true);
    std::fs::set_permissions(&db, p).unwrap();
    fails(
        change_cmd(&b, &a, &out, &db),
        &out,
        &["ro.gpkg", "read-only", "chmod"],
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is untouched"
    );
    // a file that is not a database
    let db = dir.join("notes.sqlite");
    std::fs::write(
        &db,
        "not a database, just some notes that are long enough to look like a header\n",
    )
    .unwrap();
    fails(
        change_cmd(&b, &a, &out, &db),
        &out,
        &["notes.sqlite", "not an SQLite database"],
    );
    // an SQLite database of something else
    let db = dir.join("other.sqlite");
    Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE birds (name TEXT)")
        .unwrap();
    fails(
        change_cmd(&b, &a, &out, &db),
        &out,
        &["other.sqlite", "no terratile schema"],
    );
    // report: a missing database, and a run that does not exist
    let mut c = Command::new(env!("CARGO_BIN_EXE_terratile"));
    c.args(["report", "--db"]).arg(dir.join("missing.gpkg"));
    fails(c, &out, &["missing.gpkg", "no such statistics database"]);
    let mut c = Command::new(env!("CARGO_BIN_EXE_terratile"));
    c.args(["report", "--run", "7", "--db"])
        .arg(dir.join("ro.gpkg"));
    fails(c, &out, &["ro.gpkg", "no run 7", "[1]"]);
}

#[test]
fn segment_db_logs_its_run_and_class_areas() {
    let dir = tempdir("segdb");
    let (out, db) = (dir.join("classes.tif"), dir.join("stats.gpkg"));
    let err = segment_ok(
        &landsat_2000(),
        &perpixel(),
        &out,
        &["--bands", "1,2,3,4", "--db", db.to_str().unwrap()],
    );
    assert!(err.contains("run 1 logged"), "{err}");
    let r = report_json(&db, None);
    assert_eq!(r["run"]["command"], "segment");
    assert_eq!(r["dates"], serde_json::json!(["classes"]));
    let classes = read_band(&out, 1);
    // ground areas: 30 m UTM pixels 0.8 degrees off the central meridian cover a little
    // more than the plane's 900 m2, and their area varies by about 1e-5 over the scene
    assert_eq!(r["area_method"], "geodesic-footprints");
    let ground_px_m2 = r["valid_area_m2"].as_f64().unwrap() / r["valid_px"].as_f64().unwrap();
    assert!(
        ground_px_m2 > 900.0 && ground_px_m2 < 900.0 * 1.001,
        "{ground_px_m2}"
    );
    for c in r["classes"].as_array().unwrap() {
        let k = c["class"].as_u64().unwrap() as u16;
        let px = classes.iter().filter(|v| **v == k).count() as u64;
        assert_eq!(c["dates"]["classes"]["pixels"].as_u64().unwrap(), px);
        let m2 = c["dates"]["classes"]["area_m2"].as_f64().unwrap();
        assert!(
            (m2 - px as f64 * ground_px_m2).abs() <= 1e-4 * m2,
            "class {k}: {m2} m2 for {px} px"
        );
    }
    assert_eq!(r["transitions"].as_array().unwrap().len(), 0);
    let table = terratile(&[&"report", &"--db", &db]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("classes ha") && text.contains("vegetation"),
        "{text}"
    );
}

#[test]
fn report_formats_agree() {
    let dir = tempdir("formats");
    let (b, a) = class_pair(&dir);
    let db = dir.join("stats.gpkg");
    assert!(change_cmd(&b, &a, &dir.join("c.tif"), &db)
        .status()
        .unwrap()
        .success());
    let j = report_json(&db, Some(1));
    for key in [
        "run",
        "valid_px",
        "valid_area_m2",
        "pixel_area_m2",
        "area_method",
        "dates",
        "classes",
        "transitions",
        "changed_px",
        "changed_area_m2",
    ] {
        assert!(j.get(key).is_some(), "json has {key}");
    }
    let csv = terratile(&[&"report", &"--db", &db, &"--format", &"csv"]);
    let csv = String::from_utf8(csv.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "record,date,from_class,from_name,to_class,to_name,pixels,area_m2,area_ha,share"
    );
    let mut px_csv = 0u64;
    let mut n_transitions = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 10, "{l}");
        if f[0] == "transition" {
            px_csv += f[6].parse::<u64>().unwrap();
            n_transitions += 1;
        }
    }
    assert_eq!(n_transitions, j["transitions"].as_array().unwrap().len());
    assert_eq!(px_csv, j["valid_px"].as_u64().unwrap());
    let table = terratile(&[&"report", &"--db", &db]);
    let text = String::from_utf8(table.stdout).unwrap();
    // reading leaves no WAL files behind
    let left: Vec<_> = files_in(&dir)
        .into_iter()
        .filter(|f| f.ends_with("-wal") || f.ends_with("-shm"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for want in [
        "before ha",
        "after ha",
        "net ha",
        "before \\ after",
        "gained",
        "lost",
        "changed:",
    ] {
        assert!(text.contains(want), "table shows {want:?}:\n{text}");
    }
}

#[test]
fn the_database_is_a_geopackage_gdal_opens_without_warnings() {
    let dir = tempdir("gpkg");
    let (b, a) = class_pair(&dir);
    let db = dir.join("stats.gpkg");
    let st = Command::new(env!("CARGO_BIN_EXE_terratile"))
        .arg("change")
        .arg("--before-classes")
        .arg(&b)
        .arg("--after-classes")
        .arg(&a)
        .arg("-o")
        .arg(dir.join("c.tif"))
        .args(["--db", db.to_str().unwrap(), "-q", "--stats-tile", "25"])
        .status()
        .unwrap();
    assert!(st.success());
    let o = Command::new("ogrinfo")
        .args(["-al", "-so"])
        .arg(&db)
        .arg("tile_stats")
        .output()
        .expect("ogrinfo (gdal-bin) is needed: run scripts/setup.sh");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    assert!(
        err.trim().is_empty() && !out.contains("Warning"),
        "no warnings: {err}{out}"
    );
    assert!(out.contains("using driver `GPKG' successful"), "{out}");
    assert!(out.contains("Geometry: Polygon"), "{out}");
    assert!(
        out.contains("Feature Count: 25"),
        "101x101 px in 25 px tiles: {out}"
    );
    assert!(out.contains("EPSG\",4326"), "{out}");
    // the features' geometries: each tile's footprint holds its centre
    let o = Command::new("ogrinfo")
        .args(["-q", "-sql", "SELECT ST_Area(geom) AS a, changed_px FROM tile_stats WHERE tile_row = 0 AND tile_col = 0"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("a (Real)"),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // a 25 x 25 px tile of 30 m at 6.8 N is about 0.0067 x 0.0068 degrees
    let area: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("a (Real) = "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (area - 4.6e-5).abs() < 0.3e-5,
        "tile footprint area {area} deg2"
    );
    // every table the runs use is registered, and the whole file passes GDAL's checks
    let o = Command::new("ogrinfo").arg(&db).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    for t in [
        "tile_stats (Polygon)",
        "runs (None)",
        "transitions (None)",
        "class_areas (None)",
    ] {
        assert!(text.contains(t), "{text}");
    }
    assert!(String::from_utf8_lossy(&o.stderr).trim().is_empty());
    validate_gpkg(&db);
}

#[test]
fn runs_with_different_models_stay_distinguishable() {
    let dir = tempdir("twomodels");
    let db = dir.join("stats.gpkg");
    for (i, model) in [perpixel(), small_cnn()].iter().enumerate() {
        let out = dir.join(format!("change{i}.tif"));
        terratile_ok(&[
            &"change",
            &landsat_2000(),
            &landsat_2010(),
            &"-m",
            model,
            &"--bands",
            &"1,2,3,4",
            &"-o",
            &out,
            &"--db",
            &db,
            &"-q",
        ]);
    }
    let conn = Connection::open(&db).unwrap();
    let rows: Vec<(i64, String, String, String)> = conn
        .prepare("SELECT r.id, r.tool_version, m.path, m.sha256 FROM runs r JOIN models m ON m.run_id = r.id ORDER BY r.id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].0, rows[1].0), (1, 2));
    assert_eq!(rows[0].1, env!("CARGO_PKG_VERSION"));
    assert!(rows[0].2.ends_with("perpixel_ndi.onnx") && rows[1].2.ends_with("small_cnn.onnx"));
    assert_ne!(rows[0].3, rows[1].3);
    // each run reads back with its own model's classes
    let (r1, r2) = (report_json(&db, Some(1)), report_json(&db, Some(2)));
    assert_eq!(r1["classes"][2]["name"], "water");
    assert_eq!(r2["classes"][2]["name"], "class_c");
    for r in [&r1, &r2] {
        let sum: u64 = transitions_of(r).values().sum();
        assert_eq!(sum, r["valid_px"].as_u64().unwrap());
    }
}

#[test]
fn report_json_follows_its_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schemas/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let dir = tempdir("schema");
    let (b, a) = class_pair(&dir);
    let db = dir.join("stats.gpkg");
    assert!(change_cmd(&b, &a, &dir.join("c.tif"), &db)
        .status()
        .unwrap()
        .success());
    segment_ok(
        &landsat_2000(),
        &perpixel(),
        &dir.join("s.tif"),
        &["--bands", "1,2,3,4", "-q", "--db", db.to_str().unwrap()],
    );
    for run in [1, 2] {
        assert_report_schema(&report_json(&db, Some(run)));
    }
    // and the schema is not vacuous: a report missing its matrix is refused
    let mut r = report_json(&db, Some(1));
    r.as_object_mut().unwrap().remove("transitions");
    assert!(!validator.is_valid(&r));
}
