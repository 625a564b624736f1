//! QGIS styles that travel with the outputs, so QGIS draws them in the map's colours
//! without styling by hand:
//!
//! - [`class_map_qml`]: a class map's default style, the sidecar `NAME.qml` QGIS loads
//!   when it opens `NAME.tif` (a paletted renderer on band 1 listing exactly the classes
//!   with their names and colour-table colours). It is needed because a GeoTIFF colour
//!   table always holds 2^bits entries (256 for Byte: QGIS would list 249 black
//!   entries), and because QGIS 3.22 opens any raster of two bands (classes and
//!   confidence) with its multiband colour renderer.
//! - [`tile_stats_qml`]: the `tile_stats` layer's default style, stored in the
//!   GeoPackage's `layer_styles` table (a categorized renderer on the class a tile's
//!   dominant change became, in that class's colour).

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The sidecar QGIS loads as a raster's default style: `dir/NAME.qml` for `dir/NAME.tif`.
pub fn qml_path(raster: &Path) -> PathBuf {
    raster.with_extension("qml")
}

/// XML-escapes text for an attribute value.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

const HEADER: &str = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n";

/// A class map's QGIS style: band 1 paletted, one entry per class (value, colour, name),
/// nearest-neighbour resampling; values outside the classes (nodata) stay transparent.
pub fn class_map_qml(names: &[String], colors: &[[u8; 3]]) -> String {
    let mut s = String::from(HEADER);
    s.push_str("<qgis version=\"3.22.0\" styleCategories=\"Symbology\">\n  <pipe>\n");
    s.push_str("    <rasterrenderer type=\"paletted\" band=\"1\" opacity=\"1\" alphaBand=\"-1\" nodataColor=\"\">\n");
    s.push_str("      <rasterTransparency/>\n      <colorPalette>\n");
    for (i, (name, c)) in names.iter().zip(colors).enumerate() {
        let _ = writeln!(
            s,
            "        <paletteEntry value=\"{i}\" color=\"{}\" alpha=\"255\" label=\"{}\"/>",
            hex(*c),
            esc(name)
        );
    }
    s.push_str("      </colorPalette>\n    </rasterrenderer>\n");
    s.push_str("    <brightnesscontrast brightness=\"0\" contrast=\"0\" gamma=\"1\"/>\n");
    s.push_str("    <rasterresampler maxOversampling=\"2\"/>\n");
    s.push_str("  </pipe>\n  <blendMode>0</blendMode>\n</qgis>\n");
    s
}

fn fill_symbol(s: &mut String, name: usize, fill: Option<[u8; 3]>) {
    let (color, style) = match fill {
        Some(c) => (format!("{},{},{},255", c[0], c[1], c[2]), "solid"),
        None => ("0,0,0,0".to_string(), "no"),
    };
    let _ = write!(
        s,
        "      <symbol type=\"fill\" name=\"{name}\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">\n        <layer class=\"SimpleFill\" enabled=\"1\" pass=\"0\" locked=\"0\">\n          <Option type=\"Map\">\n            <Option name=\"color\" type=\"QString\" value=\"{color}\"/>\n            <Option name=\"style\" type=\"QString\" value=\"{style}\"/>\n            <Option name=\"outline_color\" type=\"QString\" value=\"128,128,128,255\"/>\n            <Option name=\"outline_style\" type=\"QString\" value=\"solid\"/>\n            <Option name=\"outline_width\" type=\"QString\" value=\"0.2\"/>\n            <Option name=\"outline_width_unit\" type=\"QString\" value=\"MM\"/>\n          </Option>\n        </layer>\n      </symbol>\n"
    );
}

/// The `tile_stats` layer's QGIS style: categorized by `dominant_to` (the class the
/// tile's largest change became), filled in that class's colour and labelled
/// "changed to NAME"; tiles without change are outlined only.
pub fn tile_stats_qml(names: &[String], colors: &[[u8; 3]]) -> String {
    let mut s = String::from(HEADER);
    s.push_str("<qgis version=\"3.22.0\" styleCategories=\"Symbology\">\n");
    s.push_str("  <renderer-v2 type=\"categorizedSymbol\" attr=\"dominant_to\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\">\n    <categories>\n");
    for (i, name) in names.iter().enumerate() {
        let _ = writeln!(
            s,
            "      <category value=\"{i}\" symbol=\"{i}\" label=\"changed to {}\" render=\"true\"/>",
            esc(name)
        );
    }
    let none = names.len();
    let _ = writeln!(
        s,
        "      <category value=\"\" symbol=\"{none}\" label=\"no change\" render=\"true\"/>"
    );
    s.push_str("    </categories>\n    <symbols>\n");
    for (i, c) in colors.iter().enumerate().take(names.len()) {
        fill_symbol(&mut s, i, Some(*c));
    }
    fill_symbol(&mut s, none, None);
    s.push_str("    </symbols>\n  </renderer-v2>\n  <blendMode>0</blendMode>\n  <featureBlendMode>0</featureBlendMode>\n  <layerOpacity>0.8</layerOpacity>\n</qgis>\n");
    s
}

/// The polygon layer's QGIS style (`--vector`): categorized by `class`, each value
/// filled in its colour and labelled with its name; `classes` holds (value, name, colour).
pub fn polygons_qml(classes: &[(i32, String, [u8; 3])]) -> String {
    let mut s = String::from(HEADER);
    s.push_str("<qgis version=\"3.22.0\" styleCategories=\"Symbology\">\n");
    s.push_str("  <renderer-v2 type=\"categorizedSymbol\" attr=\"class\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\">\n    <categories>\n");
    for (i, (v, name, _)) in classes.iter().enumerate() {
        let _ = writeln!(
            s,
            "      <category value=\"{v}\" symbol=\"{i}\" label=\"{}\" render=\"true\"/>",
            esc(name)
        );
    }
    s.push_str("    </categories>\n    <symbols>\n");
    for (i, (_, _, c)) in classes.iter().enumerate() {
        fill_symbol(&mut s, i, Some(*c));
    }
    s.push_str("    </symbols>\n  </renderer-v2>\n  <blendMode>0</blendMode>\n  <featureBlendMode>0</featureBlendMode>\n  <layerOpacity>1</layerOpacity>\n</qgis>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_listed_in_order() {
        let names = vec!["a & b".to_string(), "\"c\"".to_string()];
        let q = class_map_qml(&names, &[[1, 2, 3], [255, 0, 16]]);
        assert!(q.contains("value=\"0\" color=\"#010203\" alpha=\"255\" label=\"a &amp; b\""));
        assert!(q.contains("value=\"1\" color=\"#ff0010\" alpha=\"255\" label=\"&quot;c&quot;\""));
        assert_eq!(q.matches("<paletteEntry").count(), 2);
        assert_eq!(qml_path(Path::new("d/x.y.tif")), Path::new("d/x.y.qml"));
    }
}
