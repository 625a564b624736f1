//! A date series in the database (schema 6): the dates of one run with their class
//! areas, and each interval's figures and from-to matrix, written with the run in one
//! transaction ([`insert`]) and read back for `report` ([`load`], [`table`],
//! [`to_json`], [`to_csv`]).

use std::fmt::Write as _;
use std::path::PathBuf;

use rusqlite::{params, Transaction};
use serde_json::{json, Value};

use super::report::{AreaUnit, Report};
use super::{db_error, RunRecord, Store};
use crate::error::Result;

const HA: f64 = 10_000.0;

/// One date of a series, as recorded.
#[derive(Debug, Clone)]
pub struct SeriesDateRecord {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub date_source: String,
    pub path: PathBuf,
    /// Pixels and m2 per class on the comparison grid.
    pub class_px: Vec<u64>,
    pub class_area_m2: Vec<f64>,
}

/// One interval (date k -> date k + 1), as recorded.
#[derive(Debug, Clone)]
pub struct SeriesIntervalRecord {
    pub output: PathBuf,
    pub valid_px: u64,
    pub valid_area_m2: f64,
    pub changed_px: u64,
    pub changed_area_m2: f64,
    /// Pixels whose last change was in this interval.
    pub last_change_px: u64,
    /// `matrix_px[from * N + to]`.
    pub matrix_px: Vec<u64>,
    pub matrix_area_m2: Vec<f64>,
}

/// What a series run adds to its run record.
#[derive(Debug, Clone, Default)]
pub struct SeriesRecord {
    pub dates: Vec<SeriesDateRecord>,
    pub intervals: Vec<SeriesIntervalRecord>,
}

impl Store {
    /// Writes a series run (its run record and its series) in one transaction.
    pub fn record_series(&mut self, run: &RunRecord, series: &SeriesRecord) -> Result<i64> {
        self.record_with(run, |tx, id| insert(tx, id, &run.class_names, series))
    }
}

/// Inserts the series of run `id`.
fn insert(
    tx: &Transaction<'_>,
    id: i64,
    names: &[String],
    s: &SeriesRecord,
) -> rusqlite::Result<()> {
    let n = names.len();
    let name = |c: usize| names.get(c).cloned().unwrap_or_default();
    let mut dst = tx.prepare(
        "INSERT INTO series_dates (run_id, date_index, date, date_source, path, valid_px, valid_area_m2) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut ast = tx.prepare(
        "INSERT INTO series_class_areas (run_id, date_index, class, class_name, pixels, area_m2, share) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (k, d) in s.dates.iter().enumerate() {
        let valid_px: u64 = d.class_px.iter().sum();
        let valid_m2: f64 = d.class_area_m2.iter().sum();
        dst.execute(params![
            id,
            (k + 1) as i64,
            d.date,
            d.date_source,
            d.path.display().to_string(),
            valid_px as i64,
            valid_m2
        ])?;
        for c in 0..n.min(d.class_px.len()) {
            let share = if valid_m2 > 0.0 {
                d.class_area_m2[c] / valid_m2
            } else {
                0.0
            };
            ast.execute(params![
                id,
                (k + 1) as i64,
                c as i64,
                name(c),
                d.class_px[c] as i64,
                d.class_area_m2[c],
                share
            ])?;
        }
    }
    let mut ist = tx.prepare(
        "INSERT INTO series_intervals (run_id, interval, from_date_index, to_date_index, output, valid_px, valid_area_m2, changed_px, changed_area_m2, last_change_px)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut tst = tx.prepare(
        "INSERT INTO series_transitions (run_id, interval, from_class, to_class, pixels, area_m2) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (k, i) in s.intervals.iter().enumerate() {
        let k1 = (k + 1) as i64;
        ist.execute(params![
            id,
            k1,
            k1,
            k1 + 1,
            i.output.display().to_string(),
            i.valid_px as i64,
            i.valid_area_m2,
            i.changed_px as i64,
            i.changed_area_m2,
            i.last_change_px as i64
        ])?;
        for c in (0..i.matrix_px.len()).filter(|&c| i.matrix_px[c] > 0) {
            tst.execute(params![
                id,
                k1,
                (c / n) as i64,
                (c % n) as i64,
                i.matrix_px[c] as i64,
                i.matrix_area_m2[c]
            ])?;
        }
    }
    Ok(())
}

/// One date of a series, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct DateReport {
    pub index: usize,
    pub date: String,
    pub date_source: String,
    pub path: String,
    pub valid_px: u64,
    pub valid_area_m2: f64,
    /// `areas[class]` = (pixels, area_m2, share of the date's valid area).
    pub areas: Vec<(u64, f64, f64)>,
}

/// One interval of a series, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalReport {
    pub interval: usize,
    pub from_date: String,
    pub to_date: String,
    pub output: String,
    pub valid_px: u64,
    pub valid_area_m2: f64,
    pub changed_px: u64,
    pub changed_area_m2: f64,
    pub last_change_px: u64,
    /// (from, to, pixels, area_m2), pairs with pixels only.
    pub transitions: Vec<(usize, usize, u64, f64)>,
}

/// A series run's dates and intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesReport {
    /// The class names recorded with the class areas ("" where none).
    pub class_names: Vec<String>,
    pub dates: Vec<DateReport>,
    pub intervals: Vec<IntervalReport>,
}

impl SeriesReport {
    /// The changes (from != to) of every interval, largest area first:
    /// (interval index 0-based, from, to, pixels, area_m2).
    pub fn largest_changes(&self) -> Vec<(usize, usize, usize, u64, f64)> {
        let mut v: Vec<_> = self
            .intervals
            .iter()
            .enumerate()
            .flat_map(|(k, i)| {
                i.transitions
                    .iter()
                    .filter(|t| t.0 != t.1)
                    .map(move |t| (k, t.0, t.1, t.2, t.3))
            })
            .collect();
        v.sort_by(|a, b| b.4.total_cmp(&a.4).then(a.0.cmp(&b.0)));
        v
    }
}

/// The series of run `id`; None when the run is not a series (or the database predates
/// schema 6).
pub fn load(store: &Store, id: i64, classes: usize) -> Result<Option<SeriesReport>> {
    let path = store.path().to_path_buf();
    let e = |e: rusqlite::Error| db_error(&path, e);
    let c = store.connection();
    let has_table: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'series_dates'",
            [],
            |r| r.get(0),
        )
        .map_err(e)?;
    if has_table == 0 {
        return Ok(None);
    }
    let mut dates: Vec<DateReport> = c
        .prepare("SELECT date_index, date, date_source, path, valid_px, valid_area_m2 FROM series_dates WHERE run_id = ?1 ORDER BY date_index")
        .and_then(|mut s| {
            s.query_map(params![id], |r| {
                Ok(DateReport {
                    index: r.get::<_, i64>(0)?.max(0) as usize,
                    date: r.get(1)?,
                    date_source: r.get(2)?,
                    path: r.get(3)?,
                    valid_px: r.get::<_, i64>(4)?.max(0) as u64,
                    valid_area_m2: r.get(5)?,
                    areas: vec![(0, 0.0, 0.0); classes],
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(e)?;
    if dates.is_empty() {
        return Ok(None);
    }
    let mut class_names = vec![String::new(); classes];
    {
        let mut st = c
            .prepare("SELECT date_index, class, pixels, area_m2, share, class_name FROM series_class_areas WHERE run_id = ?1")
            .map_err(e)?;
        let rows = st
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(e)?;
        for row in rows {
            let (d, class, px, m2, share, name) = row.map_err(e)?;
            if let Some(slot) = class_names.get_mut(class.max(0) as usize) {
                *slot = name;
            }
            if let Some(date) = dates.iter_mut().find(|x| x.index as i64 == d) {
                if let Some(a) = date.areas.get_mut(class.max(0) as usize) {
                    *a = (px.max(0) as u64, m2, share);
                }
            }
        }
    }
    let date_of = |k: i64| {
        dates
            .iter()
            .find(|d| d.index as i64 == k)
            .map(|d| d.date.clone())
            .unwrap_or_default()
    };
    let mut intervals: Vec<IntervalReport> = c
        .prepare("SELECT interval, from_date_index, to_date_index, output, valid_px, valid_area_m2, changed_px, changed_area_m2, last_change_px FROM series_intervals WHERE run_id = ?1 ORDER BY interval")
        .and_then(|mut s| {
            s.query_map(params![id], |r| {
                Ok(IntervalReport {
                    interval: r.get::<_, i64>(0)?.max(0) as usize,
                    from_date: date_of(r.get(1)?),
                    to_date: date_of(r.get(2)?),
                    output: r.get(3)?,
                    valid_px: r.get::<_, i64>(4)?.max(0) as u64,
                    valid_area_m2: r.get(5)?,
                    changed_px: r.get::<_, i64>(6)?.max(0) as u64,
                    changed_area_m2: r.get(7)?,
                    last_change_px: r.get::<_, i64>(8)?.max(0) as u64,
                    transitions: Vec::new(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(e)?;
    for i in intervals.iter_mut() {
        i.transitions = c
            .prepare("SELECT from_class, to_class, pixels, area_m2 FROM series_transitions WHERE run_id = ?1 AND interval = ?2 ORDER BY from_class, to_class")
            .and_then(|mut s| {
                s.query_map(params![id, i.interval as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as usize,
                        r.get::<_, i64>(1)? as usize,
                        r.get::<_, i64>(2)? as u64,
                        r.get::<_, f64>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(e)?;
    }
    Ok(Some(SeriesReport {
        class_names,
        dates,
        intervals,
    }))
}

/// Writes `rows` as columns: the first left-aligned, the others right-aligned.
fn columns(s: &mut String, rows: &[Vec<String>]) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|k| {
            rows.iter()
                .filter_map(|r| r.get(k))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (k, cell) in r.iter().enumerate() {
            let w = widths[k];
            let _ = match k {
                0 => write!(line, "{cell:<w$}"),
                _ => write!(line, "  {cell:>w$}"),
            };
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
}

fn show(unit: AreaUnit, m2: f64) -> String {
    format!("{:.2}", m2 / unit.m2() + 0.0)
}

/// The series as a table: the dates, the class areas by date, each interval's change,
/// and the largest transitions.
pub fn table(r: &Report, s: &SeriesReport, unit: AreaUnit) -> String {
    let u = unit.label();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {} ({}, date series of {} dates), {} .. {}, terratile {}",
        r.id,
        r.command,
        s.dates.len(),
        r.started,
        r.finished,
        r.tool_version
    );
    let _ = writeln!(out, "output: {} (last change)", r.output);
    for (role, path, sha) in &r.models {
        let _ = writeln!(
            out,
            "{role} model: {path} (sha256 {})",
            &sha[..sha.len().min(12)]
        );
    }
    let _ = writeln!(
        out,
        "valid at every date: {} px = {} {u}",
        r.valid_px,
        show(unit, r.valid_area_m2)
    );
    let _ = writeln!(
        out,
        "areas: {}",
        crate::raster::AreaMethod::describe(r.area_method.as_deref())
    );
    let _ = writeln!(out, "\ndates");
    let mut rows = vec![vec![
        "#".to_string(),
        "date".into(),
        format!("valid {u}"),
        "date from".into(),
        "raster".into(),
    ]];
    for d in &s.dates {
        rows.push(vec![
            d.index.to_string(),
            d.date.clone(),
            show(unit, d.valid_area_m2),
            d.date_source.clone(),
            d.path.clone(),
        ]);
    }
    columns(&mut out, &rows);
    let present: Vec<usize> = (0..r.class_names.len())
        .filter(|&c| {
            s.dates
                .iter()
                .any(|d| d.areas.get(c).is_some_and(|a| a.0 > 0))
        })
        .collect();
    let _ = writeln!(
        out,
        "\nclass areas by date ({u}, % of the date's valid area)"
    );
    let mut rows = Vec::new();
    let mut head = vec!["class".to_string()];
    for d in &s.dates {
        head.push(d.date.clone());
        head.push("%".into());
    }
    rows.push(head);
    for &c in &present {
        let mut row = vec![r.class_names[c].clone()];
        for d in &s.dates {
            let (_, m2, share) = d.areas[c];
            row.push(show(unit, m2));
            row.push(format!("{:.1}%", share * 100.0));
        }
        rows.push(row);
    }
    columns(&mut out, &rows);
    let name = |c: usize| r.class_names.get(c).map_or("?", |x| x.as_str());
    let _ = writeln!(out, "\nintervals ({u})");
    let mut rows = vec![vec![
        "interval".to_string(),
        format!("valid {u}"),
        format!("changed {u}"),
        "%".into(),
        "last change px".into(),
        "largest change".into(),
    ]];
    for i in &s.intervals {
        let top = i
            .transitions
            .iter()
            .filter(|t| t.0 != t.1)
            .max_by(|a, b| a.3.total_cmp(&b.3))
            .map_or("-".to_string(), |t| {
                format!("{} -> {} ({})", name(t.0), name(t.1), show(unit, t.3))
            });
        rows.push(vec![
            format!("{} {} -> {}", i.interval, i.from_date, i.to_date),
            show(unit, i.valid_area_m2),
            show(unit, i.changed_area_m2),
            format!(
                "{:.1}%",
                if i.valid_area_m2 > 0.0 {
                    100.0 * i.changed_area_m2 / i.valid_area_m2
                } else {
                    0.0
                }
            ),
            i.last_change_px.to_string(),
            top,
        ]);
    }
    columns(&mut out, &rows);
    let largest = s.largest_changes();
    if !largest.is_empty() {
        let _ = writeln!(out, "\nlargest transitions ({u})");
        let mut rows = vec![vec![
            "interval".to_string(),
            "from -> to".into(),
            "px".into(),
            u.to_string(),
        ]];
        for &(k, f, t, px, m2) in largest.iter().take(10) {
            let i = &s.intervals[k];
            rows.push(vec![
                format!("{} {} -> {}", i.interval, i.from_date, i.to_date),
                format!("{} -> {}", name(f), name(t)),
                px.to_string(),
                show(unit, m2),
            ]);
        }
        columns(&mut out, &rows);
    }
    out
}

/// The series as JSON: `{"dates": [...], "intervals": [...]}`.
pub fn to_json(r: &Report, s: &SeriesReport) -> Value {
    let name = |i: usize| r.class_names.get(i).cloned().unwrap_or_default();
    let dates: Vec<Value> = s
        .dates
        .iter()
        .map(|d| {
            let classes: Vec<Value> = d
                .areas
                .iter()
                .enumerate()
                .map(|(c, &(px, m2, share))| {
                    json!({"class": c, "name": name(c), "pixels": px, "area_m2": m2,
                           "area_ha": m2 / HA, "share": share})
                })
                .collect();
            json!({"index": d.index, "date": d.date, "date_source": d.date_source,
                   "path": d.path, "valid_px": d.valid_px, "valid_area_m2": d.valid_area_m2,
                   "classes": classes})
        })
        .collect();
    let intervals: Vec<Value> = s
        .intervals
        .iter()
        .map(|i| {
            let transitions: Vec<Value> = i
                .transitions
                .iter()
                .map(|&(f, t, px, m2)| {
                    json!({"from": f, "from_name": name(f), "to": t, "to_name": name(t),
                           "pixels": px, "area_m2": m2, "area_ha": m2 / HA, "changed": f != t})
                })
                .collect();
            json!({"interval": i.interval, "from_date": i.from_date, "to_date": i.to_date,
                   "output": i.output, "valid_px": i.valid_px, "valid_area_m2": i.valid_area_m2,
                   "changed_px": i.changed_px, "changed_area_m2": i.changed_area_m2,
                   "last_change_px": i.last_change_px, "transitions": transitions})
        })
        .collect();
    json!({"dates": dates, "intervals": intervals})
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The series as CSV, in the report's columns: a `class_area` row per class and date,
/// then a `transition` row per pair of each interval, whose `date` is the interval
/// `FROM/TO` (ISO 8601) and whose share is of the interval's valid area.
pub fn to_csv(r: &Report, s: &SeriesReport) -> String {
    let mut out = String::from(
        "record,date,from_class,from_name,to_class,to_name,pixels,area_m2,area_ha,share\n",
    );
    let name = |i: usize| csv_field(r.class_names.get(i).map_or("", |x| x.as_str()));
    for d in &s.dates {
        for (c, &(px, m2, share)) in d.areas.iter().enumerate() {
            let _ = writeln!(
                out,
                "class_area,{},{c},{},,,{px},{m2},{},{share}",
                d.date,
                name(c),
                m2 / HA
            );
        }
    }
    for i in &s.intervals {
        for &(f, t, px, m2) in &i.transitions {
            let share = if i.valid_area_m2 > 0.0 {
                m2 / i.valid_area_m2
            } else {
                0.0
            };
            let _ = writeln!(
                out,
                "transition,{}/{},{f},{},{t},{},{px},{m2},{},{share}",
                i.from_date,
                i.to_date,
                name(f),
                name(t),
                m2 / HA
            );
        }
    }
    out
}
