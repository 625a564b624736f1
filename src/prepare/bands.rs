//! Which raster bands feed the model: band numbers (`1,2,3,4`), band names matched
//! against the band descriptions GDAL reports (`B02,B03,B04,B08`), or names of a sensor
//! preset (`s2:B02,B03,B04,B08`, `l8:blue,green,red,nir`) that also know the usual
//! band order of that sensor's stacked products when the raster has no descriptions.
//!
//! Names are compared after normalising: case, a `SR_`/`TOA_` prefix and leading zeros
//! do not matter (`b2`, `B02`, `SR_B2` are one band), and a preset maps common names
//! (`blue`, `nir`, `swir1`, ...) onto its own band numbers.

use std::fmt;
use std::str::FromStr;

/// A sensor whose bands terratile knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensor {
    /// Sentinel-2 Level-1C (13 bands).
    S2L1c,
    /// Sentinel-2 Level-2A (12 bands: no B10).
    S2L2a,
    /// Landsat 4/5 TM.
    L5,
    /// Landsat 7 ETM+.
    L7,
    /// Landsat 8/9 OLI(-2)/TIRS.
    L8,
}

/// Sentinel-2 common names (B8A is "nir08"/"rededge4"; B10 "cirrus").
const S2_NAMES: &[(&str, &str)] = &[
    ("coastal", "B1"),
    ("blue", "B2"),
    ("green", "B3"),
    ("red", "B4"),
    ("rededge1", "B5"),
    ("rededge2", "B6"),
    ("rededge3", "B7"),
    ("nir", "B8"),
    ("rededge4", "B8A"),
    ("nir08", "B8A"),
    ("narrownir", "B8A"),
    ("watervapour", "B9"),
    ("watervapor", "B9"),
    ("cirrus", "B10"),
    ("swir1", "B11"),
    ("swir16", "B11"),
    ("swir2", "B12"),
    ("swir22", "B12"),
];
const TM_NAMES: &[(&str, &str)] = &[
    ("blue", "B1"),
    ("green", "B2"),
    ("red", "B3"),
    ("nir", "B4"),
    ("swir1", "B5"),
    ("swir16", "B5"),
    ("thermal", "B6"),
    ("lwir", "B6"),
    ("swir2", "B7"),
    ("swir22", "B7"),
    ("pan", "B8"),
];
const OLI_NAMES: &[(&str, &str)] = &[
    ("coastal", "B1"),
    ("blue", "B2"),
    ("green", "B3"),
    ("red", "B4"),
    ("nir", "B5"),
    ("swir1", "B6"),
    ("swir16", "B6"),
    ("swir2", "B7"),
    ("swir22", "B7"),
    ("pan", "B8"),
    ("cirrus", "B9"),
    ("thermal", "B10"),
    ("lwir", "B10"),
    ("lwir11", "B10"),
    ("lwir12", "B11"),
];

impl Sensor {
    /// The preset names users write before the colon.
    pub const NAMES: &'static str = "s2 (= s2l1c), s2l2a, l4, l5, l7, l8, l9";

    fn parse(s: &str) -> Option<Sensor> {
        Some(match s.to_ascii_lowercase().as_str() {
            "s2" | "s2l1c" | "sentinel2" | "sentinel-2" => Sensor::S2L1c,
            "s2l2a" => Sensor::S2L2a,
            "l4" | "l5" | "tm" | "landsat4" | "landsat5" => Sensor::L5,
            "l7" | "etm" | "landsat7" => Sensor::L7,
            "l8" | "l9" | "oli" | "landsat8" | "landsat9" => Sensor::L8,
            _ => return None,
        })
    }

    /// The name written before the colon (`s2`, `l8`): what [`BandSpec`]'s Display writes.
    pub fn key(self) -> &'static str {
        match self {
            Sensor::S2L1c => "s2",
            Sensor::S2L2a => "s2l2a",
            Sensor::L5 => "l5",
            Sensor::L7 => "l7",
            Sensor::L8 => "l8",
        }
    }

    fn common_names(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Sensor::S2L1c | Sensor::S2L2a => S2_NAMES,
            Sensor::L5 | Sensor::L7 => TM_NAMES,
            Sensor::L8 => OLI_NAMES,
        }
    }

    /// Band orders of this sensor's usual stacked products, by band count.
    fn stack_layouts(self) -> &'static [&'static [&'static str]] {
        match self {
            Sensor::S2L1c => &[&[
                "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12",
            ]],
            Sensor::S2L2a => &[&[
                "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12",
            ]],
            // TM/ETM+: all 7 bands, or the 6 reflective ones (thermal B6 left out)
            Sensor::L5 => &[
                &["B1", "B2", "B3", "B4", "B5", "B6", "B7"],
                &["B1", "B2", "B3", "B4", "B5", "B7"],
            ],
            Sensor::L7 => &[
                &["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"],
                &["B1", "B2", "B3", "B4", "B5", "B6", "B7"],
                &["B1", "B2", "B3", "B4", "B5", "B7"],
            ],
            // OLI/TIRS: all 11 bands, or Collection-2 surface reflectance B1-B7
            Sensor::L8 => &[
                &[
                    "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11",
                ],
                &["B1", "B2", "B3", "B4", "B5", "B6", "B7"],
            ],
        }
    }

    /// The canonical band id (`B8A`, `B5`) for a name written by a user or found in a
    /// band description, or None when the name is not one of this sensor's bands.
    pub fn band_id(self, name: &str) -> Option<String> {
        let n = normalise(name);
        let lower = n.to_ascii_lowercase();
        if let Some((_, id)) = self.common_names().iter().find(|(c, _)| *c == lower) {
            return Some(id.to_string());
        }
        self.stack_layouts()[0]
            .iter()
            .find(|id| **id == n)
            .map(|id| id.to_string())
    }
}

/// Sensor-neutral band names (STAC's common names and a few spellings of them), each
/// with the one name terratile uses for it. GDAL's colour interpretations (`Red`, `Green`,
/// `Blue`; `NIR`, `SWIR`, ... since GDAL 3.10) are matched through this list too.
const NEUTRAL_NAMES: &[(&str, &str)] = &[
    ("coastal", "coastal"),
    ("blue", "blue"),
    ("green", "green"),
    ("red", "red"),
    ("rededge", "rededge"),
    ("yellow", "yellow"),
    ("pan", "pan"),
    ("panchromatic", "pan"),
    ("nir", "nir"),
    ("nearinfrared", "nir"),
    ("near-infrared", "nir"),
    ("near infrared", "nir"),
    ("nir08", "nir08"),
    ("swir16", "swir16"),
    ("swir1", "swir16"),
    ("swir22", "swir22"),
    ("swir2", "swir22"),
    ("swir", "swir"),
    ("cirrus", "cirrus"),
    ("lwir", "lwir"),
    ("thermal", "lwir"),
];

/// The sensor-neutral name (`blue`, `nir`, `swir16`, ...) of a band name or a GDAL
/// colour interpretation, or None when it is not one.
pub fn neutral_name(name: &str) -> Option<&'static str> {
    let n = name.trim().to_ascii_lowercase();
    NEUTRAL_NAMES
        .iter()
        .find(|(alias, _)| *alias == n)
        .map(|(_, neutral)| *neutral)
}

/// Maps the model's band names onto raster bands by GDAL's colour interpretation of
/// each band (`colours[b - 1]`, GDAL's names: `Red`, `Gray`, `Undefined`, ...): a
/// channel whose name is a tagged colour takes that band; the other channels take the
/// bands without a colour meaning (`Gray`, `Undefined`), in order. Alpha bands are never
/// used. `Err` says why this does not apply (no tagged colour the model names, or too
/// few bands left).
pub fn resolve_colours(model_names: &[String], colours: &[String]) -> Result<Vec<usize>, String> {
    let tagged: Vec<Option<&str>> = colours.iter().map(|c| neutral_name(c)).collect();
    let untagged: Vec<usize> = colours
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            matches!(
                c.to_ascii_lowercase().as_str(),
                "gray" | "grey" | "undefined"
            )
        })
        .map(|(i, _)| i + 1)
        .collect();
    let wanted: Vec<Option<&str>> = model_names.iter().map(|n| neutral_name(n)).collect();
    let by_colour = |w: Option<&str>| -> Option<usize> {
        let w = w?;
        let mut hits = tagged.iter().enumerate().filter(|(_, t)| **t == Some(w));
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Some(i + 1),
            _ => None,
        }
    };
    if wanted.iter().all(|w| by_colour(*w).is_none()) {
        return Err("no band's colour interpretation names one of the model's bands".into());
    }
    let mut rest = untagged.into_iter();
    wanted
        .iter()
        .zip(model_names)
        .map(|(w, name)| {
            by_colour(*w).or_else(|| rest.next()).ok_or_else(|| {
                format!("no band is tagged {name} and no band without a colour is left for it")
            })
        })
        .collect()
}

/// `SR_B02` / `b2` / `B02` -> `B2`; `B8a` -> `B8A`; other names upper-cased as they are.
pub fn normalise(name: &str) -> String {
    let mut s = name.trim().to_ascii_uppercase();
    for prefix in ["SR_", "TOA_", "ST_"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
        }
    }
    if let Some(rest) = s.strip_prefix('B') {
        let digits = rest.trim_start_matches('0');
        if !rest.is_empty() && rest.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return format!("B{}", if digits.is_empty() { "0" } else { digits });
        }
    }
    s
}

/// What `--bands` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BandSpec {
    /// 1-based band numbers.
    Numbers(Vec<usize>),
    /// Band names, optionally of a sensor preset.
    Names {
        sensor: Option<Sensor>,
        names: Vec<String>,
    },
}

impl From<Vec<usize>> for BandSpec {
    fn from(v: Vec<usize>) -> BandSpec {
        BandSpec::Numbers(v)
    }
}

impl FromStr for BandSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<BandSpec, String> {
        let (sensor, list) = match s.split_once(':') {
            Some((p, rest)) => {
                let sensor = Sensor::parse(p.trim()).ok_or_else(|| {
                    format!(
                        "unknown sensor preset '{}' (known: {})",
                        p.escape_debug(),
                        Sensor::NAMES
                    )
                })?;
                (Some(sensor), rest)
            }
            None => (None, s),
        };
        let items: Vec<&str> = list.split(',').map(str::trim).collect();
        if items.iter().any(|i| i.is_empty()) {
            return Err(format!(
                "'{}' has an empty band entry; write e.g. 1,2,3,4 or s2:B02,B03,B04,B08",
                s.escape_debug()
            ));
        }
        if sensor.is_none() && items.iter().all(|i| i.chars().all(|c| c.is_ascii_digit())) {
            let nums: Vec<usize> = items
                .iter()
                .map(|i| {
                    i.parse()
                        .map_err(|_| format!("band number {i} is too large"))
                })
                .collect::<Result<_, _>>()?;
            if nums.contains(&0) {
                return Err("band numbers start at 1".into());
            }
            return Ok(BandSpec::Numbers(nums));
        }
        if let Some(sensor) = sensor {
            if let Some(bad) = items.iter().find(|i| sensor.band_id(i).is_none()) {
                return Err(format!(
                    "'{}' is not a band of the {sensor} preset",
                    bad.escape_debug()
                ));
            }
        }
        Ok(BandSpec::Names {
            sensor,
            names: items.iter().map(|i| i.to_string()).collect(),
        })
    }
}

impl fmt::Display for Sensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sensor::S2L1c => "s2 (Sentinel-2 L1C)",
            Sensor::S2L2a => "s2l2a (Sentinel-2 L2A)",
            Sensor::L5 => "l5 (Landsat 4/5 TM)",
            Sensor::L7 => "l7 (Landsat 7 ETM+)",
            Sensor::L8 => "l8 (Landsat 8/9 OLI/TIRS)",
        })
    }
}

impl fmt::Display for BandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BandSpec::Numbers(v) => {
                let s: Vec<String> = v.iter().map(|b| b.to_string()).collect();
                f.write_str(&s.join(","))
            }
            BandSpec::Names { sensor, names } => {
                if let Some(s) = sensor {
                    write!(f, "{}:", s.key())?;
                }
                f.write_str(&names.join(","))
            }
        }
    }
}

/// Finds the 1-based raster band for each name: first by the band descriptions, then,
/// with a preset, by the sensor's stack order for this band count. `Err` says why not.
pub fn resolve_names(
    sensor: Option<Sensor>,
    names: &[String],
    descriptions: &[String],
) -> Result<Vec<usize>, String> {
    let id = |n: &str| match sensor {
        Some(s) => s.band_id(n).unwrap_or_else(|| normalise(n)),
        None => neutral_name(n).map_or_else(|| normalise(n), str::to_string),
    };
    let described: Vec<String> = descriptions.iter().map(|d| id(d)).collect();
    let by_description: Option<Vec<usize>> = names
        .iter()
        .map(|n| {
            let want = id(n);
            described.iter().position(|d| *d == want).map(|i| i + 1)
        })
        .collect();
    if let Some(b) = by_description {
        return Ok(b);
    }
    // a hint with as many band numbers as the model has channels
    let numbers = (1..=names.len().max(1))
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let Some(sensor) = sensor else {
        let have: Vec<&str> = descriptions
            .iter()
            .filter(|d| !d.is_empty())
            .map(String::as_str)
            .collect();
        return Err(if have.is_empty() {
            format!("has no band descriptions to match band names against; pass band numbers (e.g. --bands {numbers}) or a sensor preset (e.g. --bands s2:B02,B03,B04,B08)")
        } else {
            format!(
                "has band descriptions {} that do not name all of {}; pass band numbers or a sensor preset",
                have.join(","),
                names.join(",")
            )
        });
    };
    let n = descriptions.len();
    let Some(layout) = sensor.stack_layouts().iter().find(|l| l.len() == n) else {
        let counts: Vec<String> = sensor
            .stack_layouts()
            .iter()
            .map(|l| l.len().to_string())
            .collect();
        return Err(format!(
            "has {n} bands and no descriptions naming {}; {sensor} stacks have {} bands, so pass band numbers instead (e.g. --bands {numbers})",
            names.join(","),
            counts.join(" or ")
        ));
    };
    names
        .iter()
        .map(|name| {
            let want = id(name);
            layout
                .iter()
                .position(|b| *b == want)
                .map(|i| i + 1)
                .ok_or_else(|| {
                    format!(
                        "is a {n}-band {sensor} stack ({}) without band {name}",
                        layout.join(",")
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_numbers_names_and_presets() {
        assert_eq!(
            "1,2,3".parse::<BandSpec>(),
            Ok(BandSpec::Numbers(vec![1, 2, 3]))
        );
        assert!("0,1".parse::<BandSpec>().is_err());
        assert!("1,,2".parse::<BandSpec>().is_err());
        assert!("x9:B1"
            .parse::<BandSpec>()
            .unwrap_err()
            .contains("unknown sensor"));
        assert!("s2:B13"
            .parse::<BandSpec>()
            .unwrap_err()
            .contains("not a band"));
        assert_eq!(
            "l8:blue,nir".parse::<BandSpec>(),
            Ok(BandSpec::Names {
                sensor: Some(Sensor::L8),
                names: names(&["blue", "nir"])
            })
        );
    }

    #[test]
    fn colour_interpretation_maps_named_channels_and_fills_the_rest_in_order() {
        let model = names(&["blue", "green", "red", "nir"]);
        let rgbu = names(&["Red", "Green", "Blue", "Undefined"]);
        assert_eq!(resolve_colours(&model, &rgbu), Ok(vec![3, 2, 1, 4]));
        // alpha is never a channel; no colour tagged: not applicable
        assert!(resolve_colours(&model, &names(&["Red", "Green", "Blue", "Alpha"])).is_err());
        assert!(resolve_colours(
            &model,
            &names(&["Gray", "Undefined", "Undefined", "Undefined"])
        )
        .is_err());
        assert_eq!(
            resolve_colours(&names(&["Red", "NIR"]), &names(&["Gray", "Red"])),
            Ok(vec![2, 1])
        );
        assert_eq!(neutral_name("Near-Infrared"), Some("nir"));
        assert_eq!(neutral_name("B02"), None);
    }

    #[test]
    fn normalises_band_names() {
        assert_eq!(normalise("b02"), "B2");
        assert_eq!(normalise("SR_B5"), "B5");
        assert_eq!(normalise("B8a"), "B8A");
        assert_eq!(normalise("nir"), "NIR");
    }

    #[test]
    fn matches_descriptions_then_stack_order() {
        let d = names(&["B02", "B03", "B04", "B08"]);
        assert_eq!(
            resolve_names(Some(Sensor::S2L1c), &names(&["B8", "red"]), &d),
            Ok(vec![4, 3])
        );
        assert_eq!(
            resolve_names(None, &names(&["b2", "B08"]), &d),
            Ok(vec![1, 4])
        );
        // no descriptions: the sensor's stack order for this band count
        let none = vec![String::new(); 13];
        assert_eq!(
            resolve_names(Some(Sensor::S2L1c), &names(&["B02", "B8A", "swir2"]), &none),
            Ok(vec![2, 9, 13])
        );
        let six = vec![String::new(); 6];
        assert_eq!(
            resolve_names(Some(Sensor::L7), &names(&["nir", "B7"]), &six),
            Ok(vec![4, 6])
        );
        assert_eq!(
            resolve_names(Some(Sensor::L8), &names(&["nir"]), &vec![String::new(); 7]),
            Ok(vec![5])
        );
        let e = resolve_names(
            Some(Sensor::S2L1c),
            &names(&["B02"]),
            &vec![String::new(); 4],
        );
        assert!(e.unwrap_err().contains("13 bands"));
        assert!(resolve_names(None, &names(&["B02"]), &vec![String::new(); 4]).is_err());
    }
}
