//! A date series: `terratile change D1 D2 ... Dn` (n > 2, or `--list FILE`).
//!
//! [`series()`] reads as the steps it takes:
//! 1. every date, flag and output path checked before any work ([`check`]); each
//!    date's day read from its metadata or name, or given with `--dates` ([`when`]);
//!    the dates put in time order;
//! 2. the comparison grid: the earliest date's grid restricted to the area every date
//!    covers (the two-date [`super::grid::intersect`], once per date);
//! 3. each date segmented once with the model (or its class map taken as given) by the
//!    two-date code ([`super::dates::date_input`]), then warped onto the comparison grid
//!    ([`super::align`]) into a temporary class map with the series' legend;
//! 4. each interval (date k -> date k + 1) compared by the two-date comparison
//!    ([`super::compare()`]): a change COG per interval with its from-to matrix;
//! 5. [`tally`]: the "last change" raster (the interval in which each pixel last
//!    changed class, 0 = never) and the count of changes, from the interval rasters;
//! 6. every output renamed into place at the end, the main output last: until then
//!    nothing exists at any output path.
//!
//! Outputs for `-o OUT.tif` and n dates: `OUT.tif` the last change (Byte: 0 = no change,
//! k = interval k, nodata 255 where no interval has both dates valid), `OUT_count.tif`
//! the number of intervals in which the pixel changed class (counted over the intervals
//! where both dates are valid), and `OUT_1.tif` ... `OUT_{n-1}.tif` the change of each
//! interval, encoded as the two-date change raster (`from * N + to`).

pub mod tally;
pub mod when;

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::grid::{self, CompareGrid};
use super::stats::{ChangeStats, DateInput};
use super::{align, compare, dates, legend, ChangeOptions};
use crate::cancel;
use crate::error::{Error, GdalContext, Result};
use crate::raster::{open, AreaMethod, ClassMap, RasterInfo};
use crate::stitch::Rows;
use crate::write::output::{
    aux_path, check_writable, refuse_overwriting, remove_stale, stale_note, TempFiles,
};
use crate::write::{style, ClassWriter, OutputSpec};
pub use when::Day;

/// Everything a series run can be told.
#[derive(Debug, Clone, Default)]
pub struct SeriesOptions {
    /// The dates: imagery (segmented with `base.model`) or, with `class_maps`, class maps.
    pub dates: Vec<PathBuf>,
    /// `--list FILE`: more dates, one raster a line (after those in `dates`).
    pub list: Option<PathBuf>,
    /// The dates are class maps, not imagery.
    pub class_maps: bool,
    /// `--dates`: the day of each date (`YYYY-MM-DD,...`), in the order of the dates
    /// (else read from the files, [`when`]).
    pub days: Option<String>,
    /// The model, the output (`-o`, the last-change raster; the others are named after
    /// it), the engine settings, `--keep-classes` and the statistics tiles.
    pub base: ChangeOptions,
}

/// One date of a series, as compared.
#[derive(Debug, Clone)]
pub struct SeriesDate {
    pub day: Day,
    /// Where the day came from (`--dates`, `file name (Landsat scene ID)`, ...).
    pub day_source: String,
    /// The raster given for this date (imagery or class map).
    pub path: PathBuf,
    /// The date as the two-date code describes it (the class map it segmented or read).
    pub input: DateInput,
    /// Pixels and m2 per class on the comparison grid.
    pub class_px: Vec<u64>,
    pub class_area_m2: Vec<f64>,
}

impl SeriesDate {
    pub fn valid_px(&self) -> u64 {
        self.class_px.iter().sum()
    }
    pub fn valid_area_m2(&self) -> f64 {
        self.class_area_m2.iter().sum()
    }
}

/// The files a series writes for `-o OUT.tif`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesOutputs {
    /// `OUT.tif`: the interval of each pixel's last change (0 = none).
    pub last_change: PathBuf,
    /// `OUT_count.tif`: how many intervals changed each pixel.
    pub count: PathBuf,
    /// `OUT_1.tif` ...: the change raster of each interval.
    pub intervals: Vec<PathBuf>,
}

impl SeriesOutputs {
    /// The outputs of a series of `n_dates` dates written for `-o output`.
    pub fn of(output: &Path, n_dates: usize) -> SeriesOutputs {
        let stem = output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = output
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let beside = |suffix: &str| output.with_file_name(format!("{stem}_{suffix}{ext}"));
        SeriesOutputs {
            last_change: output.to_path_buf(),
            count: beside("count"),
            intervals: (1..n_dates.max(1))
                .map(|k| beside(&k.to_string()))
                .collect(),
        }
    }
    /// Every output, the main one last (the order they are published in).
    pub fn all(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.intervals.iter().map(PathBuf::as_path).collect();
        v.push(&self.count);
        v.push(&self.last_change);
        v
    }
}

/// What a series run found.
#[derive(Debug, Clone)]
pub struct SeriesStats {
    /// In time order.
    pub dates: Vec<SeriesDate>,
    /// Interval k (0-based) compares `dates[k]` with `dates[k + 1]`; its `output` is the
    /// published interval raster.
    pub intervals: Vec<ChangeStats>,
    pub outputs: SeriesOutputs,
    pub grid: CompareGrid,
    pub class_names: Vec<String>,
    pub class_colors: Vec<[u8; 3]>,
    pub area_method: AreaMethod,
    /// Pixels (and m2) valid at every date.
    pub valid_px: u64,
    pub valid_area_m2: f64,
    /// `last_change_px[k]`: pixels whose last change was in interval k (0 = never).
    pub last_change_px: Vec<u64>,
    /// `count_px[c]`: pixels that changed class in c intervals.
    pub count_px: Vec<u64>,
    pub seconds: f64,
    pub notes: Vec<String>,
}

impl SeriesStats {
    /// "2008-07-08 -> 2009-07-11": the interval `k` (0-based).
    pub fn interval_label(&self, k: usize) -> String {
        format!("{} -> {}", self.dates[k].day, self.dates[k + 1].day)
    }
}

impl std::fmt::Display for SeriesStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let changed: u64 = self.last_change_px.iter().skip(1).sum();
        let valid: u64 = self.last_change_px.iter().sum();
        writeln!(
            f,
            "{}: {} dates ({} .. {}), {}x{} px, {} classes; {} px changed at least once ({:.1}% of {} px valid in some interval), {:.1} s",
            self.outputs.last_change.display(),
            self.dates.len(),
            self.dates[0].day,
            self.dates[self.dates.len() - 1].day,
            self.grid.width_px(),
            self.grid.height_px(),
            self.class_names.len(),
            changed,
            100.0 * changed as f64 / valid.max(1) as f64,
            valid,
            self.seconds
        )?;
        for (k, s) in self.intervals.iter().enumerate() {
            let (c, _) = s.changed();
            writeln!(
                f,
                "  interval {} ({}): {} valid, {} changed ({:.1}%) -> {}",
                k + 1,
                self.interval_label(k),
                s.valid_px,
                c,
                100.0 * c as f64 / s.valid_px.max(1) as f64,
                s.output.display()
            )?;
        }
        write!(f, "  count of changes: {}", self.outputs.count.display())
    }
}

/// Compares a series of dates interval by interval; returns what it found.
pub fn series(opts: &SeriesOptions) -> Result<SeriesStats> {
    let started = Instant::now();
    let mut opts = opts.clone();
    if let Some(l) = &opts.list {
        opts.dates.extend(read_list(l)?);
    }
    let opts = &opts;
    let given_days = opts.days.as_deref().map(when::parse_list).transpose()?;
    let outputs = SeriesOutputs::of(&opts.base.output, opts.dates.len());
    // 1. every input, flag and output before any work; the days, in time order
    check(opts, given_days.as_deref(), &outputs)?;
    let mut notes = Vec::new();
    for o in outputs.all() {
        notes.extend(stale_note(o, &remove_stale(o)));
    }
    let order = days(opts, given_days.as_deref())?;
    if order.iter().enumerate().any(|(i, d)| d.0 != i) {
        notes.push("the dates were put in time order".into());
    }
    // 2. no overlap is found before any date is segmented, naming the files given
    let infos: Vec<RasterInfo> = order
        .iter()
        .map(|(i, _, _)| RasterInfo::open(&opts.dates[*i]))
        .collect::<Result<_>>()?;
    common_grid(&infos)?;
    // 3. each date as a class map, then aligned on the comparison grid
    let temps = TempFiles::beside(&opts.base.output);
    let mut inputs = Vec::with_capacity(order.len());
    for (i, day, _) in &order {
        if cancel::requested() {
            return Err(Error::Interrupted(opts.base.output.clone()));
        }
        let p = Some(opts.dates[*i].clone());
        let (imagery, classes) = if opts.class_maps {
            (None, p)
        } else {
            (p, None)
        };
        let d = dates::date_input(&opts.base, &day.to_string(), &imagery, &classes, &temps)?;
        if let Some(s) = &d.segmented {
            notes.extend(s.notes.iter().cloned());
        }
        inputs.push(d);
    }
    let class_infos: Vec<RasterInfo> = inputs.iter().map(|d| d.classes.clone()).collect();
    let grid = common_grid(&class_infos)?;
    let (class_names, class_colors) = series_legend(&class_infos)?;
    let threads = opts.base.segment.threads;
    let mut aligned = Vec::with_capacity(inputs.len());
    for (k, d) in inputs.iter().enumerate() {
        let out = temps.path(&format!("date{}.tif", k + 1));
        let resampling = align_onto(
            &d.classes,
            &grid,
            &class_names,
            &class_colors,
            &out,
            threads,
        )?;
        if resampling == crate::raster::Resampling::Mode {
            notes.push(format!(
                "{} has finer pixels than the comparison grid: its classes were resampled by mode",
                d.classes.path.display()
            ));
        }
        aligned.push(out);
    }
    let n = class_names.len();
    let mut series_dates = Vec::with_capacity(inputs.len());
    let mut area_method = None;
    for ((((i, day, source), input), a), _) in order.iter().zip(&inputs).zip(&aligned).zip(0..) {
        let areas = ClassMap::open(a)?.class_areas(n)?;
        area_method = Some(areas.method);
        series_dates.push(SeriesDate {
            day: *day,
            day_source: source.clone(),
            path: opts.dates[*i].clone(),
            input: input.clone(),
            class_px: areas.pixels,
            class_area_m2: areas.area_m2,
        });
    }
    // 4. interval by interval, with the two-date comparison
    let interval_tmp: Vec<PathBuf> = (1..aligned.len())
        .map(|k| temps.path(&format!("interval{k}.tif")))
        .collect();
    let mut intervals = Vec::with_capacity(interval_tmp.len());
    for k in 0..interval_tmp.len() {
        if cancel::requested() {
            return Err(Error::Interrupted(opts.base.output.clone()));
        }
        let iopts = ChangeOptions {
            before: None,
            after: None,
            before_classes: Some(aligned[k].clone()),
            after_classes: Some(aligned[k + 1].clone()),
            output: interval_tmp[k].clone(),
            keep_classes: None,
            zones: None,
            zone_field: None,
            class_map: None,
            ..opts.base.clone()
        };
        let as_date = |j: usize| -> Result<DateInput> {
            Ok(DateInput {
                imagery: None,
                classes: RasterInfo::open(&aligned[j])?,
                segmented: None,
                shown_as: Some(series_dates[j].path.clone()),
            })
        };
        let mut st = compare(&as_date(k)?, &as_date(k + 1)?, &iopts, None)?;
        st.before = series_dates[k].input.clone();
        st.after = series_dates[k + 1].input.clone();
        st.output = outputs.intervals[k].clone();
        intervals.push(st);
    }
    // 5. last change and count of changes
    let labels: Vec<String> = (0..intervals.len())
        .map(|k| format!("{} -> {}", series_dates[k].day, series_dates[k + 1].day))
        .collect();
    let (last_tmp, count_tmp) = (temps.path("last.tif"), temps.path("count.tif"));
    let t = tally::tally(
        &interval_tmp,
        n,
        &grid,
        &labels,
        (&last_tmp, &count_tmp),
        threads,
        &opts.base.segment.publish,
    )?;
    // 6. everything into place, the main output last
    if cancel::requested() {
        return Err(Error::Interrupted(opts.base.output.clone()));
    }
    for (tmp, out) in interval_tmp.iter().zip(&outputs.intervals).chain([
        (&count_tmp, &outputs.count),
        (&last_tmp, &outputs.last_change),
    ]) {
        publish(tmp, out)?;
    }
    Ok(SeriesStats {
        dates: series_dates,
        intervals,
        outputs,
        grid,
        class_names,
        class_colors,
        area_method: area_method.unwrap_or(AreaMethod::EllipsoidalRows),
        valid_px: t.valid_all_px,
        valid_area_m2: t.valid_all_m2,
        last_change_px: t.last_change_px,
        count_px: t.count_px,
        seconds: started.elapsed().as_secs_f64(),
        notes,
    })
}

/// `--list FILE`: one raster a line; blank lines and `#` comments are skipped; relative
/// paths are relative to the list's folder.
pub fn read_list(list: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(list).map_err(|e| {
        Error::input(
            list,
            format!(
                "cannot be read as a list of dates ({e}); pass a text file with one raster a line"
            ),
        )
        .caused_by(e)
    })?;
    let folder = crate::write::output::folder_of(list);
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let p = PathBuf::from(l);
            if p.is_absolute() {
                p
            } else {
                folder.join(p)
            }
        })
        .collect())
}

/// Checks the dates, the flags and every output path before any work.
fn check(opts: &SeriesOptions, given_days: Option<&[Day]>, outputs: &SeriesOutputs) -> Result<()> {
    let n = opts.dates.len();
    if n < 2 {
        return Err(Error::Usage(format!(
            "a date series needs at least 2 dates, got {n}; pass D1 D2 ... or --list FILE (one raster a line)"
        )));
    }
    if let Some(days) = given_days {
        if days.len() != n {
            return Err(Error::Usage(format!(
                "--dates gives {} dates for {n} rasters; give one date per raster, in the same order",
                days.len()
            )));
        }
    }
    let b = &opts.base;
    if b.stats_tile_px == 0 {
        return Err(Error::Usage("--stats-tile must be at least 1 pixel".into()));
    }
    let unsupported = [
        (b.before_classes.is_some(), "--before-classes"),
        (b.after_classes.is_some(), "--after-classes"),
        (b.zones.is_some(), "--zones"),
        (b.class_map.is_some(), "--class-map"),
        (b.change_model.is_some(), "--change-model"),
        (b.polygons.is_set(), "--vector/--min-area"),
    ];
    if let Some((_, flag)) = unsupported.iter().find(|u| u.0) {
        return Err(Error::Usage(format!(
            "{flag} is for two dates; a series of {n} dates takes its class maps with --class-maps D1 D2 ... (and no zones or class mapping yet)"
        )));
    }
    for (i, p) in opts.dates.iter().enumerate() {
        drop(open(p)?);
        let c = p.canonicalize().ok();
        if let Some(j) = opts.dates[..i]
            .iter()
            .position(|q| q == p || (c.is_some() && q.canonicalize().ok() == c))
        {
            return Err(Error::input(
                p,
                format!(
                    "is given twice (dates {} and {}); each date of a series is a different raster",
                    j + 1,
                    i + 1
                ),
            ));
        }
    }
    if !opts.class_maps {
        match &b.model {
            None => {
                return Err(Error::Usage(format!(
                    "the dates ({} ...) are imagery and need a model to segment them: pass -m MODEL.onnx, or --class-maps when they are class maps",
                    opts.dates[0].display()
                )))
            }
            Some(m) if !m.exists() => {
                return Err(Error::model(m, "no such file; check the model path"))
            }
            _ => {}
        }
    }
    let inputs: Vec<&Path> = opts.dates.iter().map(PathBuf::as_path).collect();
    let models: Vec<&Path> = [&b.model, &b.segment.mask_model]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    for o in outputs.all() {
        refuse_overwriting(o, &inputs, "one of the dates")?;
        refuse_overwriting(o, &models, "the model")?;
        check_writable(o)?;
        b.segment.publish.check(o)?;
    }
    if let Some(d) = &b.keep_classes {
        if !d.is_dir() {
            return Err(Error::output(
                d,
                "is not a folder; create it or choose another --keep-classes folder",
            ));
        }
    }
    Ok(())
}

/// The day of each date, in time order: (index into `opts.dates`, day, where it came
/// from). Two dates on the same day are refused.
fn days(opts: &SeriesOptions, given_days: Option<&[Day]>) -> Result<Vec<(usize, Day, String)>> {
    let mut v: Vec<(usize, Day, String)> = Vec::with_capacity(opts.dates.len());
    for (i, p) in opts.dates.iter().enumerate() {
        let (day, source) = match given_days {
            Some(d) => (d[i], "--dates".to_string()),
            None => when::date_of(p)?.ok_or_else(|| {
                Error::input(
                    p,
                    "holds no acquisition date (no ACQUISITIONDATETIME or TIFFTAG_DATETIME in its metadata, no Landsat scene ID or YYYY-MM-DD in its name); pass the dates with --dates 2008-07-08,2009-07-11,...",
                )
            })?,
        };
        if let Some((j, _, _)) = v.iter().find(|(_, d, _): &&(usize, Day, String)| *d == day) {
            return Err(Error::input(
                p,
                format!(
                    "is dated {day} ({source}), the same day as {}; a series takes one raster per date: drop one, or set the dates with --dates",
                    opts.dates[*j].display()
                ),
            ));
        }
        v.push((i, day, source));
    }
    v.sort_by_key(|(_, d, _)| *d);
    if let Some(cp) = opts.base.keep_classes.as_deref() {
        for (_, d, _) in &v {
            let kept = dates::kept_path(cp, &d.to_string());
            let inputs: Vec<&Path> = opts.dates.iter().map(PathBuf::as_path).collect();
            refuse_overwriting(&kept, &inputs, "one of the dates")?;
        }
    }
    Ok(v)
}

/// The first date's grid restricted to the area every date covers.
fn common_grid(infos: &[RasterInfo]) -> Result<CompareGrid> {
    let first = &infos[0];
    let (mut x0, mut y0) = (0usize, 0usize);
    let (mut x1, mut y1) = (first.grid.width_px, first.grid.height_px);
    for o in &infos[1..] {
        let g = grid::intersect(first, o)?;
        x0 = x0.max(g.x0_px);
        y0 = y0.max(g.y0_px);
        x1 = x1.min(g.x0_px + g.width_px());
        y1 = y1.min(g.y0_px + g.height_px());
        if x1 <= x0 || y1 <= y0 {
            return Err(Error::mismatch(
                &o.path,
                format!(
                    "has no area in common with the dates before it (from {}), and a series is compared where every date has data; drop it or pass dates of the same place",
                    first.path.display()
                ),
            ));
        }
    }
    Ok(CompareGrid {
        x0_px: x0,
        y0_px: y0,
        grid: first.grid.window(x0, y0, x1 - x0, y1 - y0),
    })
}

/// The classes of the series: every date's legend must agree with the first date's
/// (as for two dates); names and colours from the first that has them.
fn series_legend(classes: &[RasterInfo]) -> Result<(Vec<String>, Vec<[u8; 3]>)> {
    let mut best: (Vec<String>, Vec<[u8; 3]>) = (Vec::new(), Vec::new());
    for c in &classes[1..] {
        let (names, colors) = legend::classes_of(&classes[0], c, None)?;
        if names.len() > best.0.len() {
            best = (names, colors);
        }
    }
    Ok(best)
}

/// Warps a date's class map onto the comparison grid into a temporary class map `out`
/// with the series' legend; returns the resampling used.
fn align_onto(
    classes: &RasterInfo,
    grid: &CompareGrid,
    names: &[String],
    colors: &[[u8; 3]],
    out: &Path,
    threads: Option<usize>,
) -> Result<crate::raster::Resampling> {
    let resampling = align::choose_resampling(classes, grid)?;
    let warped = align::warp_onto(classes, grid, resampling)?;
    let band = warped
        .vrt
        .rasterband(1)
        .gdal_err(|t| Error::input(&classes.path, t))?;
    let spec = OutputSpec {
        path: out.to_path_buf(),
        grid: grid.grid.clone(),
        class_names: names.to_vec(),
        class_colors: colors.to_vec(),
        confidence: false,
        threads: threads.unwrap_or(1),
        metadata: Vec::new(),
        publish: Default::default(),
        overviews: false,
    };
    let nodata = spec.nodata();
    let n = names.len();
    let mut writer = ClassWriter::create(spec)?;
    let (w, h) = (grid.width_px(), grid.height_px());
    let block = 256.min(h);
    let mut buf = vec![0u16; w * block];
    let mut counts = vec![0u64; n];
    for y0 in (0..h).step_by(block) {
        let bh = block.min(h - y0);
        let b = &mut buf[..w * bh];
        band.read_into_slice::<u16>((0, y0 as isize), (w, bh), (w, bh), b, None)
            .gdal_err(|t| {
                Error::input(
                    &classes.path,
                    format!("cannot read (warped) rows {y0}..{}: {t}", y0 + bh),
                )
            })?;
        for (k, v) in b.iter_mut().enumerate() {
            if *v == align::WARPED_NODATA {
                *v = nodata;
            } else if (*v as usize) < n {
                counts[*v as usize] += 1;
            } else {
                return Err(Error::input(
                    &classes.path,
                    format!(
                        "holds the value {} at comparison pixel x={} y={}, which is neither nodata nor a class index 0..{}; pass class maps (terratile segment's output) with nodata set",
                        *v,
                        k % w,
                        y0 + k / w,
                        n - 1
                    ),
                ));
            }
        }
        writer.write_rows(&Rows {
            y0,
            h: bh,
            width: w,
            classes: b.to_vec(),
            confidence: None,
            class_counts: Vec::new(),
        })?;
    }
    writer.finish_plain(&counts)?;
    Ok(resampling)
}

/// Moves a finished temporary raster and its companions (the QGIS style, the
/// `.aux.xml`) to `out`: the companions first, the raster last.
fn publish(tmp: &Path, out: &Path) -> Result<()> {
    let io = |what: &str, e: std::io::Error| {
        Error::output(out, format!("cannot {what}: {e}")).caused_by(e)
    };
    let (tq, oq) = (style::qml_path(tmp), style::qml_path(out));
    if tq.exists() {
        std::fs::rename(&tq, &oq).map_err(|e| io("move the .qml style into place", e))?;
    }
    let (ta, oa) = (aux_path(tmp), aux_path(out));
    if ta.exists() {
        std::fs::rename(&ta, &oa).map_err(|e| io("move the .aux.xml into place", e))?;
    } else if oa.exists() {
        std::fs::remove_file(&oa).map_err(|e| io("remove the old .aux.xml", e))?;
    }
    std::fs::rename(tmp, out).map_err(|e| io("move the raster into place", e))
}
