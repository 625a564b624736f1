//! The end of the flow (segment -> change -> **store**): runs and their statistics in an
//! SQLite database that is also a GeoPackage.
//!
//! The schema lives in `schemas/migrations/NNNN_*.sql`, embedded in the binary and applied
//! in order when a database is opened. GeoPackage owns `PRAGMA application_id`
//! (`0x47504B47`, "GPKG") and `PRAGMA user_version` (the GeoPackage version, 10300 for
//! 1.3): terratile keeps GeoPackage 1.3 and counts its own schema version in the patch
//! digits, `user_version = 10300 + schema_version` (10302 = schema 2), which GDAL reads
//! as GeoPackage 1.3 without warnings. See `schemas/README.md`.
//!
//! The database runs in WAL mode with a 30 s busy timeout, and each run's rows are
//! written in one `BEGIN IMMEDIATE` transaction at its end: a crash leaves the whole run
//! or none of it, and concurrent runs queue instead of failing.

pub mod gpkg;
pub mod report;
pub mod series;

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use sha2::{Digest, Sha256};

use crate::change::{TileStat, ZoneStat};
use crate::error::{Error, Result};
use crate::raster::AreaMethod;

/// The migrations, in order; migration `i` (0-based) takes the schema from version `i`
/// to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../schemas/migrations/0001_base.sql"),
    include_str!("../../schemas/migrations/0002_zones.sql"),
    include_str!("../../schemas/migrations/0003_run_status.sql"),
    include_str!("../../schemas/migrations/0004_area_method.sql"),
    include_str!("../../schemas/migrations/0005_layer_styles.sql"),
    include_str!("../../schemas/migrations/0006_series.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
/// `PRAGMA application_id` of a GeoPackage ("GPKG").
pub const GPKG_APPLICATION_ID: i64 = 0x4750_4B47;
/// GeoPackage 1.3's `user_version`; terratile adds its schema version.
pub const GPKG_USER_VERSION_BASE: i64 = 10300;

/// An open statistics database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// A model used by a run.
#[derive(Debug, Clone)]
pub struct ModelRecord {
    pub role: String,
    pub path: PathBuf,
    pub sha256: String,
    pub classes: Vec<String>,
}

/// A raster read or written by a run.
#[derive(Debug, Clone)]
pub struct RasterRecord {
    pub role: String,
    pub path: PathBuf,
    pub width_px: usize,
    pub height_px: usize,
    pub bands: usize,
    pub crs_wkt: String,
    pub geo_transform: Option<[f64; 6]>,
}

/// Pixels and area of one class at one date.
#[derive(Debug, Clone)]
pub struct ClassAreaRecord {
    pub date: String,
    pub class: usize,
    pub pixels: u64,
    pub area_m2: f64,
}

/// One cell of the transition matrix.
#[derive(Debug, Clone)]
pub struct TransitionRecord {
    pub from: usize,
    pub to: usize,
    pub pixels: u64,
    pub area_m2: f64,
}

/// Everything one run writes.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub command: String,
    pub parameters: serde_json::Value,
    pub started: String,
    pub finished: String,
    pub output: PathBuf,
    pub class_names: Vec<String>,
    /// The classes' colours (for the `tile_stats` layer's QGIS style; may be empty).
    pub class_colors: Vec<[u8; 3]>,
    /// How the pixel areas were measured.
    pub area_method: Option<AreaMethod>,
    pub valid_px: u64,
    pub valid_area_m2: f64,
    pub models: Vec<ModelRecord>,
    pub rasters: Vec<RasterRecord>,
    pub class_areas: Vec<ClassAreaRecord>,
    pub transitions: Vec<TransitionRecord>,
    pub tiles: Vec<TileStat>,
    pub zones: Vec<ZoneStat>,
}

pub(crate) fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    let problem = match e.sqlite_error_code() {
        Some(C::ReadOnly) => {
            "is read-only; make it writable (chmod u+w) or choose another --db path".to_string()
        }
        Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => {
            "stayed locked by another process for 30 s; try again when it has finished".to_string()
        }
        Some(C::NotADatabase) => {
            "is not an SQLite database; choose another --db path (a new file is created)"
                .to_string()
        }
        Some(C::CannotOpen) => {
            "cannot be opened; check the path and its folder's permissions".to_string()
        }
        Some(C::DiskFull) => "the disk is full; free some space and run again".to_string(),
        _ => format!("statistics database error: {e}"),
    };
    Error::output(path, problem).caused_by(e)
}

impl Store {
    /// Opens (creating it when missing) a statistics database and brings its schema up to
    /// date. Fails early, before any work, when it cannot be written.
    pub fn open(path: &Path) -> Result<Store> {
        let parent = crate::write::output::folder_of(path);
        if !parent.is_dir() {
            return Err(Error::output(
                path,
                format!(
                    "the folder {} does not exist; create it or choose another --db path",
                    parent.display()
                ),
            ));
        }
        if path.is_dir() {
            return Err(Error::output(
                path,
                "is a folder; give a file name such as stats.sqlite",
            ));
        }
        if crate::write::space::read_only_fs(&parent) {
            return Err(Error::output(
                path,
                format!(
                    "is on a read-only file system ({} is mounted read-only); remount it read-write or choose another --db path",
                    parent.display()
                ),
            ));
        }
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().readonly() {
                return Err(Error::output(
                    path,
                    "is read-only; make it writable (chmod u+w) or choose another --db path",
                ));
            }
        }
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        let mut s = Store {
            conn,
            path: path.to_path_buf(),
        };
        s.configure().map_err(|e| db_error(path, e))?;
        s.migrate()?;
        Ok(s)
    }

    /// Opens an existing database for reading (for `report`); never creates one.
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !path.is_file() {
            return Err(Error::input(
                path,
                "no such statistics database; check the path, or create one with `terratile change ... --db`",
            ));
        }
        // Read-write (never creating) where allowed: a read-only connection to a WAL
        // database cannot remove the -wal and -shm files when it closes. On a read-only
        // file system no one can change it, and WAL needs no -shm file: immutable.
        let folder = crate::write::output::folder_of(path);
        let conn = if crate::write::space::read_only_fs(&folder) {
            Connection::open_with_flags(
                immutable_uri(path),
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        } else {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .or_else(|_| {
                Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
            })
        }
        .map_err(|e| db_error(path, e))?;
        set_busy_timeout(&conn).map_err(|e| db_error(path, e))?;
        let s = Store {
            conn,
            path: path.to_path_buf(),
        };
        let v = s.schema_version()?;
        if v > SCHEMA_VERSION {
            return Err(Error::input(
                path,
                format!("was written by a newer terratile (schema {v}; this one knows up to {SCHEMA_VERSION}); upgrade terratile to read it"),
            ));
        }
        if v == 0 {
            return Err(Error::input(
                path,
                "is not a terratile statistics database (no terratile schema); pass the --db of a change or segment run",
            ));
        }
        Ok(s)
    }

    fn configure(&mut self) -> rusqlite::Result<()> {
        set_busy_timeout(&self.conn)?;
        let _: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        self.conn.pragma_update(None, "foreign_keys", true)?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The terratile schema version of the database (0: none yet).
    pub fn schema_version(&self) -> Result<i64> {
        let e = |e| db_error(&self.path, e);
        let uv: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(e)?;
        let app: i64 = self
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(e)?;
        schema_of(&self.path, uv, app, || {
            self.conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(e)
        })
    }

    /// Applies the migrations the database lacks, in one transaction.
    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let e = |e| db_error(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let uv: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(e)?;
        let app: i64 = tx
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(e)?;
        let current = schema_of(&path, uv, app, || {
            tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(e)
        })?;
        if current > SCHEMA_VERSION {
            return Err(Error::output(
                &path,
                format!("was written by a newer terratile (schema {current}; this one knows up to {SCHEMA_VERSION}); upgrade terratile or choose another --db path"),
            ));
        }
        if current == SCHEMA_VERSION {
            return Ok(()); // the transaction rolls back: nothing to do
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql).map_err(|err| {
                Error::output(&path, format!("migration {} failed: {err}", i + 1))
            })?;
        }
        tx.pragma_update(None, "application_id", GPKG_APPLICATION_ID)
            .map_err(e)?;
        tx.pragma_update(
            None,
            "user_version",
            GPKG_USER_VERSION_BASE + SCHEMA_VERSION,
        )
        .map_err(e)?;
        tx.commit().map_err(e)
    }

    /// Writes one run and everything tied to it in one transaction; returns its id.
    pub fn record(&mut self, run: &RunRecord) -> Result<i64> {
        self.record_with(run, |_, _| Ok(()))
    }

    /// Writes one run, and what `more` adds for its id, in one transaction; returns
    /// its id.
    pub(crate) fn record_with(
        &mut self,
        run: &RunRecord,
        more: impl FnOnce(&rusqlite::Transaction<'_>, i64) -> rusqlite::Result<()>,
    ) -> Result<i64> {
        let path = self.path.clone();
        let e = |e| db_error(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        tx.execute(
            "INSERT INTO runs (command, parameters, tool_version, started, finished, status, class_count, area_method, valid_px, valid_area_m2, output)
             VALUES (?1, ?2, ?3, ?4, ?5, 'ok', ?6, ?7, ?8, ?9, ?10)",
            params![
                run.command,
                run.parameters.to_string(),
                env!("CARGO_PKG_VERSION"),
                run.started,
                run.finished,
                run.class_names.len() as i64,
                run.area_method.map(AreaMethod::code),
                run.valid_px as i64,
                run.valid_area_m2,
                run.output.display().to_string(),
            ],
        )
        .map_err(e)?;
        let id = tx.last_insert_rowid();
        {
            let mut st = tx
                .prepare("INSERT INTO models (run_id, role, path, sha256, classes) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(e)?;
            for m in &run.models {
                st.execute(params![
                    id,
                    m.role,
                    m.path.display().to_string(),
                    m.sha256,
                    serde_json::to_string(&m.classes).unwrap_or_default()
                ])
                .map_err(e)?;
            }
            let mut st = tx
                .prepare("INSERT INTO rasters (run_id, role, path, width_px, height_px, bands, crs, geotransform) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                .map_err(e)?;
            for r in &run.rasters {
                st.execute(params![
                    id,
                    r.role,
                    r.path.display().to_string(),
                    r.width_px as i64,
                    r.height_px as i64,
                    r.bands as i64,
                    r.crs_wkt,
                    serde_json::to_string(&r.geo_transform).unwrap_or_default()
                ])
                .map_err(e)?;
            }
            let mut st = tx
                .prepare("INSERT INTO class_areas (run_id, date, class, class_name, pixels, area_m2, share) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .map_err(e)?;
            for c in &run.class_areas {
                let name = run.class_names.get(c.class).cloned().unwrap_or_default();
                let share = if run.valid_area_m2 > 0.0 {
                    c.area_m2 / run.valid_area_m2
                } else {
                    0.0
                };
                st.execute(params![
                    id,
                    c.date,
                    c.class as i64,
                    name,
                    c.pixels as i64,
                    c.area_m2,
                    share
                ])
                .map_err(e)?;
            }
            let mut st = tx
                .prepare("INSERT INTO transitions (run_id, from_class, to_class, pixels, area_m2) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(e)?;
            for t in &run.transitions {
                st.execute(params![
                    id,
                    t.from as i64,
                    t.to as i64,
                    t.pixels as i64,
                    t.area_m2
                ])
                .map_err(e)?;
            }
            let mut st = tx
                .prepare(
                    "INSERT INTO tile_stats (geom, run_id, tile_row, tile_col, x0_px, y0_px, width_px, height_px, valid_px, changed_px, changed_area_m2, changed_share, dominant_from, dominant_to, dominant_px, dominant)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )
                .map_err(e)?;
            for t in &run.tiles {
                let name = |i: usize| run.class_names.get(i).cloned().unwrap_or_default();
                st.execute(params![
                    gpkg::polygon_blob(&t.footprint_lonlat, 4326),
                    id,
                    t.row as i64,
                    t.col as i64,
                    t.x0_px as i64,
                    t.y0_px as i64,
                    t.width_px as i64,
                    t.height_px as i64,
                    t.valid_px as i64,
                    t.changed_px as i64,
                    t.changed_area_m2,
                    if t.valid_px > 0 {
                        t.changed_px as f64 / t.valid_px as f64
                    } else {
                        0.0
                    },
                    t.dominant.map(|d| d.0 as i64),
                    t.dominant.map(|d| d.1 as i64),
                    t.dominant.map_or(0, |d| d.2 as i64),
                    t.dominant
                        .map_or(String::new(), |d| format!("{} -> {}", name(d.0), name(d.1))),
                ])
                .map_err(e)?;
            }
        }
        {
            let mut zst = tx
                .prepare("INSERT INTO zones (run_id, zone, name, valid_px, valid_area_m2) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(e)?;
            let mut tst = tx
                .prepare("INSERT INTO zone_transitions (run_id, zone, from_class, to_class, pixels, area_m2) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(e)?;
            let n = run.class_names.len();
            for z in &run.zones {
                let px: u64 = z.matrix_px.iter().sum();
                let m2: f64 = z.matrix_area_m2.iter().sum();
                zst.execute(params![id, z.zone as i64, z.name, px as i64, m2])
                    .map_err(e)?;
                for k in (0..z.matrix_px.len()).filter(|&k| z.matrix_px[k] > 0) {
                    tst.execute(params![
                        id,
                        z.zone as i64,
                        (k / n) as i64,
                        (k % n) as i64,
                        z.matrix_px[k] as i64,
                        z.matrix_area_m2[k]
                    ])
                    .map_err(e)?;
                }
            }
        }
        if !run.tiles.is_empty() {
            // the layer's default QGIS style, in this run's classes and colours
            let colors: Vec<[u8; 3]> = (0..run.class_names.len())
                .map(|i| {
                    run.class_colors
                        .get(i)
                        .copied()
                        .unwrap_or_else(|| crate::raster::legend::default_colour(i))
                })
                .collect();
            tx.execute(
                "DELETE FROM layer_styles WHERE f_table_name = 'tile_stats' AND styleName = 'terratile'",
                [],
            )
            .map_err(e)?;
            tx.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, ui)
                 VALUES ('', '', 'tile_stats', 'geom', 'terratile', ?1, '', 1, ?2, '', '')",
                params![
                    crate::write::style::tile_stats_qml(&run.class_names, &colors),
                    format!("tiles by the class their largest change became (run {id})")
                ],
            )
            .map_err(e)?;
            // the layer's extent in gpkg_contents, over all runs
            let (mut minx, mut maxx, mut miny, mut maxy) = (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            );
            for t in &run.tiles {
                for &(x, y) in &t.footprint_lonlat {
                    minx = minx.min(x);
                    maxx = maxx.max(x);
                    miny = miny.min(y);
                    maxy = maxy.max(y);
                }
            }
            tx.execute(
                "UPDATE gpkg_contents SET
                   min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2),
                   max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4),
                   last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now')
                 WHERE table_name = 'tile_stats'",
                params![minx, miny, maxx, maxy],
            )
            .map_err(e)?;
        }
        more(&tx, id).map_err(e)?;
        tx.execute(
            "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE data_type = 'attributes'",
            [],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(id)
    }
}

/// How a run that did not finish ended (`runs.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Failed,
    Interrupted,
}

impl RunEnd {
    pub fn status(self) -> &'static str {
        match self {
            RunEnd::Failed => "failed",
            RunEnd::Interrupted => "interrupted",
        }
    }
}

impl Store {
    /// Records a run that did not finish: its command, parameters, times and the error
    /// line, with no figures. Returns its id.
    pub fn record_unfinished(
        &mut self,
        command: &str,
        parameters: &serde_json::Value,
        (started, finished): (&str, &str),
        output: &Path,
        end: RunEnd,
        error: &str,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO runs (command, parameters, tool_version, started, finished, status, class_count, pixel_area_m2, valid_px, valid_area_m2, output, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, NULL, 0, 0.0, ?7, ?8)",
                params![
                    command,
                    parameters.to_string(),
                    env!("CARGO_PKG_VERSION"),
                    started,
                    finished,
                    end.status(),
                    output.display().to_string(),
                    error,
                ],
            )
            .map_err(|e| db_error(&self.path, e))?;
        Ok(self.conn.last_insert_rowid())
    }
}

/// Waits up to 30 s for a lock held by another run. A pragma rather than
/// `file:PATH?immutable=1`: SQLite's URI for a database file that cannot change (on a
/// read-only file system), the path percent-encoded.
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for &b in abs.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// `Connection::busy_timeout`, which needs SQLite 3.44 (Debian 12 has 3.40).
fn set_busy_timeout(conn: &Connection) -> rusqlite::Result<()> {
    let _: i64 = conn.query_row("PRAGMA busy_timeout = 30000", [], |r| r.get(0))?;
    Ok(())
}

/// The schema version from the header pragmas; `objects` counts what the file holds
/// (only asked for when user_version is 0).
fn schema_of(
    path: &Path,
    user_version: i64,
    application_id: i64,
    objects: impl FnOnce() -> Result<i64>,
) -> Result<i64> {
    if user_version == 0 && application_id == 0 {
        if objects()? > 0 {
            return Err(Error::output(
                path,
                "is an SQLite database of something else (it has tables but no terratile schema); choose another --db path",
            ));
        }
        return Ok(0);
    }
    let v = user_version - GPKG_USER_VERSION_BASE;
    if application_id == GPKG_APPLICATION_ID && (1..100).contains(&v) {
        return Ok(v);
    }
    Err(Error::output(
        path,
        format!("is not a terratile statistics database (application_id {application_id:#x}, user_version {user_version}); choose another --db path"),
    ))
}

/// The current UTC time as ISO 8601 (`2026-11-28T04:10:00Z`).
pub fn utc_now() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, secs) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| {
        Error::input(path, format!("cannot read it to checksum it: {e}")).caused_by(e)
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| {
            Error::input(path, format!("cannot read it to checksum it: {e}")).caused_by(e)
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
