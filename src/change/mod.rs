//! After the class maps (segment -> **change** -> store): change detection between two
//! dates.
//!
//! 1. Each date becomes a class map: segmented with the streaming engine
//!    ([`crate::segment()`]) into a temporary COG beside the output, or given
//!    precomputed (`--before-classes`, `--after-classes`).
//! 2. The comparison grid is BEFORE's grid restricted to the intersection of the two
//!    footprints ([`grid`]); AFTER's class map is warped onto it by GDAL, nearest or mode
//!    ([`align`]).
//! 3. Rows are streamed in blocks of one statistics-tile height ([`count`]): each pixel
//!    where both dates have a class adds to the from-to matrix (pixels and m2, [`area`]),
//!    to its zone's matrix ([`zones`]) and to its tile's figures, and gets its change code
//!    in the change raster (written as a COG by [`crate::write::ClassWriter`]).
//!
//! Change encoding: with N classes, `code = from * N + to` (so `from = code / N`,
//! `to = code % N`; unchanged pixels are the codes `k * (N + 1)`). Byte when `N * N <= 254`
//! (nodata 255), else UInt16 (nodata 65535); N is at most 255. Nodata where either date is
//! nodata or masked. Colours: unchanged pairs a muted grey tint of the class colour,
//! changed pairs the bright colour of the class they changed to. Category names
//! `"from -> to"` and `"class (unchanged)"`, plus a raster attribute table with counts.

pub mod align;
pub mod area;
pub mod count;
pub mod grid;
pub mod raster;
pub mod zones;

use std::path::{Path, PathBuf};
use std::time::Instant;

use gdal::spatial_ref::{CoordTransform, SpatialRef};
use gdal::Dataset;

use crate::error::{gdal_text, Error, Result};
use crate::read::{self, RasterInfo};
use crate::segment::{segment, SegmentOptions, Summary};
use crate::stitch::Rows;
use crate::write::ClassWriter;
pub use align::Resampling;
pub use area::PixelArea;
pub use grid::CompareGrid;
pub use raster::change_legend;
pub use zones::Zones;

/// Everything `change` can be told.
#[derive(Debug, Clone, Default)]
pub struct ChangeOptions {
    /// Imagery of the first date (segmented unless `before_classes` is given).
    pub before: Option<PathBuf>,
    /// Imagery of the second date.
    pub after: Option<PathBuf>,
    /// The segmentation model for imagery.
    pub model: Option<PathBuf>,
    /// Precomputed class maps (skip the model for that date).
    pub before_classes: Option<PathBuf>,
    pub after_classes: Option<PathBuf>,
    /// The change raster (COG).
    pub output: PathBuf,
    /// Settings for segmenting imagery (bands, tile, threads, mask model, ...); its
    /// input, output and model are set per date.
    pub segment: SegmentOptions,
    /// Keep the class maps of segmented dates in this folder (else they are removed).
    pub keep_classes: Option<PathBuf>,
    /// Side of the statistics tiles in comparison-grid pixels.
    pub stats_tile_px: usize,
    /// Polygons for per-zone figures, and the field that names them.
    pub zones: Option<PathBuf>,
    pub zone_field: Option<String>,
}

/// The figures of one zone (a polygon of `--zones`).
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneStat {
    /// Index of the polygon in the zones file (0-based, in reading order).
    pub zone: usize,
    pub name: String,
    /// `matrix_px[from * N + to]` within the zone.
    pub matrix_px: Vec<u64>,
    pub matrix_area_m2: Vec<f64>,
}

/// One date as compared.
#[derive(Debug, Clone)]
pub struct DateInput {
    /// The imagery, when it was segmented (or given alongside its classes).
    pub imagery: Option<RasterInfo>,
    /// The class map compared.
    pub classes: RasterInfo,
    /// The segmentation run, when the model was used.
    pub segmented: Option<Summary>,
}

/// The figures of one statistics tile.
#[derive(Debug, Clone, PartialEq)]
pub struct TileStat {
    pub row: usize,
    pub col: usize,
    /// Window in comparison-grid pixels.
    pub x0_px: usize,
    pub y0_px: usize,
    pub width_px: usize,
    pub height_px: usize,
    pub valid_px: u64,
    pub changed_px: u64,
    pub changed_area_m2: f64,
    /// The changed (from, to) pair with most pixels, and its pixels.
    pub dominant: Option<(usize, usize, u64)>,
    /// Footprint in EPSG:4326 (lon, lat), counter-clockwise, closed.
    pub footprint_lonlat: Vec<(f64, f64)>,
}

/// What a change run found.
#[derive(Debug, Clone)]
pub struct ChangeStats {
    pub before: DateInput,
    pub after: DateInput,
    pub grid: CompareGrid,
    pub resampling: Resampling,
    pub class_names: Vec<String>,
    pub class_colors: Vec<[u8; 3]>,
    /// `matrix_px[from * N + to]`: pixels per transition.
    pub matrix_px: Vec<u64>,
    pub matrix_area_m2: Vec<f64>,
    pub valid_px: u64,
    pub valid_area_m2: f64,
    /// The pixel area when it is the same everywhere (projected CRS).
    pub pixel_area_m2: Option<f64>,
    pub tiles: Vec<TileStat>,
    /// Per zone, with `--zones`.
    pub zones: Vec<ZoneStat>,
    pub seconds: f64,
    pub notes: Vec<String>,
}

impl ChangeStats {
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }
    /// Pixels and m2 per class before (row sums of the matrix).
    pub fn before_totals(&self) -> (Vec<u64>, Vec<f64>) {
        let n = self.classes();
        let px = (0..n)
            .map(|f| self.matrix_px[f * n..(f + 1) * n].iter().sum())
            .collect();
        let m2 = (0..n)
            .map(|f| self.matrix_area_m2[f * n..(f + 1) * n].iter().sum())
            .collect();
        (px, m2)
    }
    /// Pixels and m2 per class after (column sums of the matrix).
    pub fn after_totals(&self) -> (Vec<u64>, Vec<f64>) {
        let n = self.classes();
        let px = (0..n)
            .map(|t| (0..n).map(|f| self.matrix_px[f * n + t]).sum())
            .collect();
        let m2 = (0..n)
            .map(|t| (0..n).map(|f| self.matrix_area_m2[f * n + t]).sum())
            .collect();
        (px, m2)
    }
}

/// Removes temporary class maps when dropped.
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
            let mut aux = p.as_os_str().to_owned();
            aux.push(".aux.xml");
            let _ = std::fs::remove_file(PathBuf::from(aux));
        }
    }
}

/// Compares two dates into the change raster `opts.output` and returns the statistics.
pub fn change(opts: &ChangeOptions) -> Result<ChangeStats> {
    let started = Instant::now();
    if opts.stats_tile_px == 0 {
        return Err(Error::Usage("--stats-tile must be at least 1 pixel".into()));
    }
    check_output(
        &opts.output,
        &[
            &opts.before,
            &opts.after,
            &opts.before_classes,
            &opts.after_classes,
        ],
    )?;
    if let Some(d) = &opts.keep_classes {
        if !d.is_dir() {
            return Err(Error::output(
                d,
                "is not a folder; create it or choose another --keep-classes folder",
            ));
        }
    }
    // Check every input before any segmentation starts.
    for (img, cls, flag) in [
        (&opts.before, &opts.before_classes, "BEFORE"),
        (&opts.after, &opts.after_classes, "AFTER"),
    ] {
        match (img, cls) {
            (_, Some(c)) => drop(read::open(c)?),
            (Some(i), None) => {
                drop(read::open(i)?);
                if opts.model.is_none() {
                    return Err(Error::Usage(format!(
                        "{flag} imagery {} needs a model to segment it: pass -m MODEL.onnx, or its class map with --{}-classes",
                        i.display(),
                        flag.to_lowercase()
                    )));
                }
            }
            (None, None) => {
                return Err(Error::Usage(format!(
                    "no {flag} date: pass {flag} imagery with -m MODEL.onnx, or --{}-classes CLASSES.tif",
                    flag.to_lowercase()
                )))
            }
        }
    }
    if let Some(m) = &opts.model {
        if !m.exists() {
            return Err(Error::model(m, "no such file; check the model path"));
        }
    }
    // No overlap is found before any date is segmented, naming the files the user gave.
    let grid_raster = |img: &Option<PathBuf>, cls: &Option<PathBuf>| -> Result<RasterInfo> {
        let p = cls.as_ref().or(img.as_ref()).expect("checked above");
        let ds = read::open(p)?;
        read::describe(p, &ds)
    };
    let early = grid::intersect(
        &grid_raster(&opts.before, &opts.before_classes)?,
        &grid_raster(&opts.after, &opts.after_classes)?,
    )?;
    if opts.zone_field.is_some() && opts.zones.is_none() {
        return Err(Error::Usage("--zone-field needs --zones ZONES.gpkg".into()));
    }
    let zones = opts
        .zones
        .as_deref()
        .map(|z| Zones::load(z, opts.zone_field.as_deref(), &early))
        .transpose()?;
    let mut temps = TempFiles(Vec::new());
    let before = date_input(
        opts,
        "before",
        &opts.before,
        &opts.before_classes,
        &mut temps,
    )?;
    let after = date_input(opts, "after", &opts.after, &opts.after_classes, &mut temps)?;
    let mut stats = compare(
        &before,
        &after,
        &opts.output,
        opts.stats_tile_px,
        opts.segment.threads,
        zones.as_ref(),
    )?;
    for d in [&before, &after] {
        if let Some(s) = &d.segmented {
            stats.notes.extend(s.notes.iter().cloned());
        }
    }
    stats.before = before;
    stats.after = after;
    stats.seconds = started.elapsed().as_secs_f64();
    drop(temps);
    Ok(stats)
}

fn check_output(output: &Path, inputs: &[&Option<PathBuf>]) -> Result<()> {
    for i in inputs.iter().filter_map(|p| p.as_ref()) {
        if let (Ok(a), Ok(b)) = (i.canonicalize(), output.canonicalize()) {
            if a == b {
                return Err(Error::output(
                    output,
                    "is one of the inputs; choose another output path so the input is not overwritten",
                ));
            }
        }
    }
    // the folder, before any segmentation writes temporary class maps beside it
    crate::write::check_output(output)
}

/// Segments a date when needed; describes its class map.
fn date_input(
    opts: &ChangeOptions,
    label: &str,
    imagery: &Option<PathBuf>,
    classes: &Option<PathBuf>,
    temps: &mut TempFiles,
) -> Result<DateInput> {
    let describe = |p: &Path| -> Result<RasterInfo> {
        let ds = read::open(p)?;
        read::describe(p, &ds)
    };
    let imagery_info = imagery.as_deref().map(describe).transpose()?;
    if let Some(c) = classes {
        return Ok(DateInput {
            imagery: imagery_info,
            classes: describe(c)?,
            segmented: None,
        });
    }
    let input = imagery.clone().expect("checked by change()");
    let out = match &opts.keep_classes {
        Some(dir) => dir.join(format!("{label}_classes.tif")),
        None => {
            let p = crate::write::temp_beside(&opts.output, &format!("{label}-classes.tif"));
            temps.0.push(p.clone());
            p
        }
    };
    let seg = SegmentOptions {
        input,
        output: out.clone(),
        model: opts.model.clone().expect("checked by change()"),
        ..opts.segment.clone()
    };
    let summary = segment(&seg).map_err(|e| match e {
        Error::Interrupted(_) => Error::Interrupted(opts.output.clone()),
        e => e,
    })?;
    Ok(DateInput {
        imagery: imagery_info,
        classes: describe(&out)?,
        segmented: Some(summary),
    })
}

/// Class names and colours of a class map: its category names and colour table (as
/// terratile's class COGs carry them), and the largest class value present.
struct Legend {
    names: Vec<String>,
    colors: Vec<Option<[u8; 3]>>,
    max_value: Option<f64>,
    min_value: Option<f64>,
}

fn legend_of(path: &Path) -> Result<Legend> {
    let ds = read::open(path)?;
    let _ = ds.geo_transform(); // loads the .aux.xml (PAM), where category names live
    let band = ds
        .rasterband(1)
        .map_err(|e| Error::input(path, gdal_text(&e)))?;
    let mut names = Vec::new();
    // SAFETY: GDAL returns a NULL-terminated list owned by the band, read while it is open.
    unsafe {
        let list = gdal_sys::GDALGetRasterCategoryNames(band.c_rasterband());
        if !list.is_null() {
            let mut i = 0;
            while !(*list.add(i)).is_null() {
                names.push(
                    std::ffi::CStr::from_ptr(*list.add(i))
                        .to_string_lossy()
                        .into_owned(),
                );
                i += 1;
            }
        }
    }
    let mut colors = Vec::new();
    if let Some(ct) = band.color_table() {
        for i in 0..ct.entry_count().min(256) {
            colors.push(ct.entry_as_rgb(i).map(|c| {
                [
                    c.r.clamp(0, 255) as u8,
                    c.g.clamp(0, 255) as u8,
                    c.b.clamp(0, 255) as u8,
                ]
            }));
        }
    }
    let mm = band.compute_raster_min_max(false).ok();
    Ok(Legend {
        names,
        colors,
        max_value: mm.as_ref().map(|m| m.max),
        min_value: mm.as_ref().map(|m| m.min),
    })
}

/// Distinct colours for classes without one.
const PALETTE: [[u8; 3]; 12] = [
    [230, 25, 75],
    [60, 180, 75],
    [255, 225, 25],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [250, 190, 212],
    [0, 128, 128],
    [170, 110, 40],
];

/// Names, colours and count of the classes compared.
fn classes_of(
    before: &RasterInfo,
    after: &RasterInfo,
    notes: &mut Vec<String>,
) -> Result<(Vec<String>, Vec<[u8; 3]>)> {
    let lb = legend_of(&before.path)?;
    let la = legend_of(&after.path)?;
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
                .unwrap_or(PALETTE[i % PALETTE.len()])
        })
        .collect();
    Ok((names, colors))
}

/// Compares two class maps into the change raster `output`.
pub fn compare(
    before: &DateInput,
    after: &DateInput,
    output: &Path,
    tile_px: usize,
    threads: Option<usize>,
    zones: Option<&Zones>,
) -> Result<ChangeStats> {
    let (b, a) = (&before.classes, &after.classes);
    let grid = grid::intersect(b, a)?;
    let resampling = align::choose_resampling(a, &grid)?;
    let mut notes = Vec::new();
    let (class_names, class_colors) = classes_of(b, a, &mut notes)?;
    let n = class_names.len();
    let pixel_area = PixelArea::of_grid(&b.path, &grid.geo_transform, &grid.projection)?;
    let warped = align::warp_onto(a, &grid, resampling)?;
    let after_band = warped
        .vrt
        .rasterband(1)
        .map_err(|e| Error::input(&a.path, gdal_text(&e)))?;
    let before_ds = read::open(&b.path)?;
    let before_band = before_ds
        .rasterband(1)
        .map_err(|e| Error::input(&b.path, gdal_text(&e)))?;
    let before_nodata = before_band.no_data_value();

    let spec = raster::spec(
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
                resampling.name().into(),
            ),
        ],
    );
    let nodata = spec.nodata();
    let mut writer = ClassWriter::create(spec)?;

    let to_wgs84 = {
        let src = grid::srs(&b.path, &grid.projection)?;
        let mut dst = SpatialRef::from_epsg(4326).map_err(|e| Error::Usage(gdal_text(&e)))?;
        dst.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
        CoordTransform::new(&src, &dst).map_err(|e| {
            Error::input(
                &b.path,
                format!(
                    "its CRS cannot be transformed to EPSG:4326 ({})",
                    gdal_text(&e)
                ),
            )
        })?
    };

    let (w, h) = (grid.width_px, grid.height_px);
    let nz = zones.map_or(0, |z| z.len());
    let block_px = w * tile_px.min(h);
    let mut counter = count::Counter::new(n, nz, w, tile_px, nodata);
    let mut tiles = Vec::with_capacity(w.div_ceil(tile_px) * h.div_ceil(tile_px));
    let mut bbuf = vec![0f64; block_px];
    let mut abuf = vec![0u16; block_px];
    let mut codes = vec![0u16; block_px];
    let mut zbuf = vec![0u32; if nz > 0 { block_px } else { 0 }];
    let mut row_area_m2 = Vec::with_capacity(tile_px);
    for (tile_row, y0) in (0..h).step_by(tile_px).enumerate() {
        if crate::segment::cancelled() {
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
            .map_err(|e| {
                Error::input(
                    &b.path,
                    format!("cannot read rows {gy0}..{gy1}: {}", gdal_text(&e)),
                )
            })?;
        after_band
            .read_into_slice::<u16>((0, y0 as isize), (w, bh), (w, bh), ab, None)
            .map_err(|e| {
                Error::input(
                    &a.path,
                    format!(
                        "cannot read (warped) rows {y0}..{}: {}",
                        y0 + bh,
                        gdal_text(&e)
                    ),
                )
            })?;
        if let Some(z) = zones {
            let g = &grid.geo_transform;
            let block_gt = [g[0], g[1], 0.0, g[3] + y0 as f64 * g[5], 0.0, g[5]];
            z.burn(block_gt, &grid.projection, w, bh, &mut zbuf[..len])?;
        }
        row_area_m2.clear();
        row_area_m2.extend((y0..y0 + bh).map(|y| pixel_area.row_m2(y)));
        let block = count::Block {
            width: w,
            before: bb,
            before_nodata,
            after: ab,
            after_nodata: align::WARPED_NODATA,
            zones: if nz > 0 { Some(&zbuf[..len]) } else { None },
            row_area_m2: &row_area_m2,
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
                footprint_lonlat: footprint(&grid.geo_transform, x0, y0, tw, bh, &to_wgs84)
                    .map_err(|e| {
                        Error::input(
                            &b.path,
                            format!(
                                "a tile footprint cannot be transformed to EPSG:4326 ({})",
                                gdal_text(&e)
                            ),
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
        grid,
        resampling,
        class_names,
        class_colors,
        matrix_px,
        matrix_area_m2,
        valid_px,
        valid_area_m2,
        pixel_area_m2: pixel_area.constant_m2(),
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

/// The file a date came from, as the user gave it: the imagery when it was segmented
/// (its class map was temporary), else the class map.
fn shown(d: &DateInput) -> String {
    match (&d.segmented, &d.imagery) {
        (Some(_), Some(i)) => i.path.display().to_string(),
        _ => d.classes.path.display().to_string(),
    }
}

/// A tile's outline (4 points per edge) in lon/lat, counter-clockwise and closed.
fn footprint(
    gt: &[f64; 6],
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
    ct: &CoordTransform,
) -> std::result::Result<Vec<(f64, f64)>, gdal::errors::GdalError> {
    let sub = [
        gt[0] + x0 as f64 * gt[1] + y0 as f64 * gt[2],
        gt[1],
        gt[2],
        gt[3] + x0 as f64 * gt[4] + y0 as f64 * gt[5],
        gt[4],
        gt[5],
    ];
    let (mut xs, mut ys) = grid::outline(&sub, w, h, 4);
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

/// Pixels and area per class of one class map (for `segment --db`), read in row blocks.
pub fn class_areas(path: &Path, classes: usize) -> Result<(Vec<u64>, Vec<f64>, Option<f64>)> {
    let ds: Dataset = read::open(path)?;
    let info = read::describe(path, &ds)?;
    let gt = info.geo_transform.ok_or_else(|| {
        Error::input(
            path,
            "has no geotransform, so pixel areas are unknown; georeference it first",
        )
    })?;
    let pa = PixelArea::of_grid(path, &gt, &info.projection)?;
    let band = ds
        .rasterband(1)
        .map_err(|e| Error::input(path, gdal_text(&e)))?;
    let nd = band.no_data_value();
    let (w, h) = (info.width, info.height);
    let mut px = vec![0u64; classes];
    let mut m2 = vec![0f64; classes];
    let block = 256.min(h.max(1));
    let mut buf = vec![0u16; w * block];
    for y0 in (0..h).step_by(block) {
        let bh = block.min(h - y0);
        band.read_into_slice::<u16>((0, y0 as isize), (w, bh), (w, bh), &mut buf[..w * bh], None)
            .map_err(|e| Error::input(path, gdal_text(&e)))?;
        for r in 0..bh {
            let a = pa.row_m2(y0 + r);
            for &v in &buf[r * w..(r + 1) * w] {
                if nd.is_some_and(|nd| v as f64 == nd) || v as usize >= classes {
                    continue;
                }
                px[v as usize] += 1;
                m2[v as usize] += a;
            }
        }
    }
    Ok((px, m2, pa.constant_m2()))
}
