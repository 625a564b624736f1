//! Tracing: GDAL's polygonizer (`GDALPolygonize`) over the final class map, into a
//! temporary FlatGeobuf layer (appended feature by feature, no index).
//!
//! The polygonizer reads the map row by row and emits each polygon once the rows below
//! it no longer touch it, so memory follows the map's width and the polygons still
//! open, never the map's size. It traces the whole stitched map at once, so no tile
//! grid can show in the polygons. Nodata pixels (the band's mask) get no polygon.

use std::ffi::CString;
use std::path::Path;

use gdal::spatial_ref::SpatialRef;
use gdal::vector::{FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::{Dataset, DriverManager};

use super::Connectivity;
use crate::error::{last_gdal_error, Error, GdalContext, Result};

/// The field of the temporary layer that holds the pixel value.
pub const VALUE_FIELD: &str = "class";

/// Traces band 1 of the class map `map` into the FlatGeobuf file `raw` (layer "raw",
/// field [`VALUE_FIELD`]).
pub fn trace(map: &Path, raw: &Path, connectivity: Connectivity) -> Result<()> {
    let ds = Dataset::open(map).gdal_err(|t| Error::input(map, t))?;
    let band = ds.rasterband(1).gdal_err(|t| Error::input(map, t))?;
    let out_err = |t: String| {
        Error::output(
            raw,
            format!("cannot write the traced polygons: {t} (is the disk full?)"),
        )
    };
    let driver = DriverManager::get_driver_by_name("FlatGeobuf").gdal_err(out_err)?;
    let mut out = driver.create_vector_only(raw).gdal_err(out_err)?;
    let srs = match ds.projection() {
        p if p.trim().is_empty() => None,
        p => Some(SpatialRef::from_wkt(&p).gdal_err(|t| Error::input(map, t))?),
    };
    let layer = out
        .create_layer(LayerOptions {
            name: "raw",
            srs: srs.as_ref(),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: Some(&["SPATIAL_INDEX=NO"]),
        })
        .gdal_err(out_err)?;
    FieldDefn::new(VALUE_FIELD, OGRFieldType::OFTInteger)
        .and_then(|f| f.add_to_layer(&layer))
        .gdal_err(out_err)?;
    let eight = CString::new("8CONNECTED=8").expect("no NUL");
    let mut options = [
        eight.as_ptr() as *mut std::os::raw::c_char,
        std::ptr::null_mut(),
    ];
    // SAFETY: the band, its mask band and the layer live while `ds` and `out` are open;
    // the options list is NULL-terminated and outlives the call; no progress callback.
    let err = unsafe {
        let b = band.c_rasterband();
        gdal_sys::GDALPolygonize(
            b,
            gdal_sys::GDALGetMaskBand(b),
            layer.c_layer(),
            0,
            match connectivity {
                Connectivity::Eight => options.as_mut_ptr(),
                Connectivity::Four => std::ptr::null_mut(),
            },
            None,
            std::ptr::null_mut(),
        )
    };
    if err != gdal_sys::CPLErr::CE_None {
        return Err(out_err(last_gdal_error()));
    }
    out.close().gdal_err(out_err)?;
    Ok(())
}
