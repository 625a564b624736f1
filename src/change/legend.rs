//! The legend of a comparison: the classes compared (names and colours merged from both
//! class maps' legends, the palette for classes without a colour), and the change
//! raster's legend and description: the from-to code of every comparison pixel as a COG,
//! written with [`crate::write::ClassWriter`] (streamed rows, colour table, category
//! names, raster attribute table, nodata).
//!
//! With N classes, `code = from * N + to`; Byte (nodata 255) while `N * N <= 254`, else
//! UInt16 (nodata 65535). Unchanged pairs are drawn in a light grey tint of their
//! class colour, changed pairs in the bright colour of the class they became, so change
//! stands out on a muted background.

use std::path::Path;

use super::grid::CompareGrid;
use crate::error::{Error, Result};
use crate::raster::legend::default_colour;
use crate::raster::{ClassMap, Legend, RasterInfo};
use crate::write::OutputSpec;

/// `--class-map`: AFTER's class values recoded onto BEFORE's classes, for maps whose
/// legends differ (another model, another class order). Written `FROM:TO,FROM:TO,...`,
/// or the name of a file holding such pairs (separated by commas or new lines; `#`
/// starts a comment). Every AFTER value must be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMapping {
    /// (AFTER's value, BEFORE's class), in the order given.
    pub pairs: Vec<(u16, u16)>,
}

impl std::str::FromStr for ClassMapping {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let text = if Path::new(s).is_file() {
            std::fs::read_to_string(s).map_err(|e| format!("cannot read {s}: {e}"))?
        } else {
            s.to_string()
        };
        let mut pairs: Vec<(u16, u16)> = Vec::new();
        let items = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        for item in items {
            let pair = item.split_once(':').and_then(|(f, t)| {
                Some((f.trim().parse::<u16>().ok()?, t.trim().parse::<u16>().ok()?))
            });
            let Some((f, t)) = pair.filter(|p| p.0 < 255 && p.1 < 255) else {
                return Err(format!(
                    "{item:?} is not FROM:TO (class values 0..254), e.g. --class-map 0:0,1:2,2:1"
                ));
            };
            if pairs.iter().any(|p| p.0 == f) {
                return Err(format!("AFTER's value {f} is mapped twice"));
            }
            pairs.push((f, t));
        }
        if pairs.is_empty() {
            return Err("no FROM:TO pairs, e.g. --class-map 0:0,1:2,2:1".into());
        }
        Ok(ClassMapping { pairs })
    }
}

/// Value of an AFTER pixel that `--class-map` does not list.
pub const UNMAPPED: u16 = u16::MAX - 1;

impl ClassMapping {
    /// A lookup table over every u16 value: the mapped class, [`UNMAPPED`] for values
    /// not listed; `keep` (the warped nodata) stays as it is.
    pub fn table(&self, keep: u16) -> Vec<u16> {
        let mut t = vec![UNMAPPED; 1 << 16];
        for &(f, to) in &self.pairs {
            t[f as usize] = to;
        }
        t[keep as usize] = keep;
        t
    }
    /// The classes AFTER's values are mapped onto: the highest, plus one.
    pub fn classes(&self) -> usize {
        self.pairs
            .iter()
            .map(|p| p.1 as usize + 1)
            .max()
            .unwrap_or(0)
    }
}

/// Class names without the empty ones at the end.
fn named(names: &[String]) -> &[String] {
    let k = names
        .iter()
        .rposition(|n| !n.is_empty())
        .map_or(0, |k| k + 1);
    &names[..k]
}

/// Refuses to compare class maps whose legends differ (without `--class-map`): both
/// name their classes and the names differ, or one names its classes and the other
/// holds values beyond them. Either would label one map's classes with the other's
/// names (MODIS's water as csmask's "clear") and count the mismatch as change.
fn check_legends((lb, b): (&Legend, &Path), (la, a): (&Legend, &Path)) -> Result<()> {
    let (nb, na) = (named(&lb.names), named(&la.names));
    let fix = "pass --class-map FROM:TO,... (or a file of such pairs) to recode AFTER's values onto BEFORE's classes";
    let list = |n: &[String]| n.join(", ");
    if !nb.is_empty() && !na.is_empty() && nb != na {
        return Err(Error::mismatch(
            a,
            format!(
                "its classes ({}) differ from those of BEFORE {} ({}), so the maps cannot be compared class by class; {fix}",
                list(na),
                b.display(),
                list(nb)
            ),
        ));
    }
    for ((ln, pn), (lo, po)) in [((nb, b), (la, a)), ((na, a), (lb, b))] {
        if ln.is_empty() || !(lo.names.iter().all(|n| n.is_empty())) {
            continue;
        }
        if let Some(max) = lo.max_value.filter(|m| *m >= ln.len() as f64) {
            return Err(Error::mismatch(
                po,
                format!(
                    "has no class names and holds the value {max}, beyond the {} classes named by {} ({}), so the maps cannot be compared class by class; {fix}",
                    ln.len(),
                    pn.display(),
                    list(ln)
                ),
            ));
        }
    }
    Ok(())
}

/// Names, colours and count of the classes compared. Without `mapping` the two maps'
/// legends must agree ([`check_legends`]); with it, AFTER's values are recoded onto
/// BEFORE's classes and BEFORE's legend is the one used.
pub fn classes_of(
    before: &RasterInfo,
    after: &RasterInfo,
    mapping: Option<&ClassMapping>,
) -> Result<(Vec<String>, Vec<[u8; 3]>)> {
    let lb = ClassMap::open(&before.path)?.legend()?;
    let mut la = ClassMap::open(&after.path)?.legend()?;
    for (l, p) in [(&lb, &before.path), (&la, &after.path)] {
        if let Some(min) = l.min_value.filter(|m| *m < 0.0) {
            return Err(Error::input(p, format!("holds the negative value {min}, not a class index; pass a class map (terratile segment's output) with classes 0, 1, 2, ... and nodata")));
        }
    }
    match mapping {
        None => check_legends((&lb, &before.path), (&la, &after.path))?,
        Some(m) => {
            for v in [la.min_value, la.max_value].into_iter().flatten() {
                if !m.pairs.iter().any(|p| p.0 as f64 == v) {
                    return Err(Error::mismatch(
                        &after.path,
                        format!(
                            "holds the value {v}, which --class-map does not map; add {v}:TO to it"
                        ),
                    ));
                }
            }
            // AFTER's legend no longer applies: its values are BEFORE's classes now
            la = Legend {
                max_value: Some(m.classes() as f64 - 1.0),
                ..Legend::default()
            };
        }
    }
    let mut n = lb.names.len().max(la.names.len());
    for (l, p) in [(&lb, &before.path), (&la, &after.path)] {
        if let Some(max) = l.max_value {
            if max >= 255.0 {
                return Err(Error::input(p, format!("holds the value {max}, but change detection supports class indices 0..254 (the change code from * N + to must fit UInt16); pass a class map with at most 255 classes and nodata set")));
            }
            n = n.max(max as usize + 1);
        }
    }
    let names = (0..n)
        .map(|i| {
            lb.names
                .get(i)
                .or(la.names.get(i))
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| format!("class {i}"))
        })
        .collect();
    let colors = (0..n)
        .map(|i| {
            lb.colors
                .get(i)
                .copied()
                .flatten()
                .or(la.colors.get(i).copied().flatten())
                .unwrap_or_else(|| default_colour(i))
        })
        .collect();
    Ok((names, colors))
}

/// Names and colours of the N*N change codes.
pub fn change_legend(names: &[String], colors: &[[u8; 3]]) -> (Vec<String>, Vec<[u8; 3]>) {
    let n = names.len();
    let mut out_names = Vec::with_capacity(n * n);
    let mut out_colors = Vec::with_capacity(n * n);
    for f in 0..n {
        for t in 0..n {
            if f == t {
                out_names.push(format!("{} (unchanged)", names[f]));
                let c = colors[f];
                // a muted tint: mostly light grey, a little of the class colour
                out_colors.push(c.map(|v| ((v as u32 + 4 * 200) / 5) as u8));
            } else {
                out_names.push(format!("{} -> {}", names[f], names[t]));
                out_colors.push(colors[t]);
            }
        }
    }
    (out_names, out_colors)
}

/// The COG's description: the comparison grid, the N*N legend, the encoding in the
/// metadata, and `extra` metadata (inputs, resampling).
pub fn spec(
    output: &Path,
    grid: &CompareGrid,
    class_names: &[String],
    class_colors: &[[u8; 3]],
    threads: Option<usize>,
    extra: Vec<(String, String)>,
) -> OutputSpec {
    let n = class_names.len();
    let (code_names, code_colors) = change_legend(class_names, class_colors);
    let mut metadata = vec![
        (
            "TERRATILE_VERSION".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("TERRATILE_CLASSES".into(), n.to_string()),
        (
            "TERRATILE_CHANGE_ENCODING".into(),
            format!("value = from * {n} + to; from = value / {n}, to = value % {n}"),
        ),
    ];
    metadata.extend(extra);
    OutputSpec {
        path: output.to_path_buf(),
        grid: grid.grid.clone(),
        class_names: code_names,
        class_colors: code_colors,
        confidence: false,
        threads: threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        metadata,
        publish: Default::default(),
        overviews: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_of_three_classes() {
        let names: Vec<String> = ["forest", "water", "city"].map(String::from).to_vec();
        let colors = [[0, 128, 0], [0, 0, 255], [255, 0, 0]];
        let (n, c) = change_legend(&names, &colors);
        assert_eq!(n.len(), 9);
        assert_eq!(n[1], "forest -> water");
        assert_eq!(n[4], "water (unchanged)");
        assert_eq!(c[1], [0, 0, 255], "a change takes the colour it became");
        assert_eq!(c[4], [160, 160, 211], "unchanged is a light tint");
    }

    #[test]
    fn wide_codes_past_254() {
        let names: Vec<String> = (0..16).map(|i| format!("c{i}")).collect();
        let colors = vec![[1, 2, 3]; 16];
        let grid = CompareGrid {
            x0_px: 0,
            y0_px: 0,
            grid: crate::raster::PixelGrid {
                width_px: 1,
                height_px: 1,
                geo_transform: Some(crate::raster::GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, -1.0])),
                crs_wkt: String::new(),
            },
        };
        let s = spec(Path::new("x.tif"), &grid, &names, &colors, Some(1), vec![]);
        assert!(
            s.wide() && s.nodata() == u16::MAX,
            "16 x 16 = 256 codes need UInt16"
        );
        let s = spec(
            Path::new("x.tif"),
            &grid,
            &names[..15],
            &colors[..15],
            Some(1),
            vec![],
        );
        assert!(
            !s.wide() && s.nodata() == 255,
            "15 x 15 = 225 codes fit Byte"
        );
    }
}
