//! Property-based fuzzing of every parser that reads what a user writes or hands over:
//! `--bands` specs, the model sidecar `MODEL.onnx.json`, Deepness `metadata_props`
//! values (class names, colours) and the statistics database `report` reads back.
//! Bounded (a fixed number of cases per property) so that CI runs them in seconds.
//!
//! Properties: nothing panics; an error is one line; a `--bands` spec that parses
//! prints (Display) as a spec that parses back to the same value.

use proptest::prelude::*;
use serde_json::Value;

use crate::infer::model::{parse_class_names, parse_colour, parse_sidecar};
use crate::prepare::BandSpec;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn assert_one_line(what: &str, msg: &str) {
    assert!(
        !msg.contains('\n') && !msg.contains('\r'),
        "{what}: the error is not one line: {msg:?}"
    );
}

/// Text that looks like a `--bands` value: an optional preset, then entries that mix
/// numbers, band names, common names, blanks and odd characters.
fn band_spec_text() -> impl Strategy<Value = String> {
    let preset = prop_oneof![
        Just(String::new()),
        prop::sample::select(vec![
            "s2:", "S2:", "s2l2a:", "l5:", "l7:", "l8: ", "l9:", "xx:", ":"
        ])
        .prop_map(String::from),
    ];
    let entry = prop_oneof![
        (0usize..20).prop_map(|n| n.to_string()),
        "[0-9]{1,25}",
        prop::sample::select(vec![
            "B02", "b2", "B8A", "b8a", "SR_B4", "TOA_B5", "ST_B10", "blue", "nir", "swir1",
            "cirrus", "B", "B0", "B00", "red ", " green", "é", "B\u{0}", "a\nb", "",
        ])
        .prop_map(String::from),
        "\\PC{0,6}",
    ];
    (preset, prop::collection::vec(entry, 1..6)).prop_map(|(p, e)| format!("{p}{}", e.join(",")))
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        "#[0-9a-fA-F]{6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[0-9a-z_]{0,4}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A sidecar object: the schema's keys with values of any type, plus the odd stranger.
fn sidecar_json() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "bands",
        "band_indices",
        "input_scale",
        "input_offset",
        "mean",
        "std",
        "class_names",
        "class_colors",
        "output_kind",
        "tile_size",
        "tile_overlap_px",
        "resolution_m",
        "receptive_field_px",
        "description",
        "source",
        "license",
        "unknown",
    ]);
    prop::collection::vec((key, json_value()), 0..6)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn band_specs_parse_without_panic_and_round_trip(s in band_spec_text()) {
        match s.parse::<BandSpec>() {
            Ok(spec) => {
                let shown = spec.to_string();
                let again: BandSpec = shown
                    .parse()
                    .unwrap_or_else(|e| panic!("{s:?} parsed, but its Display {shown:?} does not: {e}"));
                prop_assert_eq!(again, spec, "{:?} -> {:?}", s, shown);
            }
            Err(e) => assert_one_line(&s, &e),
        }
    }

    #[test]
    fn any_text_as_band_spec(s in "\\PC{0,40}") {
        if let Err(e) = s.parse::<BandSpec>() {
            assert_one_line(&s, &e);
        }
    }

    #[test]
    fn colours_parse_without_panic(s in "\\PC{0,10}", rgb in any::<[u8; 3]>()) {
        let _ = parse_colour(&s);
        let hex = format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
        prop_assert_eq!(parse_colour(&hex), Some(rgb));
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn sidecar_values_give_a_sidecar_or_one_line(v in sidecar_json()) {
        let text = v.to_string();
        if let Err(e) = parse_sidecar(std::path::Path::new("m.onnx.json"), &text) {
            assert_one_line(&text, &e.to_string());
        }
    }

    #[test]
    fn sidecar_text_gives_a_sidecar_or_one_line(text in "\\PC{0,60}", cut in 0usize..400) {
        for t in [text.clone(), {
            // a valid sidecar cut short at any character
            let good = include_str!("../models/test/perpixel_ndi.onnx.json");
            good.chars().take(cut).collect::<String>()
        }] {
            if let Err(e) = parse_sidecar(std::path::Path::new("m.onnx.json"), &t) {
                assert_one_line(&t, &e.to_string());
            }
        }
    }

    #[test]
    fn deepness_class_names_parse_without_panic(v in json_value(), depth in 0usize..6) {
        let _ = parse_class_names(&v);
        // class names as JSON inside JSON strings, nested
        let mut s = Value::String(v.to_string());
        for _ in 0..depth {
            s = Value::String(s.to_string());
        }
        let _ = parse_class_names(&s);
    }
}

/// `report` reads back whatever a database holds: any run row, class areas and
/// transitions, even ones terratile would never write (a damaged or edited database).
mod report {
    use super::*;
    use crate::store::{report, Store};

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,12}",
            Just("a\nb\r\"c,'".to_string()),
            Just(String::new())
        ]
    }

    fn any_real() -> impl Strategy<Value = f64> {
        // (SQLite stores NaN as NULL, which NOT NULL columns refuse: not a case)
        prop_oneof![
            -1e300..1e300f64,
            Just(f64::INFINITY),
            Just(f64::MAX),
            Just(-1.0),
            0.0..1e6
        ]
    }

    fn class_index() -> impl Strategy<Value = i64> {
        prop_oneof![0i64..8, any::<i64>()]
    }

    #[derive(Debug, Clone)]
    struct Run {
        class_count: i64,
        valid_px: i64,
        valid_area_m2: f64,
        pixel_area_m2: Option<f64>,
        parameters: String,
        areas: Vec<(String, i64, String, i64, f64, f64)>,
        transitions: Vec<(i64, i64, i64, f64)>,
    }

    fn run() -> impl Strategy<Value = Run> {
        (
            prop_oneof![0i64..10, any::<i64>(), Just(1_000_000_000_000i64)],
            any::<i64>(),
            any_real(),
            prop::option::of(any_real()),
            prop_oneof![any_text(), json_value().prop_map(|v| v.to_string())],
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("before".to_string()),
                        Just("after".to_string()),
                        any_text()
                    ],
                    class_index(),
                    any_text(),
                    any::<i64>(),
                    any_real(),
                    any_real(),
                ),
                0..12,
            ),
            prop::collection::vec(
                (class_index(), class_index(), any::<i64>(), any_real()),
                0..12,
            ),
        )
            .prop_map(|(c, v, a, p, params, areas, transitions)| Run {
                class_count: c,
                valid_px: v,
                valid_area_m2: a,
                pixel_area_m2: p,
                parameters: params,
                areas,
                transitions,
            })
    }

    fn scratch_db(n: usize) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("terratile-fuzz-{}-{n}.sqlite", std::process::id()))
    }

    fn remove_db(p: &std::path::Path) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut s = p.as_os_str().to_owned();
            s.push(suffix);
            let _ = std::fs::remove_file(std::path::PathBuf::from(s));
        }
    }

    proptest! {
        #![proptest_config(config(256))]

        #[test]
        fn report_reads_any_database_contents(r in run()) {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let path = scratch_db(N.fetch_add(1, Ordering::Relaxed));
            remove_db(&path);
            let outcome = std::panic::catch_unwind(|| {
                let store = Store::open(&path).unwrap();
                let c = store.connection();
                c.execute(
                    "INSERT INTO runs (command, parameters, tool_version, started, finished, status, class_count, pixel_area_m2, valid_px, valid_area_m2, output) VALUES ('change', ?1, '0', 's', 'f', 'ok', ?2, ?3, ?4, ?5, 'o.tif')",
                    rusqlite::params![r.parameters, r.class_count, r.pixel_area_m2, r.valid_px, r.valid_area_m2],
                ).unwrap();
                for a in &r.areas {
                    c.execute(
                        "INSERT INTO class_areas (run_id, date, class, class_name, pixels, area_m2, share) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
                        rusqlite::params![a.0, a.1, a.2, a.3, a.4, a.5],
                    ).unwrap();
                }
                for t in &r.transitions {
                    c.execute(
                        "INSERT INTO transitions (run_id, from_class, to_class, pixels, area_m2) VALUES (1, ?1, ?2, ?3, ?4)",
                        rusqlite::params![t.0, t.1, t.2, t.3],
                    ).unwrap();
                }
                match report::load(&store, None) {
                    Ok(rep) => {
                        let _ = report::table(&rep, report::AreaUnit::Ha);
                        let _ = report::to_json(&rep).to_string();
                        let _ = report::to_csv(&rep);
                    }
                    Err(e) => assert_one_line("report", &e.to_string()),
                }
            });
            remove_db(&path);
            if let Err(p) = outcome {
                std::panic::resume_unwind(p);
            }
        }
    }
}
