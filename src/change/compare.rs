//! The comparison, block by block: rows of BEFORE's classes and of AFTER's (warped onto
//! the comparison grid) are streamed in blocks of one statistics-tile height; each pixel
//! where both dates have a class adds to the from-to matrix (pixels and m2), to its
//! zone's matrix and to its tile's figures ([`super::count`]), and gets its change code in
//! the change raster.

use std::path::Path;

use gdal::spatial_ref::{CoordTransform, SpatialRef};

use super::stats::{ChangeStats, DateInput, TileStat, ZoneStat};
use super::{align, count, grid, legend, ChangeOptions, Zones};
use crate::cancel;
use crate::error::{Error, GdalContext, Result};
use crate::raster::{ClassMap, PixelArea, PixelGrid, Resampling};
use crate::stitch::Rows;
use crate::write::ClassWriter;

/// Compares two class maps into the change raster `opts.output` (statistics tiles of
/// `opts.stats_tile_px`, AFTER recoded by `opts.class_map`, written as
/// `opts.segment.publish` says).
pub fn compare(
    before: &DateInput,
    after: &DateInput,
    opts: &ChangeOptions,
    zones: Option<&Zones>,
) -> Result<ChangeStats> {
    let output: &Path = &opts.output;
    let tile_px = opts.stats_tile_px;
    let threads = opts.segment.threads;
    let publish = &opts.segment.publish;
    let mapping = opts.class_map.as_ref();
    let (b, a) = (&before.classes, &after.classes);
    let grid = grid::intersect(b, a)?;
    let resampling = align::choose_resampling(a, &grid)?;
    let mut notes = Vec::new();
    let (class_names, class_colors) = legend::classes_of(b, a, mapping)?;
    let recode = mapping.map(|m| m.table(align::WARPED_NODATA));
    let n = class_names.len();
    let pixel_area = PixelArea::of_grid(&b.path, &grid.grid)?;
    let warped = align::warp_onto(a, &grid, resampling)?;
    let after_band = warped
        .vrt
        .rasterband(1)
        .gdal_err(|t| Error::input(&a.path, t))?;
    let before_map = ClassMap::open(&b.path)?;
    let before_band = before_map.band(1)?;
    let before_nodata = before_band.no_data_value();

    let mut spec = legend::spec(
        output,
        &grid,
        &class_names,
        &class_colors,
        threads,
        vec![
            ("TERRATILE_BEFORE".into(), shown(before)),
            ("TERRATILE_AFTER".into(), shown(after)),
            (
                "TERRATILE_AFTER_RESAMPLING".into(),
                resampling.gdal_name().into(),
            ),
        ],
    );
    spec.publish = publish.clone();
    let nodata = spec.nodata();
    let mut writer = ClassWriter::create(spec)?;

    let to_wgs84 = {
        let src = grid::srs(&b.path, &grid.grid.crs_wkt)?;
        let mut dst = SpatialRef::from_epsg(4326)
            .gdal_err(|t| Error::Internal(format!("EPSG:4326 is unknown to PROJ ({t})")))?;
        dst.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
        CoordTransform::new(&src, &dst).gdal_err(|t| {
            Error::input(
                &b.path,
                format!("its CRS cannot be transformed to EPSG:4326 ({t})"),
            )
        })?
    };

    let (w, h) = (grid.width_px(), grid.height_px());
    let nz = zones.map_or(0, |z| z.len());
    let block_px = w * tile_px.min(h);
    let mut counter = count::Counter::new(n, nz, w, tile_px, nodata);
    let mut tiles = Vec::with_capacity(w.div_ceil(tile_px) * h.div_ceil(tile_px));
    let mut bbuf = vec![0f64; block_px];
    let mut abuf = vec![0u16; block_px];
    let mut codes = vec![0u16; block_px];
    let mut zbuf = vec![0u32; if nz > 0 { block_px } else { 0 }];
    let mut area_m2 = Vec::new();
    for (tile_row, y0) in (0..h).step_by(tile_px).enumerate() {
        if cancel::requested() {
            return Err(Error::Interrupted(output.to_path_buf())); // the writer's drop cleans up
        }
        let bh = tile_px.min(h - y0);
        let len = w * bh;
        let (bb, ab, cb) = (&mut bbuf[..len], &mut abuf[..len], &mut codes[..len]);
        let (gy0, gy1) = (grid.y0_px + y0, grid.y0_px + y0 + bh);
        before_band
            .read_into_slice::<f64>(
                (grid.x0_px as isize, gy0 as isize),
                (w, bh),
                (w, bh),
                bb,
                None,
            )
            .gdal_err(|t| Error::input(&b.path, format!("cannot read rows {gy0}..{gy1}: {t}")))?;
        after_band
            .read_into_slice::<u16>((0, y0 as isize), (w, bh), (w, bh), ab, None)
            .gdal_err(|t| {
                Error::input(
                    &a.path,
                    format!("cannot read (warped) rows {y0}..{}: {t}", y0 + bh),
                )
            })?;
        if let Some(t) = &recode {
            recode_after(ab, t, &a.path, y0, w)?;
        }
        if let Some(z) = zones {
            z.burn(&grid.grid.window(0, y0, w, bh), &mut zbuf[..len])?;
        }
        pixel_area.fill_blocks(y0, bh, &mut area_m2);
        let block = count::Block {
            width: w,
            before: bb,
            before_nodata,
            after: ab,
            after_nodata: align::WARPED_NODATA,
            zones: if nz > 0 { Some(&zbuf[..len]) } else { None },
            area_block_px: pixel_area.block_px(),
            area_m2: &area_m2,
        };
        counter.add_block(&block, cb).map_err(|bad| {
            Error::input(
                if bad.in_before { &b.path } else { &a.path },
                format!(
                    "holds the value {} at comparison pixel x={} y={}, which is neither nodata nor a class index 0..{}; pass class maps (terratile segment's output) with nodata set",
                    bad.value,
                    bad.x,
                    y0 + bad.y,
                    n - 1
                ),
            )
        })?;
        writer.write_rows(&Rows {
            y0,
            h: bh,
            width: w,
            classes: cb.to_vec(),
            confidence: None,
            class_counts: Vec::new(),
        })?;
        for (col, t) in counter.tiles.iter().enumerate() {
            let x0 = col * tile_px;
            let tw = tile_px.min(w - x0);
            tiles.push(TileStat {
                row: tile_row,
                col,
                x0_px: x0,
                y0_px: y0,
                width_px: tw,
                height_px: bh,
                valid_px: t.valid_px,
                changed_px: t.changed_px,
                changed_area_m2: t.changed_area_m2,
                dominant: t.dominant(n),
                footprint_lonlat: footprint(&grid.grid.window(x0, y0, tw, bh), &to_wgs84)
                    .gdal_err(|t| {
                        Error::input(
                            &b.path,
                            format!("a tile footprint cannot be transformed to EPSG:4326 ({t})"),
                        )
                    })?,
            });
        }
    }
    let count::Counter {
        matrix_px,
        matrix_area_m2,
        zone_px,
        zone_area_m2: zone_m2,
        ..
    } = counter;
    writer.finish(&matrix_px)?;
    let valid_px = matrix_px.iter().sum();
    let valid_area_m2 = matrix_area_m2.iter().sum();
    if resampling == Resampling::Mode {
        notes.push(format!(
            "{} has finer pixels than the comparison grid: its classes were resampled by mode",
            a.path.display()
        ));
    }
    Ok(ChangeStats {
        before: before.clone(),
        after: after.clone(),
        output: output.to_path_buf(),
        grid,
        resampling,
        class_names,
        class_colors,
        matrix_px,
        matrix_area_m2,
        valid_px,
        valid_area_m2,
        area_method: pixel_area.method(),
        tiles,
        zones: (0..nz)
            .map(|z| ZoneStat {
                zone: z,
                name: zones.map(|zs| zs.names[z].clone()).unwrap_or_default(),
                matrix_px: zone_px[z * n * n..(z + 1) * n * n].to_vec(),
                matrix_area_m2: zone_m2[z * n * n..(z + 1) * n * n].to_vec(),
            })
            .collect(),
        seconds: 0.0,
        notes,
    })
}

/// AFTER's values recoded onto BEFORE's classes (`--class-map`); a value the mapping
/// does not list stops the run, naming it.
fn recode_after(ab: &mut [u16], table: &[u16], path: &Path, y0: usize, w: usize) -> Result<()> {
    for (k, v) in ab.iter_mut().enumerate() {
        let to = table[*v as usize];
        if to == legend::UNMAPPED {
            return Err(Error::mismatch(
                path,
                format!(
                    "holds the value {} (at comparison pixel x={} y={}), which --class-map does not map; add {}:TO to it",
                    *v,
                    k % w,
                    y0 + k / w,
                    *v
                ),
            ));
        }
        *v = to;
    }
    Ok(())
}

/// The file a date came from, as the user gave it: the imagery when it was segmented
/// (its class map was temporary), else the class map.
fn shown(d: &DateInput) -> String {
    if let Some(p) = &d.shown_as {
        return p.display().to_string();
    }
    match (&d.segmented, &d.imagery) {
        (Some(_), Some(i)) => i.path.display().to_string(),
        _ => d.classes.path.display().to_string(),
    }
}

/// A tile's outline (4 points per edge) in lon/lat, counter-clockwise and closed.
fn footprint(
    tile: &PixelGrid,
    ct: &CoordTransform,
) -> std::result::Result<Vec<(f64, f64)>, gdal::errors::GdalError> {
    let (mut xs, mut ys) = tile.outline(4).expect("a comparison grid is georeferenced");
    ct.transform_coords(&mut xs, &mut ys, &mut [])?;
    let mut ring: Vec<(f64, f64)> = xs.into_iter().zip(ys).collect();
    // outline() goes top edge left to right, right edge down, ...: clockwise on a
    // north-up map; reverse it for the counter-clockwise exterior ring GeoPackage expects
    let signed: f64 = ring
        .iter()
        .zip(ring.iter().cycle().skip(1))
        .map(|(p, q)| p.0 * q.1 - q.0 * p.1)
        .sum();
    if signed < 0.0 {
        ring.reverse();
    }
    ring.push(ring[0]);
    Ok(ring)
}
