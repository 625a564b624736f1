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
use crate::raster::{ClassMap, RasterInfo};
use crate::write::OutputSpec;

/// Names, colours and count of the classes compared.
pub fn classes_of(
    before: &RasterInfo,
    after: &RasterInfo,
    notes: &mut Vec<String>,
) -> Result<(Vec<String>, Vec<[u8; 3]>)> {
    let lb = ClassMap::open(&before.path)?.legend()?;
    let la = ClassMap::open(&after.path)?.legend()?;
    let differ: Vec<String> = lb
        .names
        .iter()
        .zip(&la.names)
        .enumerate()
        .filter(|(_, (x, y))| !x.is_empty() && !y.is_empty() && x != y)
        .map(|(i, (x, y))| format!("{i}: {x:?} vs {y:?}"))
        .collect();
    if !differ.is_empty() {
        notes.push(format!(
            "the class maps name their classes differently ({}); BEFORE's names are used: compare maps of the same model",
            differ.join(", ")
        ));
    }
    let mut n = lb.names.len().max(la.names.len());
    for (l, p) in [(&lb, &before.path), (&la, &after.path)] {
        if let Some(min) = l.min_value.filter(|m| *m < 0.0) {
            return Err(Error::input(p, format!("holds the negative value {min}, not a class index; pass a class map (terratile segment's output) with classes 0, 1, 2, ... and nodata")));
        }
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
