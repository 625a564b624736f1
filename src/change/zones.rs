//! Zones (`--zones`): per-polygon figures. The polygons of a vector file (GeoPackage,
//! GeoJSON, Shapefile, anything GDAL reads) are reprojected once into the comparison
//! grid's CRS with GDAL/PROJ, then burnt block by block into a zone-index buffer the size
//! of the rows in flight (GDAL's rasterizer: a pixel belongs to a zone when its centre
//! lies inside; where polygons overlap, the later one wins).

use std::path::{Path, PathBuf};

use gdal::raster::RasterCreationOptions;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform};
use gdal::vector::{Geometry, LayerAccess};
use gdal::{Dataset, DatasetOptions, DriverManager, GdalOpenFlags};

use super::grid::{srs, CompareGrid};
use crate::error::{gdal_text, Error, GdalContext, Result};
use crate::raster::PixelGrid;

/// Polygons in the comparison grid's CRS, with their names.
pub struct Zones {
    pub path: PathBuf,
    pub names: Vec<String>,
    geoms: Vec<Geometry>,
    /// (ymin, ymax) of each polygon, to burn only those that reach a block.
    y_ranges: Vec<(f64, f64)>,
}

impl Zones {
    /// Reads the first layer of `path`; names from `field` (else the feature id).
    pub fn load(path: &Path, field: Option<&str>, grid: &CompareGrid) -> Result<Zones> {
        if !crate::raster::info::is_virtual(path) && !path.exists() {
            return Err(Error::input(path, "no such file; check the --zones path"));
        }
        let ds = Dataset::open_ex(
            path,
            DatasetOptions {
                open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
                ..DatasetOptions::default()
            },
        )
        .gdal_err(|t| {
            Error::input(
                path,
                format!(
                    "GDAL cannot open it as vector data ({t}); pass a GeoPackage, GeoJSON or Shapefile of polygons"
                ),
            )
        })?;
        if ds.layer_count() == 0 {
            return Err(Error::input(path, "has no layers; pass a file of polygons"));
        }
        let mut layer = ds.layer(0).gdal_err(|t| Error::input(path, t))?;
        let mut src = layer.spatial_ref().ok_or_else(|| {
            Error::input(
                path,
                "has no CRS, so its polygons cannot be placed; assign one (ogr2ogr -a_srs EPSG:...)",
            )
        })?;
        src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let dst = srs(path, &grid.grid.crs_wkt)?;
        let ct = CoordTransform::new(&src, &dst).gdal_err(|t| {
            Error::input(
                path,
                format!("its CRS cannot be transformed to the raster's ({t})"),
            )
        })?;
        let field_idx = match field {
            None => None,
            Some(f) => Some(layer.defn().field_index(f).map_err(|_| {
                let have: Vec<String> = layer.defn().fields().map(|x| x.name()).collect();
                Error::input(
                    path,
                    format!(
                        "has no field {f:?}; its fields are {}; choose one with --zone-field",
                        have.join(", ")
                    ),
                )
            })?),
        };
        let mut names = Vec::new();
        let mut geoms = Vec::new();
        for feature in layer.features() {
            let Some(g) = feature.geometry() else {
                continue;
            };
            let g = g.transform(&ct).gdal_err(|t| {
                Error::input(
                    path,
                    format!(
                        "feature {} cannot be reprojected to the raster's CRS ({t})",
                        feature.fid().unwrap_or(0)
                    ),
                )
            })?;
            let name = match field_idx {
                Some(i) => feature
                    .field_as_string(i)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                None => feature.fid().map_or(String::new(), |f| f.to_string()),
            };
            names.push(name);
            geoms.push(g);
        }
        if geoms.is_empty() {
            return Err(Error::input(
                path,
                "has no features with a geometry; pass a file of polygons",
            ));
        }
        let y_ranges = geoms
            .iter()
            .map(|g| {
                let e = g.envelope();
                (e.MinY, e.MaxY)
            })
            .collect();
        Ok(Zones {
            path: path.to_path_buf(),
            names,
            geoms,
            y_ranges,
        })
    }

    pub fn len(&self) -> usize {
        self.geoms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.geoms.is_empty()
    }

    /// Burns the zones into `out` (`w * h`, row-major) for the block of rows `block`:
    /// zone index + 1, 0 outside every zone.
    pub fn burn(&self, block: &PixelGrid, out: &mut [u32]) -> Result<()> {
        let (w, h) = (block.width_px, block.height_px);
        let gt = block
            .geo_transform
            .ok_or_else(|| {
                Error::Internal("zones burnt into a grid without a geotransform".into())
            })?
            .0;
        let e = |e: gdal::errors::GdalError| {
            Error::input(
                &self.path,
                format!("cannot rasterize the zones: {}", gdal_text(&e)),
            )
            .caused_by(e)
        };
        let mem = DriverManager::get_driver_by_name("MEM").map_err(e)?;
        let mut ds = mem
            .create_with_band_type_with_options::<u32, _>(
                "",
                w,
                h,
                1,
                &RasterCreationOptions::new(),
            )
            .map_err(e)?;
        ds.set_geo_transform(&gt).map_err(e)?;
        ds.set_projection(&block.crs_wkt).map_err(e)?;
        // only the polygons that reach the block's rows (in the original order, so the
        // later of two overlapping polygons still wins)
        let [_, ymin, _, ymax] = block.bounds().expect("georeferenced above");
        let (mut geoms, mut burn) = (Vec::new(), Vec::new());
        for (i, (g, &(g0, g1))) in self.geoms.iter().zip(&self.y_ranges).enumerate() {
            if g1 >= ymin && g0 <= ymax {
                geoms.push(g.clone());
                burn.push((i + 1) as f64);
            }
        }
        if !geoms.is_empty() {
            gdal::raster::rasterize(&mut ds, &[1], &geoms, &burn, None).map_err(e)?;
        }
        ds.rasterband(1)
            .map_err(e)?
            .read_into_slice::<u32>((0, 0), (w, h), (w, h), out, None)
            .map_err(e)?;
        Ok(())
    }
}
