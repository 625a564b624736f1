//! `terratile report`: a run's class areas and transition matrix, read back from the
//! statistics database, as a table for people or JSON / CSV for machines. The JSON
//! follows `schemas/report.schema.json`.

use std::fmt::Write as _;

use rusqlite::params;
use serde_json::{json, Value};

use super::Store;
use crate::error::{Error, Result};
use crate::raster::AreaMethod;

/// One run as the report shows it.
#[derive(Debug, Clone)]
pub struct Report {
    pub id: i64,
    pub command: String,
    pub started: String,
    pub finished: String,
    pub tool_version: String,
    pub output: String,
    pub parameters: Value,
    pub valid_px: u64,
    pub valid_area_m2: f64,
    /// The planar pixel area of a run recorded before area methods were (None since).
    pub pixel_area_m2: Option<f64>,
    /// How the pixel areas were measured ([`AreaMethod::code`]; None: planar, before).
    pub area_method: Option<String>,
    pub class_names: Vec<String>,
    /// Dates in the order first written ("before", "after"; "classes" for segment).
    pub dates: Vec<String>,
    /// `areas[date][class]` = (pixels, area_m2, share)
    pub areas: Vec<Vec<(u64, f64, f64)>>,
    /// (from, to, pixels, area_m2), pairs with pixels only.
    pub transitions: Vec<(usize, usize, u64, f64)>,
    /// (role, path, sha256)
    pub models: Vec<(String, String, String)>,
    /// Per zone: (zone, name, valid_px, valid_area_m2, [(from, to, pixels, area_m2)]).
    pub zones: Vec<ZoneReport>,
    /// A date series' dates and intervals (schema 6), when the run compared a series.
    pub series: Option<super::series::SeriesReport>,
}

/// One zone of a `--zones` run.
#[derive(Debug, Clone)]
pub struct ZoneReport {
    pub zone: i64,
    pub name: String,
    pub valid_px: u64,
    pub valid_area_m2: f64,
    pub transitions: Vec<(usize, usize, u64, f64)>,
}

/// Pixels and m2 of the transitions `(from, to, px, m2)` that changed class.
fn changed(transitions: &[(usize, usize, u64, f64)]) -> (u64, f64) {
    transitions
        .iter()
        .filter(|t| t.0 != t.1)
        .fold((0, 0.0), |(p, a), t| (p + t.2, a + t.3))
}

impl ZoneReport {
    pub fn changed(&self) -> (u64, f64) {
        changed(&self.transitions)
    }
}

impl Report {
    fn date(&self, d: &str) -> Option<usize> {
        self.dates.iter().position(|x| x == d)
    }
    pub fn changed(&self) -> (u64, f64) {
        changed(&self.transitions)
    }
}

/// Reads run `run` (the latest when None) from `store`.
pub fn load(store: &Store, run: Option<i64>) -> Result<Report> {
    let path = store.path().to_path_buf();
    let e = |e: rusqlite::Error| super::db_error(&path, e);
    let c = store.connection();
    // runs that failed or were interrupted (schema 3) have no figures: the latest run
    // is the latest that finished, and asking for another names how it ended
    let finished_ids = || -> Result<Vec<i64>> {
        c.prepare("SELECT id FROM runs WHERE status = 'ok' ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(e)
    };
    let id: i64 = match run {
        Some(id) => id,
        None => match finished_ids()?.last() {
            Some(id) => *id,
            None => {
                let unfinished: i64 = c
                    .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
                    .map_err(e)?;
                return Err(Error::input(
                    &path,
                    if unfinished > 0 {
                        format!("holds no finished runs ({unfinished} failed or were interrupted: see its runs table); run `terratile change ... --db` again")
                    } else {
                        "holds no runs yet; run `terratile change ... --db` first".to_string()
                    },
                ));
            }
        },
    };
    let status: Option<String> = c
        .query_row("SELECT status FROM runs WHERE id = ?1", params![id], |r| {
            r.get(0)
        })
        .ok();
    if let Some(status) = status.filter(|s| s != "ok") {
        // the error column exists from schema 3 on
        let error: Option<String> = c
            .query_row("SELECT error FROM runs WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .ok()
            .flatten();
        return Err(Error::Usage(format!(
            "{}: run {id} {status}{} and has no figures; its finished runs are {:?}",
            path.display(),
            error.map_or(String::new(), |e| format!(" ({e})")),
            finished_ids()?
        )));
    }
    let row = c.query_row(
        "SELECT command, started, finished, tool_version, output, parameters, valid_px, valid_area_m2, pixel_area_m2, class_count FROM runs WHERE id = ?1",
        params![id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, f64>(7)?,
                r.get::<_, Option<f64>>(8)?,
                r.get::<_, i64>(9)?,
            ))
        },
    );
    let row = match row {
        Err(rusqlite::Error::QueryReturnedNoRows) => {
            let ids = finished_ids()?;
            return Err(Error::Usage(format!(
                "{}: there is no run {id}; its runs are {}",
                path.display(),
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    format!("{ids:?}")
                }
            )));
        }
        r => r.map_err(e)?,
    };
    // A class map holds at most 65536 classes (UInt16): more is a damaged database, and
    // would not fit in memory.
    if row.9 > MAX_CLASSES as i64 {
        return Err(Error::input(
            &path,
            format!(
                "run {id} records {} classes, more than a class map can hold ({MAX_CLASSES}); the database is damaged",
                row.9
            ),
        ));
    }
    let n = row.9.max(0) as usize;
    // a database written before schema 3 has no area_method column
    let area_method: Option<String> = c
        .query_row(
            "SELECT area_method FROM runs WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .unwrap_or(None);
    let mut class_names: Vec<String> = (0..n).map(|i| format!("class {i}")).collect();
    let mut dates: Vec<String> = Vec::new();
    let mut areas: Vec<Vec<(u64, f64, f64)>> = Vec::new();
    {
        let mut st = c
            .prepare("SELECT date, class, class_name, pixels, area_m2, share FROM class_areas WHERE run_id = ?1 ORDER BY id")
            .map_err(e)?;
        let rows = st
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, f64>(5)?,
                ))
            })
            .map_err(e)?;
        for r in rows {
            let (date, class, name, px, m2, share) = r.map_err(e)?;
            let k = match dates.iter().position(|d| *d == date) {
                Some(k) => k,
                None => {
                    dates.push(date);
                    areas.push(vec![(0, 0.0, 0.0); n]);
                    dates.len() - 1
                }
            };
            let class = class.max(0) as usize;
            if class < n {
                areas[k][class] = (px as u64, m2, share);
                class_names[class] = name;
            }
        }
    }
    let transitions = c
        .prepare("SELECT from_class, to_class, pixels, area_m2 FROM transitions WHERE run_id = ?1 ORDER BY from_class, to_class")
        .and_then(|mut s| {
            s.query_map(params![id], transition_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(e)?;
    let models = c
        .prepare("SELECT role, path, sha256 FROM models WHERE run_id = ?1 ORDER BY id")
        .and_then(|mut s| {
            s.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(e)?;
    let mut zones: Vec<ZoneReport> = c
        .prepare(
            "SELECT zone, name, valid_px, valid_area_m2 FROM zones WHERE run_id = ?1 ORDER BY zone",
        )
        .and_then(|mut s| {
            s.query_map(params![id], |r| {
                Ok(ZoneReport {
                    zone: r.get(0)?,
                    name: r.get(1)?,
                    valid_px: r.get::<_, i64>(2)?.max(0) as u64,
                    valid_area_m2: r.get(3)?,
                    transitions: Vec::new(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap_or_default(); // a schema-1 database has no zone tables
    for z in zones.iter_mut() {
        z.transitions = c
            .prepare("SELECT from_class, to_class, pixels, area_m2 FROM zone_transitions WHERE run_id = ?1 AND zone = ?2 ORDER BY from_class, to_class")
            .and_then(|mut s| {
                s.query_map(params![id, z.zone], transition_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(e)?;
    }
    let series = super::series::load(store, id, n)?;
    if let Some(sr) = &series {
        for (slot, name) in class_names.iter_mut().zip(&sr.class_names) {
            if !name.is_empty() {
                slot.clone_from(name);
            }
        }
    }
    Ok(Report {
        series,
        zones,
        id,
        command: row.0,
        started: row.1,
        finished: row.2,
        tool_version: row.3,
        output: row.4,
        parameters: serde_json::from_str(&row.5).unwrap_or(Value::Null),
        valid_px: row.6.max(0) as u64,
        valid_area_m2: row.7,
        pixel_area_m2: row.8,
        area_method,
        class_names,
        dates,
        areas,
        transitions,
        models,
    })
}

const HA: f64 = 10_000.0;

/// The most classes a run can record: a UInt16 class map's values.
const MAX_CLASSES: usize = 65_536;

/// The unit areas are shown in by [`table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AreaUnit {
    /// hectares (10,000 m2)
    #[default]
    Ha,
    /// square kilometres
    Km2,
    /// square metres
    M2,
}

impl AreaUnit {
    /// Square metres in one unit.
    pub fn m2(self) -> f64 {
        match self {
            AreaUnit::Ha => HA,
            AreaUnit::Km2 => 1e6,
            AreaUnit::M2 => 1.0,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            AreaUnit::Ha => "ha",
            AreaUnit::Km2 => "km2",
            AreaUnit::M2 => "m2",
        }
    }
    /// `m2` in this unit, to 2 decimals.
    fn show(self, m2: f64) -> String {
        // + 0.0 turns the -0.0 of an empty f64 sum into 0.0 (no "-0.00" in the table)
        format!("{:.2}", m2 / self.m2() + 0.0)
    }
}

/// Writes `rows` as columns sized to their content: the first left-aligned, the others
/// right-aligned, two spaces apart.
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
        for (k, cell) in r.iter().enumerate() {
            let w = widths[k];
            let _ = match k {
                0 => write!(s, "{cell:<w$}"),
                _ => write!(s, "  {cell:>w$}"),
            };
        }
        s.push('\n');
    }
}

/// The report as text a person reads at a glance, areas in `unit`.
pub fn table(r: &Report, unit: AreaUnit) -> String {
    if let Some(sr) = &r.series {
        return super::series::table(r, sr, unit);
    }
    let u = unit.label();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "run {} ({}), {} .. {}, terratile {}",
        r.id, r.command, r.started, r.finished, r.tool_version
    );
    let _ = writeln!(s, "output: {}", r.output);
    for (role, path, sha) in &r.models {
        let _ = writeln!(
            s,
            "{role} model: {path} (sha256 {})",
            &sha[..sha.len().min(12)]
        );
    }
    let pixel = match r.pixel_area_m2 {
        Some(a) => format!(" (pixel {a:.2} m2)"),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "valid: {} px = {} {u}{pixel}",
        r.valid_px,
        unit.show(r.valid_area_m2)
    );
    let _ = writeln!(
        s,
        "areas: {}",
        AreaMethod::describe(r.area_method.as_deref())
    );
    // classes with pixels at some date; the others are listed once at the end
    let present: Vec<usize> = (0..r.class_names.len())
        .filter(|&c| r.areas.iter().any(|d| d[c].0 > 0))
        .collect();
    let absent: Vec<&str> = (0..r.class_names.len())
        .filter(|c| !present.contains(c))
        .map(|c| r.class_names[c].as_str())
        .collect();
    // class areas per date
    let _ = writeln!(s, "\nclass areas ({u}, % of valid area)");
    let (b, a) = (r.date("before"), r.date("after"));
    let mut rows = Vec::with_capacity(present.len() + 1);
    let mut head = vec!["class".to_string()];
    for d in &r.dates {
        head.push(format!("{d} {u}"));
        head.push("%".into());
    }
    if b.is_some() && a.is_some() {
        head.push(format!("net {u}"));
    }
    rows.push(head);
    for &c in &present {
        let mut row = vec![r.class_names[c].clone()];
        for d in 0..r.dates.len() {
            let (_, m2, share) = r.areas[d][c];
            row.push(unit.show(m2));
            row.push(format!("{:.1}%", share * 100.0));
        }
        if let (Some(b), Some(a)) = (b, a) {
            let net = (r.areas[a][c].1 - r.areas[b][c].1) / unit.m2();
            row.push(format!("{net:+.2}"));
        }
        rows.push(row);
    }
    columns(&mut s, &rows);
    if r.transitions.is_empty() {
        absent_line(&mut s, &absent);
        return s;
    }
    // transition matrix
    let n = r.class_names.len();
    // sparse: only pairs with pixels (n * n cells would not fit for 65536 classes)
    let mut m = std::collections::BTreeMap::<(usize, usize), f64>::new();
    for &(f, t, _, a) in &r.transitions {
        if f < n && t < n {
            m.insert((f, t), a);
        }
    }
    let at = |f: usize, t: usize| m.get(&(f, t)).copied().unwrap_or(0.0);
    // column heads: class names, cut to 14 characters
    let short = |x: &str| -> String { x.chars().take(14).collect() };
    let _ = writeln!(
        s,
        "\ntransitions ({u}; rows: before, columns: after; the diagonal is unchanged)"
    );
    let mut rows = Vec::with_capacity(present.len() + 2);
    let mut head = vec!["before \\ after".to_string()];
    head.extend(present.iter().map(|&c| short(&r.class_names[c])));
    head.push("lost".into());
    rows.push(head);
    for &f in &present {
        let mut row = vec![r.class_names[f].clone()];
        for &t in &present {
            let v = at(f, t);
            row.push(if v == 0.0 { "-".into() } else { unit.show(v) });
        }
        // in the order of the dense sums before (ascending class), so the same digits
        let lost: f64 = m
            .range((f, 0)..(f + 1, 0))
            .filter(|((_, t), _)| *t != f)
            .map(|(_, a)| a)
            .sum();
        row.push(unit.show(lost));
        rows.push(row);
    }
    let mut gained_row = vec!["gained".to_string()];
    for &t in &present {
        let gained: f64 = m
            .iter()
            .filter(|((f, tt), _)| *tt == t && *f != t)
            .map(|(_, a)| a)
            .sum();
        gained_row.push(unit.show(gained));
    }
    // the corner: all that was lost is all that was gained, the changed area
    let (cpx, carea) = r.changed();
    gained_row.push(unit.show(carea));
    rows.push(gained_row);
    columns(&mut s, &rows);
    let _ = writeln!(
        s,
        "\nchanged: {cpx} px = {} {u} ({:.1}% of the valid area)",
        unit.show(carea),
        if r.valid_area_m2 > 0.0 {
            100.0 * carea / r.valid_area_m2
        } else {
            0.0
        }
    );
    zones_table(r, unit, &mut s);
    absent_line(&mut s, &absent);
    s
}

/// Names the classes that no date has (left out of the tables above).
fn absent_line(s: &mut String, absent: &[&str]) {
    if !absent.is_empty() {
        let _ = writeln!(s, "\nnot present at any date: {}", absent.join(", "));
    }
}

/// Per zone: valid and changed area, and the largest change.
fn zones_table(r: &Report, unit: AreaUnit, s: &mut String) {
    if r.zones.is_empty() {
        return;
    }
    let u = unit.label();
    let _ = writeln!(s, "\nzones ({u})");
    let mut rows = vec![vec![
        "zone".to_string(),
        format!("valid {u}"),
        format!("changed {u}"),
        "%".into(),
    ]];
    let mut tops = vec!["largest change".to_string()];
    let name = |i: usize| r.class_names.get(i).map_or("?", |x| x.as_str());
    for z in &r.zones {
        let (_, ca) = z.changed();
        tops.push(
            z.transitions
                .iter()
                .filter(|t| t.0 != t.1)
                .max_by(|a, b| a.3.total_cmp(&b.3))
                .map_or("-".to_string(), |t| {
                    format!("{} -> {} ({} {u})", name(t.0), name(t.1), unit.show(t.3))
                }),
        );
        let share = if z.valid_area_m2 > 0.0 {
            100.0 * ca / z.valid_area_m2
        } else {
            0.0
        };
        rows.push(vec![
            z.name.clone(),
            unit.show(z.valid_area_m2),
            unit.show(ca),
            format!("{share:.1}%"),
        ]);
    }
    // the largest change is text: left-aligned, last
    let mut text = String::new();
    columns(&mut text, &rows);
    for (line, top) in text.lines().zip(&tops) {
        let _ = writeln!(s, "{line}  {top}");
    }
}

/// The report as JSON (schemas/report.schema.json).
pub fn to_json(r: &Report) -> Value {
    let (b, a) = (r.date("before"), r.date("after"));
    let classes: Vec<Value> = r
        .class_names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let mut dates = serde_json::Map::new();
            for (k, d) in r.dates.iter().enumerate() {
                let (px, m2, share) = r.areas[k][c];
                dates.insert(
                    d.clone(),
                    json!({"pixels": px, "area_m2": m2, "area_ha": m2 / HA, "share": share}),
                );
            }
            let net = match (b, a) {
                (Some(b), Some(a)) => json!(r.areas[a][c].1 - r.areas[b][c].1),
                _ => Value::Null,
            };
            json!({"class": c, "name": name, "dates": dates, "net_area_m2": net})
        })
        .collect();
    let name = |i: usize| r.class_names.get(i).cloned().unwrap_or_default();
    let transitions: Vec<Value> = r
        .transitions
        .iter()
        .map(|&(f, t, px, m2)| {
            json!({"from": f, "from_name": name(f), "to": t, "to_name": name(t),
                   "pixels": px, "area_m2": m2, "area_ha": m2 / HA, "changed": f != t})
        })
        .collect();
    let (cpx, carea) = r.changed();
    let zones: Vec<Value> = r
        .zones
        .iter()
        .map(|z| {
            let (zpx, zarea) = z.changed();
            let n = r.class_names.len();
            let classes: Vec<Value> = (0..n)
                .map(|c| {
                    let sum = |pick: fn(&(usize, usize, u64, f64)) -> usize| {
                        z.transitions
                            .iter()
                            .filter(|t| pick(t) == c)
                            .fold((0u64, 0f64), |(p, a), t| (p + t.2, a + t.3))
                    };
                    let (bp, ba) = sum(|t| t.0);
                    let (ap, aa) = sum(|t| t.1);
                    json!({"class": c, "name": name(c),
                           "before": {"pixels": bp, "area_m2": ba},
                           "after": {"pixels": ap, "area_m2": aa},
                           "net_area_m2": aa - ba})
                })
                .collect();
            let transitions: Vec<Value> = z
                .transitions
                .iter()
                .map(|&(f, t, px, m2)| json!({"from": f, "to": t, "pixels": px, "area_m2": m2}))
                .collect();
            json!({"zone": z.zone, "name": z.name, "valid_px": z.valid_px,
                   "valid_area_m2": z.valid_area_m2, "changed_px": zpx,
                   "changed_area_m2": zarea, "classes": classes, "transitions": transitions})
        })
        .collect();
    json!({
        "zones": zones,
        "run": {
            "id": r.id, "command": r.command, "started": r.started, "finished": r.finished,
            "tool_version": r.tool_version, "output": r.output, "parameters": r.parameters,
        },
        "valid_px": r.valid_px,
        "valid_area_m2": r.valid_area_m2,
        "pixel_area_m2": r.pixel_area_m2,
        "area_method": r.area_method,
        "dates": r.dates,
        "classes": classes,
        "transitions": transitions,
        // a segment run compares nothing: no change, rather than a change of 0
        // a segment run compares nothing, a series compares per interval (in "series")
        "changed_px": if r.command == "segment" || r.series.is_some() { Value::Null } else { json!(cpx) },
        "changed_area_m2": if r.command == "segment" || r.series.is_some() { Value::Null } else { json!(carea) },
        "series": r.series.as_ref().map_or(Value::Null, |s| super::series::to_json(r, s)),
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The report as CSV: one row per class and date, then one per transition.
pub fn to_csv(r: &Report) -> String {
    if let Some(sr) = &r.series {
        return super::series::to_csv(r, sr);
    }
    let mut s = String::from(
        "record,date,from_class,from_name,to_class,to_name,pixels,area_m2,area_ha,share\n",
    );
    for (k, d) in r.dates.iter().enumerate() {
        for (c, name) in r.class_names.iter().enumerate() {
            let (px, m2, share) = r.areas[k][c];
            let _ = writeln!(
                s,
                "class_area,{},{c},{},,,{px},{m2},{},{share}",
                csv_field(d),
                csv_field(name),
                m2 / HA
            );
        }
    }
    let name = |i: usize| csv_field(r.class_names.get(i).map_or("", |x| x.as_str()));
    for &(f, t, px, m2) in &r.transitions {
        let share = if r.valid_area_m2 > 0.0 {
            m2 / r.valid_area_m2
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "transition,,{f},{},{t},{},{px},{m2},{},{share}",
            name(f),
            name(t),
            m2 / HA
        );
    }
    s
}

/// A `(from_class, to_class, pixels, area_m2)` row of `transitions` or `zone_transitions`.
fn transition_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(usize, usize, u64, f64)> {
    Ok((
        r.get::<_, i64>(0)? as usize,
        r.get::<_, i64>(1)? as usize,
        r.get::<_, i64>(2)? as u64,
        r.get::<_, f64>(3)?,
    ))
}
