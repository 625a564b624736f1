//! `job merge`: the items' outputs -> one class map per scene, a VRT over them and a
//! STAC ItemCollection.
//!
//! A sharded scene's row bands are written, band after band, through the same writer as
//! `segment` ([`ClassWriter`]: the job's format, colour table, category names, attribute
//! table, QGIS style, temporary name then rename), so the merged file is what one
//! unsharded run writes. It carries the scene's stamp (over its items' stamps): a merge
//! run again rewrites only scenes whose items changed. An unsharded scene's item output
//! is already the scene's output.
//!
//! The VRT (`mosaic.vrt`; one per CRS, `mosaic-N.vrt`, when the scenes' CRSs differ) and
//! the ItemCollection (`catalog.json`, one Item per scene with its bbox in lon/lat)
//! are rewritten every time.

use std::path::{Path, PathBuf};

use gdal::Metadata;
use serde_json::json;

use super::stamp::{self, Stamper, STAMP_KEY};
use super::{Job, Scene};
use crate::error::{gdal_text, Error, Result};
use crate::raster::{legend, ClassMap, PixelGrid};
use crate::stitch::Rows;
use crate::write::{ClassWriter, OutputSpec};

/// A merged scene.
#[derive(Debug, Clone)]
pub struct Merged {
    pub scene: Scene,
    pub output: PathBuf,
    pub stamp: String,
    /// False when the output already carried the stamp.
    pub written: bool,
}

/// What a merge did.
#[derive(Debug, Default)]
pub struct MergeSummary {
    pub merged: Vec<Merged>,
    /// Scenes with items not done, with those items.
    pub incomplete: Vec<(String, Vec<usize>)>,
    pub vrts: Vec<PathBuf>,
    pub catalog: Option<PathBuf>,
}

/// Merges every scene whose items are all done.
pub fn merge(job_file: &Path, threads: usize) -> Result<MergeSummary> {
    let job = Job::load(job_file)?;
    let stamper = Stamper::new(&job)?;
    let out_dir = job.out_dir(job_file);
    let mut summary = MergeSummary::default();
    for (si, scene) in job.scenes.iter().enumerate() {
        let items: Vec<usize> = (0..job.items.len())
            .filter(|&i| job.items[i].scene == si)
            .collect();
        let mut stamps = Vec::new();
        let mut not_done = Vec::new();
        for &i in &items {
            let out = out_dir.join(&job.items[i].output);
            match stamper.item(i) {
                Ok(s) if stamp::carries(&out, &s) => stamps.push(s),
                _ => not_done.push(i),
            }
        }
        if !not_done.is_empty() {
            summary.incomplete.push((scene.name.clone(), not_done));
            continue;
        }
        let sharded = items.iter().any(|&i| job.items[i].rows.is_some());
        let output = out_dir.join(format!("{}.tif", scene.name));
        let scene_stamp = if sharded {
            stamp::of_scene(&stamps)
        } else {
            stamps[0].clone()
        };
        let written = sharded && !stamp::carries(&output, &scene_stamp);
        if written {
            let shards: Vec<(PathBuf, usize)> = items
                .iter()
                .map(|&i| {
                    let it = &job.items[i];
                    (out_dir.join(&it.output), it.rows.map_or(0, |r| r[0]))
                })
                .collect();
            let publish = job.settings.to_options(job_file)?.publish;
            join_shards(&shards, scene, &output, &scene_stamp, publish, threads)?;
        }
        summary.merged.push(Merged {
            scene: scene.clone(),
            output,
            stamp: scene_stamp,
            written,
        });
    }
    let outputs: Vec<&Path> = summary.merged.iter().map(|m| m.output.as_path()).collect();
    summary.vrts = mosaic(&outputs, &out_dir)?;
    let catalog = out_dir.join("catalog.json");
    write_catalog(&summary.merged, &catalog)?;
    summary.catalog = Some(catalog);
    Ok(summary)
}

/// Writes the row bands `shards` (path, first row) of `scene` into one class map.
fn join_shards(
    shards: &[(PathBuf, usize)],
    scene: &Scene,
    output: &Path,
    scene_stamp: &str,
    publish: crate::write::Publish,
    threads: usize,
) -> Result<()> {
    let first = ClassMap::open(&shards[0].0)?;
    let band = first.band(1)?;
    let class_names = legend::category_names(&band);
    let class_colors: Vec<[u8; 3]> = (0..class_names.len())
        .map(|i| {
            band.color_table()
                .and_then(|ct| ct.entry_as_rgb(i))
                .map(|c| [c.r as u8, c.g as u8, c.b as u8])
                .unwrap_or_else(|| legend::default_colour(i))
        })
        .collect();
    let confidence = first.info.band_count == 2;
    let ds =
        gdal::Dataset::open(&shards[0].0).map_err(|e| Error::input(&shards[0].0, gdal_text(&e)))?;
    let metadata: Vec<(String, String)> = ds
        .metadata_domain("")
        .unwrap_or_default()
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| {
            k.starts_with("TERRATILE_")
                && !matches!(*k, "TERRATILE_ROWS" | "TERRATILE_JOB_ITEM" | STAMP_KEY)
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([(STAMP_KEY.to_string(), scene_stamp.to_string())])
        .collect();
    let g = &first.info.grid;
    let grid = PixelGrid {
        width_px: g.width_px,
        height_px: scene.height_px,
        geo_transform: g.geo_transform,
        crs_wkt: g.crs_wkt.clone(),
    };
    let spec = OutputSpec {
        path: output.to_path_buf(),
        grid,
        class_names: class_names.clone(),
        class_colors,
        confidence,
        threads,
        metadata,
        publish,
        overviews: false,
    };
    let k = class_names.len();
    let mut writer = ClassWriter::create(spec)?;
    let mut counts = vec![0u64; k];
    const BLOCK_ROWS: usize = 256;
    for (path, y0) in shards {
        let map = ClassMap::open(path)?;
        let (w, h) = (map.info.grid.width_px, map.info.grid.height_px);
        if w != g.width_px {
            return Err(Error::input(
                path,
                format!(
                    "is {w} px wide, the scene's first shard {} px; run the job's items again",
                    g.width_px
                ),
            ));
        }
        let mut y = 0;
        while y < h {
            if crate::cancel::requested() {
                return Err(Error::Interrupted(output.to_path_buf()));
            }
            let n = BLOCK_ROWS.min(h - y);
            let mut classes = vec![0u16; w * n];
            map.read_u16(1, (0, y), (w, n), &mut classes)?;
            let conf = if confidence {
                let mut c = vec![0u16; w * n];
                map.read_u16(2, (0, y), (w, n), &mut c)?;
                Some(c)
            } else {
                None
            };
            let mut class_counts = vec![0u64; k];
            for &c in &classes {
                if let Some(v) = class_counts.get_mut(c as usize) {
                    *v += 1;
                }
            }
            for (a, b) in counts.iter_mut().zip(&class_counts) {
                *a += b;
            }
            writer.write_rows(&Rows {
                y0: y0 + y,
                h: n,
                width: w,
                classes,
                confidence: conf,
                class_counts,
            })?;
            y += n;
        }
    }
    writer.finish(&counts)
}

/// A VRT over the outputs: `mosaic.vrt`, or one per CRS (`mosaic-1.vrt`, ...).
fn mosaic(outputs: &[&Path], out_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut groups: Vec<(String, Vec<&Path>)> = Vec::new();
    for p in outputs {
        let crs = crate::raster::RasterInfo::open(p)?.grid.crs_wkt;
        match groups.iter_mut().find(|(c, _)| *c == crs) {
            Some((_, v)) => v.push(p),
            None => groups.push((crs, vec![p])),
        }
    }
    let mut vrts = Vec::new();
    for (n, (_, paths)) in groups.iter().enumerate() {
        let vrt = if groups.len() == 1 {
            out_dir.join("mosaic.vrt")
        } else {
            out_dir.join(format!("mosaic-{}.vrt", n + 1))
        };
        let tmp = crate::write::output::temp_beside(&vrt, "vrt");
        let sources = paths
            .iter()
            .map(|p| gdal::Dataset::open(p).map_err(|e| Error::input(p, gdal_text(&e))))
            .collect::<Result<Vec<_>>>()?;
        let e = |e: gdal::errors::GdalError| Error::output(&vrt, gdal_text(&e));
        let ds = gdal::programs::raster::build_vrt(Some(&tmp), &sources, None).map_err(e)?;
        ds.close().map_err(e)?;
        // the VRT names its sources relative to its own folder: the same folder
        let text = std::fs::read_to_string(&tmp)
            .map_err(|err| Error::output(&vrt, format!("cannot write the VRT: {err}")))?;
        std::fs::write(&vrt, text)
            .map_err(|err| Error::output(&vrt, format!("cannot write the VRT: {err}")))?;
        let _ = std::fs::remove_file(&tmp);
        vrts.push(vrt);
    }
    Ok(vrts)
}

/// A STAC ItemCollection with one Item per merged scene.
fn write_catalog(merged: &[Merged], path: &Path) -> Result<()> {
    let now = crate::store::utc_now();
    let mut features = Vec::new();
    for m in merged {
        let info = crate::raster::RasterInfo::open(&m.output)?;
        let bbox = lonlat_bbox(&info.grid);
        let geometry = bbox.map(|[w, s, e, n]| {
            json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
        });
        let href = m
            .output
            .file_name()
            .map(|n| format!("./{}", n.to_string_lossy()))
            .unwrap_or_default();
        features.push(json!({
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": m.scene.name,
            "bbox": bbox,
            "geometry": geometry,
            "properties": {
                "datetime": now,
                "terratile:input": m.scene.input.display().to_string(),
                "terratile:stamp": m.stamp,
                "proj:shape": [info.grid.height_px, info.grid.width_px],
                "proj:transform": info.grid.geo_transform.map(|g| g.0),
            },
            "assets": {
                "classes": {
                    "href": href,
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "roles": ["data"],
                    "title": "class map"
                }
            },
            "links": []
        }));
    }
    let doc = json!({"type": "FeatureCollection", "features": features});
    let tmp = crate::write::output::temp_beside(path, "json");
    let io = |e: std::io::Error| Error::output(path, format!("cannot write the catalog: {e}"));
    std::fs::write(&tmp, format!("{doc:#}\n")).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The grid's bounding box in lon/lat (west, south, east, north), from its corners.
fn lonlat_bbox(grid: &PixelGrid) -> Option<[f64; 4]> {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let gt = grid.geo_transform?;
    let src = SpatialRef::from_wkt(&grid.crs_wkt).ok()?;
    let mut dst = SpatialRef::from_epsg(4326).ok()?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut src = src;
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let t = CoordTransform::new(&src, &dst).ok()?;
    let (w, h) = (grid.width_px as f64, grid.height_px as f64);
    let corners = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)];
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) =
        corners.iter().map(|&(c, r)| gt.apply(c, r)).unzip();
    t.transform_coords(&mut xs, &mut ys, &mut []).ok()?;
    let min = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    Some([min(&xs), min(&ys), max(&xs), max(&ys)])
}
