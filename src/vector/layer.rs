//! The GeoPackage layer `polygons`: one feature per traced polygon, with
//!
//! | field | meaning |
//! |---|---|
//! | `class` | the pixel value (a class id; a change code `from * N + to` for `change`) |
//! | `class_name` | the class map's category name of that value (`"water"`, `"forest -> water"`), else `"class V"` |
//! | `from_class`, `to_class` | `change` only: the classes before and after |
//! | `area_m2` | ground area, geodesic on WGS 84 ([`super::measure`]) |
//! | `perimeter_m` | geodesic length of the outer boundary and the holes' boundaries |
//!
//! and a default QGIS style in the GeoPackage's `layer_styles` table (the table QGIS
//! itself writes; the schema of migration 0005): categorized on `class`, each class in
//! its colour-table colour and labelled with its name, so QGIS opens the layer styled.
//! Features are read from the traced FlatGeobuf one at a time and written in
//! transactions of [`BATCH`] features: memory stays flat however many polygons there are.

use std::collections::BTreeMap;
use std::path::Path;

use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal,
};
use gdal::{Dataset, DriverManager};

use super::measure::Measurer;
use super::simplify::Simplifier;
use super::trace::VALUE_FIELD;
use super::PolygonOptions;
use crate::error::{Error, GdalContext, Result};
use crate::raster::ClassMap;

/// The layer's name in the GeoPackage.
pub const LAYER: &str = "polygons";
/// Features per transaction.
const BATCH: usize = 20_000;

/// Writes the polygons of `raw` (traced from `map`) into the new GeoPackage `out`;
/// returns how many.
pub fn write(
    map: &Path,
    raw: &Path,
    out: &Path,
    opts: &PolygonOptions,
    change_classes: Option<usize>,
) -> Result<usize> {
    let cm = ClassMap::open(map)?;
    let legend = cm.legend()?;
    let grid = cm.info.grid.clone();
    drop(cm);
    let mut measurer = Measurer::new(map, &grid.crs_wkt)?;
    let mut simplifier = match opts.simplify {
        Some(t) => Some(Simplifier::new(map, t, opts.connectivity)?),
        None => None,
    };
    let e = |t: String| {
        Error::output(
            out,
            format!("cannot write the GeoPackage: {t} (is the disk full?)"),
        )
    };
    let raw_err =
        |t: String| Error::Internal(format!("the traced polygons cannot be read back ({t})"));
    let src = Dataset::open(raw).gdal_err(raw_err)?;
    let mut src_layer = src.layer(0).gdal_err(raw_err)?;
    let value_idx = src_layer
        .defn()
        .field_index(VALUE_FIELD)
        .gdal_err(raw_err)?;
    if let Some(s) = simplifier.as_mut() {
        keep_valid(s, &mut src_layer, out)?;
    }

    let driver = DriverManager::get_driver_by_name("GPKG").gdal_err(e)?;
    let mut ds = driver.create_vector_only(out).gdal_err(e)?;
    let c_ds = ds.c_dataset();
    let srs = match grid.crs_wkt.trim() {
        "" => None,
        w => Some(SpatialRef::from_wkt(w).gdal_err(e)?),
    };
    let layer = ds
        .create_layer(LayerOptions {
            name: LAYER,
            srs: srs.as_ref(),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: Some(&["GEOMETRY_NAME=geom", "FID=fid"]),
        })
        .gdal_err(e)?;
    let mut fields = vec![
        ("class", OGRFieldType::OFTInteger),
        ("class_name", OGRFieldType::OFTString),
    ];
    if change_classes.is_some() {
        fields.push(("from_class", OGRFieldType::OFTInteger));
        fields.push(("to_class", OGRFieldType::OFTInteger));
    }
    fields.push(("area_m2", OGRFieldType::OFTReal));
    fields.push(("perimeter_m", OGRFieldType::OFTReal));
    for (name, ty) in &fields {
        FieldDefn::new(name, *ty)
            .and_then(|f| f.add_to_layer(&layer))
            .gdal_err(e)?;
    }
    let (area_idx, perim_idx) = (fields.len() - 2, fields.len() - 1);
    let name_of = |v: i32| -> String {
        match legend.names.get(v.max(0) as usize) {
            Some(n) if v >= 0 && !n.trim().is_empty() => n.clone(),
            _ => format!("class {v}"),
        }
    };
    let mut seen: BTreeMap<i32, String> = BTreeMap::new();
    // SAFETY: the dataset handle lives until `ds.close()` below, after the last use
    let begin = || unsafe { gdal_sys::GDALDatasetStartTransaction(c_ds, 0) };
    let commit = || unsafe { gdal_sys::GDALDatasetCommitTransaction(c_ds) };
    let ok = gdal_sys::OGRErr::OGRERR_NONE;
    if begin() != ok {
        return Err(e(crate::error::last_gdal_error()));
    }
    let mut n = 0usize;
    for f in src_layer.features() {
        if n.is_multiple_of(1024) && crate::cancel::requested() {
            return Err(Error::Interrupted(out.to_path_buf()));
        }
        let v = f
            .field_as_integer(value_idx)
            .gdal_err(raw_err)?
            .unwrap_or(0);
        let Some(g) = f.geometry() else { continue };
        let geo::Geometry::Polygon(mut poly) = g.to_geo().gdal_err(raw_err)? else {
            return Err(raw_err("a traced polygon is not a polygon".into()));
        };
        if let Some(s) = simplifier.as_mut() {
            poly = s.simplify(&poly)?;
        }
        let (area_m2, perimeter_m) = measurer.measure(&poly)?;
        let mut out_f = Feature::new(layer.defn()).gdal_err(e)?;
        let name = seen.entry(v).or_insert_with(|| name_of(v)).clone();
        out_f.set_field_integer(0, v).gdal_err(e)?;
        out_f.set_field_string(1, &name).gdal_err(e)?;
        if let Some(nc) = change_classes.filter(|&nc| nc > 0) {
            out_f.set_field_integer(2, v / nc as i32).gdal_err(e)?;
            out_f.set_field_integer(3, v % nc as i32).gdal_err(e)?;
        }
        out_f.set_field_double(area_idx, area_m2).gdal_err(e)?;
        out_f.set_field_double(perim_idx, perimeter_m).gdal_err(e)?;
        let geom = if simplifier.is_some() {
            poly.to_gdal().gdal_err(e)?
        } else {
            g.clone()
        };
        out_f.set_geometry(geom).gdal_err(e)?;
        out_f.create(&layer).gdal_err(e)?;
        n += 1;
        if n.is_multiple_of(BATCH) && (commit() != ok || begin() != ok) {
            return Err(e(crate::error::last_gdal_error()));
        }
    }
    if commit() != ok {
        return Err(e(crate::error::last_gdal_error()));
    }
    ds.close().gdal_err(e)?;
    drop(src);
    let colors: Vec<(i32, String, [u8; 3])> = seen
        .into_iter()
        .map(|(v, name)| {
            let c = legend
                .colors
                .get(v.max(0) as usize)
                .copied()
                .flatten()
                .unwrap_or([160, 160, 160]);
            (v, name, c)
        })
        .collect();
    write_style(out, &colors)
        .map_err(|err| e(format!("cannot add the QGIS style: {err}")).caused_by(err))?;
    Ok(n)
}

/// Passes over the traced polygons before writing them: the arcs of every polygon that
/// simplifying leaves invalid (a border crossing another) are kept as they are, which
/// its neighbours see too, until a pass finds no new one (at most [`MAX_PASSES`]).
fn keep_valid(s: &mut Simplifier, layer: &mut gdal::vector::Layer<'_>, out: &Path) -> Result<()> {
    for _ in 0..MAX_PASSES {
        let mut added = false;
        layer.reset_feature_reading();
        for f in layer.features() {
            if crate::cancel::requested() {
                return Err(Error::Interrupted(out.to_path_buf()));
            }
            let Some(geo::Geometry::Polygon(poly)) = f.geometry().and_then(|g| g.to_geo().ok())
            else {
                continue;
            };
            // GEOS's validity (GDAL): indexed, so polygons of many holes stay quick
            let valid = s.simplify(&poly)?.to_gdal().is_ok_and(|g| g.is_valid());
            if !valid {
                added |= s.keep_last_raw();
            }
        }
        if !added {
            break;
        }
    }
    layer.reset_feature_reading();
    Ok(())
}

/// The most passes of [`keep_valid`].
const MAX_PASSES: usize = 8;

/// The layer's default QGIS style in the GeoPackage's `layer_styles` table.
fn write_style(gpkg: &Path, classes: &[(i32, String, [u8; 3])]) -> rusqlite::Result<()> {
    let conn = rusqlite::Connection::open(gpkg)?;
    conn.execute_batch(include_str!(
        "../../schemas/migrations/0005_layer_styles.sql"
    ))?;
    conn.execute(
        "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, ui)
         VALUES ('', '', ?1, 'geom', 'terratile', ?2, '', 1, 'polygons by class', '', '')",
        rusqlite::params![LAYER, crate::write::style::polygons_qml(classes)],
    )?;
    Ok(())
}
