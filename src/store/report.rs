//! `terratile report`: a run's class areas and transition matrix, read back from the
//! statistics database, as a table for people or JSON / CSV for machines. The JSON
//! follows `schemas/report.schema.json`.

use std::fmt::Write as _;

use rusqlite::params;
use serde_json::{json, Value};

use super::Store;
use crate::error::{Error, Result};

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
    pub pixel_area_m2: Option<f64>,
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
    let id: i64 = match run {
        Some(id) => id,
        None => c
            .query_row("SELECT max(id) FROM runs", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map_err(e)?
            .ok_or_else(|| {
                Error::input(
                    &path,
                    "holds no runs yet; run `terratile change ... --db` first",
                )
            })?,
    };
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
            let ids: Vec<i64> = c
                .prepare("SELECT id FROM runs ORDER BY id")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(e)?;
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
    Ok(Report {
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

/// The report as text a person reads at a glance.
pub fn table(r: &Report) -> String {
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
        Some(a) => format!("pixel {a:.2} m2"),
        None => "pixel area varies by row (geographic CRS)".into(),
    };
    let _ = writeln!(
        s,
        "valid: {} px = {:.2} ha ({pixel})",
        r.valid_px,
        r.valid_area_m2 / HA
    );
    let nw = r
        .class_names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(5)
        .max(14);
    // classes with pixels at some date; the others are listed once at the end
    let present: Vec<usize> = (0..r.class_names.len())
        .filter(|&c| r.areas.iter().any(|d| d[c].0 > 0))
        .collect();
    let absent: Vec<&str> = (0..r.class_names.len())
        .filter(|c| !present.contains(c))
        .map(|c| r.class_names[c].as_str())
        .collect();
    // class areas per date
    let _ = writeln!(s, "\nclass areas (ha, % of valid area)");
    let _ = write!(s, "{:<nw$}", "class");
    for d in &r.dates {
        let _ = write!(s, " {:>12} {:>6}", format!("{d} ha"), "%");
    }
    let (b, a) = (r.date("before"), r.date("after"));
    if b.is_some() && a.is_some() {
        let _ = write!(s, " {:>12}", "net ha");
    }
    s.push('\n');
    for &c in &present {
        let name = &r.class_names[c];
        let _ = write!(s, "{name:<nw$}");
        for d in 0..r.dates.len() {
            let (_, m2, share) = r.areas[d][c];
            let _ = write!(s, " {:>12.2} {:>5.1}%", m2 / HA, share * 100.0);
        }
        if let (Some(b), Some(a)) = (b, a) {
            let _ = write!(s, " {:>+12.2}", (r.areas[a][c].1 - r.areas[b][c].1) / HA);
        }
        s.push('\n');
    }
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
    let cw = r
        .class_names
        .iter()
        .map(|x| x.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(9, 14);
    let short = |x: &str| -> String { x.chars().take(cw).collect() };
    let _ = writeln!(
        s,
        "\ntransitions (ha; rows: before, columns: after; the diagonal is unchanged)"
    );
    let _ = write!(s, "{:<nw$}", "before \\ after");
    for &c in &present {
        let _ = write!(s, " {:>cw$}", short(&r.class_names[c]));
    }
    let _ = writeln!(s, " {:>cw$}", "lost");
    for &f in &present {
        let _ = write!(s, "{:<nw$}", r.class_names[f]);
        for &t in &present {
            let v = at(f, t);
            let cell = if v == 0.0 {
                "-".to_string()
            } else {
                format!("{:.2}", v / HA)
            };
            let _ = write!(s, " {cell:>cw$}");
        }
        // in the order of the dense sums before (ascending class), so the same digits
        let lost: f64 = m
            .range((f, 0)..(f + 1, 0))
            .filter(|((_, t), _)| *t != f)
            .map(|(_, a)| a)
            .sum();
        let _ = writeln!(s, " {:>cw$.2}", lost / HA);
    }
    let _ = write!(s, "{:<nw$}", "gained");
    for &t in &present {
        let gained: f64 = m
            .iter()
            .filter(|((f, tt), _)| *tt == t && *f != t)
            .map(|(_, a)| a)
            .sum();
        let _ = write!(s, " {:>cw$.2}", gained / HA);
    }
    s.push('\n');
    let (cpx, carea) = r.changed();
    let _ = writeln!(
        s,
        "\nchanged: {cpx} px = {:.2} ha ({:.1}% of the valid area)",
        carea / HA,
        if r.valid_area_m2 > 0.0 {
            100.0 * carea / r.valid_area_m2
        } else {
            0.0
        }
    );
    zones_table(r, &mut s);
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
fn zones_table(r: &Report, s: &mut String) {
    if r.zones.is_empty() {
        return;
    }
    let zw = r
        .zones
        .iter()
        .map(|z| z.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(s, "\nzones (ha)");
    let _ = writeln!(
        s,
        "{:<zw$} {:>12} {:>12} {:>7}  largest change",
        "zone", "valid ha", "changed ha", "%"
    );
    let name = |i: usize| r.class_names.get(i).map_or("?", |x| x.as_str());
    for z in &r.zones {
        let (_, ca) = z.changed();
        let top = z
            .transitions
            .iter()
            .filter(|t| t.0 != t.1)
            .max_by(|a, b| a.3.total_cmp(&b.3))
            .map_or("-".to_string(), |t| {
                format!("{} -> {} ({:.2} ha)", name(t.0), name(t.1), t.3 / HA)
            });
        let share = if z.valid_area_m2 > 0.0 {
            100.0 * ca / z.valid_area_m2
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "{:<zw$} {:>12.2} {:>12.2} {share:>6.1}%  {top}",
            z.name,
            z.valid_area_m2 / HA,
            ca / HA,
        );
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
        "dates": r.dates,
        "classes": classes,
        "transitions": transitions,
        "changed_px": cpx,
        "changed_area_m2": carea,
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
