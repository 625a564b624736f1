//! Command-line flags, mapped onto the library's option structs. Nothing else.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use terratile::change::series::SeriesOptions;
use terratile::change::{ChangeOptions, ClassMapping};
use terratile::commands::inspect::InspectOptions;
use terratile::infer::Device;
use terratile::prepare::BandSpec;
use terratile::stitch::Blend;
use terratile::store::report::AreaUnit;
use terratile::vector::{Connectivity, PolygonOptions};
use terratile::write::{Format, Publish};
use terratile::SegmentOptions;

#[derive(Debug, Parser)]
#[command(
    name = "terratile",
    version,
    about = "Land-cover maps from very large rasters with ONNX segmentation models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// parsed once per process: the size of the largest flag set does not matter
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Segment a raster with an ONNX model into a class-map COG.
    Segment(SegmentArgs),
    /// Compare two dates: a change-raster COG and from-to statistics (optionally in SQLite).
    Change(ChangeArgs),
    /// Polygons of a class map you have (GeoTIFF, COG, ...) into a GeoPackage: class,
    /// class name, area (m2) and perimeter (m) per polygon.
    Polygons(PolygonsArgs),
    /// Print a run's class areas and transition matrix from a statistics database.
    Report(ReportArgs),
    /// Describe a model: inputs, outputs, classes, bands, resolution, tile size; with
    /// --raster, whether that raster can feed it and how its bands map.
    Inspect(InspectArgs),
    /// Jobs over many scenes: plan items (scenes, row-band shards of tall ones), run them
    /// by index (Slurm, Kubernetes, AWS Batch arrays) or all here, merge, status.
    #[command(subcommand)]
    Job(JobCommand),
    /// Shell completions (bash, zsh, fish, ...) on stdout, or with --out-dir every
    /// shell's completions and the man pages written into a folder.
    Completions(CompletionsArgs),
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to print completions for
    #[arg(value_enum, required_unless_present = "out_dir")]
    pub shell: Option<clap_complete::Shell>,
    /// Write terratile.bash, _terratile (zsh), terratile.fish and man1/terratile*.1 here
    #[arg(long, value_name = "DIR", conflicts_with = "shell")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Cloud Optimized GeoTIFF (tiled, overviews)
    #[value(name = "COG", alias = "cog")]
    Cog,
    /// Plain tiled GeoTIFF, no overviews
    #[value(name = "GTiff", alias = "gtiff")]
    GTiff,
}

/// The output raster's format and creation options, as in GDAL's programs.
#[derive(Debug, clap::Args)]
pub struct FormatArgs {
    /// Output format
    #[arg(long = "of", value_enum, value_name = "FORMAT", default_value = "COG")]
    pub format: FormatArg,
    /// A GDAL creation option for the output driver, KEY=VALUE (repeatable); it replaces
    /// the default of the same key. Defaults for COG: COMPRESS=DEFLATE (LEVEL 6),
    /// BLOCKSIZE=512, OVERVIEW_RESAMPLING=MODE, BIGTIFF=IF_SAFER, NUM_THREADS=--threads
    /// (one fewer for a segment map up to 8 MiB, written while the model is freed);
    /// for GTiff: TILED=YES, BLOCKXSIZE=512, BLOCKYSIZE=512, COMPRESS=DEFLATE,
    /// BIGTIFF=IF_SAFER, NUM_THREADS=--threads
    #[arg(long = "co", value_name = "KEY=VALUE")]
    pub creation_options: Vec<String>,
}

impl FormatArgs {
    pub fn to_publish(&self) -> Publish {
        Publish {
            format: match self.format {
                FormatArg::Cog => Format::Cog,
                FormatArg::GTiff => Format::GTiff,
            },
            creation_options: self.creation_options.clone(),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// ONNX segmentation model
    pub model: PathBuf,
    /// A raster to check against the model
    #[arg(long, value_name = "INPUT")]
    pub raster: Option<PathBuf>,
    /// Bands to try (same forms as segment --bands)
    #[arg(long, value_name = "LIST", requires = "raster")]
    pub bands: Option<BandSpec>,
    /// The model output to read (as segment --output-name)
    #[arg(long, value_name = "NAME")]
    pub output_name: Option<String>,
    /// Tile side to plan (as segment --tile)
    #[arg(long, value_name = "PX")]
    pub tile: Option<usize>,
    #[command(flatten)]
    pub values: ValueArgs,
    /// ONNX Runtime library (else ORT_DYLIB_PATH, the project's cache, the system path)
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
}

impl InspectArgs {
    pub fn to_options(&self) -> InspectOptions {
        InspectOptions {
            model: self.model.clone(),
            raster: self.raster.clone(),
            bands: self.bands.clone(),
            output_name: self.output_name.clone(),
            tile_px: self.tile,
            scale: self.values.scale,
            offset: self.values.offset,
            src_nodata: self.values.src_nodata.clone(),
            ort_lib: self.ort_lib.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BlendArg {
    /// Hann-window weighted average of probabilities (seam-free)
    Hann,
    /// plain centre-crop: each pixel from the one tile whose core holds it
    Center,
}

/// What the input's values mean: shared by `segment`, `change` and `inspect`.
#[derive(Debug, clap::Args)]
pub struct ValueArgs {
    /// Input scaling: the model sees raw x SCALE + OFFSET, then its standardisation
    /// [default: the model's input_scale]
    #[arg(long, value_name = "SCALE", allow_negative_numbers = true)]
    pub scale: Option<f32>,
    /// Added after --scale [default: the model's input_offset]
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    pub offset: Option<f32>,
    /// Input values that are no data, in place of the raster's own nodata (as gdalwarp
    /// -srcnodata): one value for every band, or a comma list, one per band
    #[arg(
        long,
        value_name = "VALUE",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub src_nodata: Option<Vec<f64>>,
}

/// How the engine segments imagery: shared by `segment` and `change`.
#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// Tile side in pixels [default: the model's fixed input, its metadata, else 512]
    #[arg(long, value_name = "PX")]
    pub tile: Option<usize>,
    /// Pixels shared by neighbouring tiles [default: the model's metadata, else tile/4]
    #[arg(long, value_name = "PX")]
    pub overlap: Option<usize>,
    /// Pixels along shared tile edges that get no weight [default: overlap/8; overlap/4
    /// for models that declare a size_multiple or output_stride]
    #[arg(long, value_name = "PX")]
    pub margin: Option<usize>,
    /// Tiles per inference call [default: the model's fixed batch, else 4]
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// The model output to read when it has several [default: the sidecar's
    /// output_name, the mask-classification pair, else the first output]
    #[arg(long, value_name = "NAME")]
    pub output_name: Option<String>,
    /// Raster bands feeding the model's channels: numbers (1,2,3,4), names matched
    /// against the band descriptions (B02,B03,B04,B08), or a sensor preset
    /// (s2:B02,B03,B04,B08, l8:blue,green,red,nir; presets s2, s2l2a, l5, l7, l8, l9)
    /// [default: the model sidecar's band_indices, else its band names in the band
    /// descriptions, else the first bands]
    #[arg(long, value_name = "LIST")]
    pub bands: Option<BandSpec>,
    /// Thread budget [default: all cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Execution provider
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// How overlapping tiles are combined
    #[arg(long, value_enum, default_value = "hann")]
    pub blend: BlendArg,
    /// Test-time augmentation: average the model over the 8 flips and rotations of
    /// every tile (8x the inference time)
    #[arg(long)]
    pub tta: bool,
    /// A second model whose classes mask the output, e.g. the ukis-csmask cloud/shadow
    /// U-Net: pixels it puts in --mask-classes become nodata
    #[arg(long, value_name = "MODEL", requires = "mask_classes")]
    pub mask_model: Option<PathBuf>,
    /// The mask model's classes (0-based) that become nodata, e.g. 1,2 (cloud, shadow)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        requires = "mask_model"
    )]
    pub mask_classes: Option<Vec<u32>>,
    /// Bands feeding the mask model (same forms as --bands)
    #[arg(long, value_name = "LIST", requires = "mask_model")]
    pub mask_bands: Option<BandSpec>,
    /// Feed the raster's own pixels even when the model declares another resolution
    #[arg(long)]
    pub no_resample: bool,
    /// Resample to the model's resolution even when that makes more than 64x the
    /// input's pixels (8x finer on each side)
    #[arg(long, conflicts_with = "no_resample")]
    pub force: bool,
    #[command(flatten)]
    pub values: ValueArgs,
    /// Memory for the stitcher's rows and the tiles in flight (2G, 512M, or bytes); a
    /// raster too wide for it is walked in column stripes, with the same result, and a
    /// model with dynamic H/W and no tile size of its own gets the tile that fits best
    /// [default: 2G]
    #[arg(long, value_name = "SIZE", value_parser = terratile::segment::plan::parse_size)]
    pub memory_budget: Option<u64>,
    /// Run even when the class map, uncompressed, exceeds the output folder's free space
    #[arg(long)]
    pub no_space_check: bool,
    /// No progress bar and no summary line
    #[arg(short, long)]
    pub quiet: bool,
    /// ONNX Runtime library (else ORT_DYLIB_PATH, the project's cache, the system path)
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
}

impl EngineArgs {
    /// The engine's part of [`SegmentOptions`]; input, model and output are left empty.
    pub fn to_options(&self, stderr_is_terminal: bool) -> SegmentOptions {
        SegmentOptions {
            tile_px: self.tile,
            overlap_px: self.overlap,
            margin_px: self.margin,
            batch: self.batch,
            output_name: self.output_name.clone(),
            bands: self.bands.clone(),
            threads: self.threads,
            device: match self.device {
                DeviceArg::Cpu => Device::Cpu,
                DeviceArg::Cuda => Device::Cuda,
            },
            blend: match self.blend {
                BlendArg::Hann => Blend::Hann,
                BlendArg::Center => Blend::Centre,
            },
            progress: stderr_is_terminal && !self.quiet,
            ort_lib: self.ort_lib.clone(),
            tta: self.tta,
            mask_model: self.mask_model.clone(),
            mask_classes: self.mask_classes.clone().unwrap_or_default(),
            mask_bands: self.mask_bands.clone(),
            no_resample: self.no_resample,
            force: self.force,
            scale: self.values.scale,
            offset: self.values.offset,
            src_nodata: self.values.src_nodata.clone(),
            memory_budget: self.memory_budget,
            no_space_check: self.no_space_check,
            ..SegmentOptions::default()
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct SegmentArgs {
    /// Input raster: anything GDAL opens (GeoTIFF, COG, VRT, ...)
    pub input: PathBuf,
    /// ONNX segmentation model (metadata from its metadata_props and MODEL.onnx.json)
    #[arg(short, long)]
    pub model: PathBuf,
    /// Output class map (Cloud Optimized GeoTIFF)
    #[arg(short, long)]
    pub output: PathBuf,
    /// Add a second band: the winning class probability x 100
    #[arg(long)]
    pub confidence: bool,
    /// When the input is resampled to the model's resolution, write the output on that
    /// grid instead of the input's
    #[arg(long, conflicts_with = "no_resample")]
    pub model_grid: bool,
    /// Log the run and its per-class areas to this SQLite/GeoPackage database
    #[arg(long, value_name = "STATS.sqlite")]
    pub db: Option<PathBuf>,
    /// Only these output rows, START..END (a row-band shard): the tile grid stays the
    /// whole raster's, so shards put together equal one run pixel for pixel
    #[arg(long, value_name = "START..END", value_parser = parse_rows)]
    pub rows: Option<std::ops::Range<usize>>,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub polygons: PolygonArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `START..END` (or `START:END`) as a range of rows.
fn parse_rows(s: &str) -> Result<std::ops::Range<usize>, String> {
    let (a, b) = s
        .split_once("..")
        .or_else(|| s.split_once(':'))
        .ok_or_else(|| format!("{s:?}: give START..END, e.g. 0..512"))?;
    let n = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("{s:?}: give START..END with whole numbers, e.g. 0..512"))
    };
    Ok(n(a)?..n(b)?)
}

impl SegmentArgs {
    pub fn to_options(&self, stderr_is_terminal: bool) -> SegmentOptions {
        SegmentOptions {
            input: self.input.clone(),
            model: self.model.clone(),
            output: self.output.clone(),
            confidence: self.confidence,
            model_grid: self.model_grid,
            publish: self.format.to_publish(),
            polygons: self.polygons.to_options(),
            rows: self.rows.clone(),
            ..self.engine.to_options(stderr_is_terminal)
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// Imagery of the first date (not needed with --before-classes)
    pub before: Option<PathBuf>,
    /// Imagery of the second date (not needed with --after-classes)
    pub after: Option<PathBuf>,
    /// More dates: three or more make a date series, compared interval by interval
    /// (-o OUT.tif is then the last-change raster, beside it OUT_count.tif and
    /// OUT_1.tif ... one change raster per interval)
    pub more: Vec<PathBuf>,
    /// A date series listed in a file, one raster a line (after any given above)
    #[arg(long, value_name = "FILE")]
    pub list: Option<PathBuf>,
    /// The day of each date of a series, in the order given [default: each file's
    /// ACQUISITIONDATETIME, a Landsat scene ID or YYYY-MM-DD in its name, TIFFTAG_DATETIME]
    #[arg(long, value_name = "YYYY-MM-DD,...")]
    pub dates: Option<String>,
    /// The dates given are class maps, not imagery (no model needed)
    #[arg(long)]
    pub class_maps: bool,
    /// ONNX segmentation model for the imagery
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// Output change raster (COG): value = from * N + to, N = number of classes
    #[arg(short, long)]
    pub output: PathBuf,
    /// Log the run and its statistics to this SQLite/GeoPackage database
    #[arg(long, value_name = "STATS.sqlite")]
    pub db: Option<PathBuf>,
    /// Precomputed class map of the first date (skips the model for it)
    #[arg(long, value_name = "B.tif")]
    pub before_classes: Option<PathBuf>,
    /// Precomputed class map of the second date (skips the model for it)
    #[arg(long, value_name = "A.tif")]
    pub after_classes: Option<PathBuf>,
    /// Keep the class maps of segmented dates in this folder (before_classes.tif, after_classes.tif)
    #[arg(long, value_name = "DIR")]
    pub keep_classes: Option<PathBuf>,
    /// Polygons (GeoPackage, GeoJSON, Shapefile, ...) for per-zone statistics
    #[arg(long, value_name = "ZONES.gpkg")]
    pub zones: Option<PathBuf>,
    /// The zones' attribute that names them [default: the feature id]
    #[arg(long, value_name = "NAME")]
    pub zone_field: Option<String>,
    /// Recode AFTER's class values onto BEFORE's classes (FROM:TO,..., or a file of such
    /// pairs), to compare maps whose legends differ; every AFTER value must be listed
    #[arg(long, value_name = "FROM:TO,...|FILE")]
    pub class_map: Option<ClassMapping>,
    /// Side of the statistics tiles (the GeoPackage layer) in pixels
    #[arg(long, value_name = "PX", default_value = "256")]
    pub stats_tile: usize,
    /// A change model that sees both dates at once (two inputs, the dates' bands stacked,
    /// or [N,2,C,H,W]): its change classes are written, tiled and blended, in place of
    /// comparing two class maps
    #[arg(long, value_name = "M.onnx", conflicts_with_all = ["model", "before_classes", "after_classes"])]
    pub change_model: Option<PathBuf>,
    /// With --change-model: add a second band, the winning class probability x 100
    #[arg(long, requires = "change_model")]
    pub confidence: bool,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub polygons: PolygonArgs,
    /// How each date is segmented (the mask model runs over each date; its masked
    /// pixels drop out of the comparison)
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl ChangeArgs {
    /// The date series these flags ask for: more than two dates, `--list` or
    /// `--dates`; None for the two-date comparison (two dates with `--class-maps` are
    /// the two class maps).
    pub fn to_series(&self, stderr_is_terminal: bool) -> Option<SeriesOptions> {
        let dates: Vec<PathBuf> = [&self.before, &self.after]
            .into_iter()
            .flatten()
            .chain(&self.more)
            .cloned()
            .collect();
        if dates.len() <= 2 && self.list.is_none() && self.dates.is_none() {
            return None;
        }
        Some(SeriesOptions {
            dates,
            list: self.list.clone(),
            class_maps: self.class_maps,
            days: self.dates.clone(),
            base: self.to_options_as_given(stderr_is_terminal),
        })
    }

    pub fn to_options(&self, stderr_is_terminal: bool) -> ChangeOptions {
        if self.class_maps && self.before_classes.is_none() && self.after_classes.is_none() {
            // two class maps given as the dates
            let mut o = self.to_options_as_given(stderr_is_terminal);
            o.before_classes = o.before.take();
            o.after_classes = o.after.take();
            return o;
        }
        self.to_options_as_given(stderr_is_terminal)
    }

    fn to_options_as_given(&self, stderr_is_terminal: bool) -> ChangeOptions {
        ChangeOptions {
            before: self.before.clone(),
            after: self.after.clone(),
            model: self.model.clone(),
            before_classes: self.before_classes.clone(),
            after_classes: self.after_classes.clone(),
            output: self.output.clone(),
            keep_classes: self.keep_classes.clone(),
            stats_tile_px: self.stats_tile,
            zones: self.zones.clone(),
            zone_field: self.zone_field.clone(),
            class_map: self.class_map.clone(),
            change_model: self.change_model.clone(),
            polygons: self.polygons.to_options(),
            segment: SegmentOptions {
                publish: self.format.to_publish(),
                confidence: self.confidence,
                ..self.engine.to_options(stderr_is_terminal)
            },
        }
    }
}

/// Polygons of the written class map: shared by `segment` and `change`.
#[derive(Debug, clap::Args)]
pub struct PolygonArgs {
    /// Also write the final class map as polygons to this GeoPackage (layer "polygons":
    /// class, class_name, area_m2, perimeter_m; change maps add from_class, to_class),
    /// traced from the whole stitched raster, so no tile grid shows
    #[arg(long, value_name = "OUT.gpkg")]
    pub vector: Option<PathBuf>,
    #[command(flatten)]
    pub shape: ShapeArgs,
}

impl PolygonArgs {
    pub fn to_options(&self) -> PolygonOptions {
        self.shape.to_options(self.vector.clone())
    }
}

impl ShapeArgs {
    pub fn to_options(&self, vector: Option<PathBuf>) -> PolygonOptions {
        PolygonOptions {
            vector,
            min_area_m2: self.min_area,
            simplify: self.simplify,
            connectivity: if self.connectivity == 8 {
                Connectivity::Eight
            } else {
                Connectivity::Four
            },
        }
    }
}

/// How patches become polygons: shared by `--vector` and `polygons`.
#[derive(Debug, clap::Args)]
pub struct ShapeArgs {
    /// Remove patches smaller than this ground area in m2 first (GDAL's sieve: they join
    /// their largest neighbour). On segment and change the written raster is the sieved
    /// one, so raster and polygons agree
    #[arg(long, value_name = "M2")]
    pub min_area: Option<f64>,
    /// Simplify the polygons' borders (Douglas-Peucker, tolerance in the map's CRS
    /// units), each border between two polygons once, so neighbours stay without gaps
    #[arg(long, value_name = "TOLERANCE")]
    pub simplify: Option<f64>,
    /// Pixels touching only at a corner: 4 = separate patches (valid polygons), 8 = one
    #[arg(long, value_name = "4|8", default_value = "4", value_parser = clap::builder::TypedValueParser::map(clap::builder::PossibleValuesParser::new(["4", "8"]), |s| s.parse::<u8>().unwrap_or(4)))]
    pub connectivity: u8,
}

#[derive(Debug, clap::Args)]
pub struct PolygonsArgs {
    /// The class map (band 1; category names give the class names)
    pub classes: PathBuf,
    /// The GeoPackage to write
    #[arg(short, long, value_name = "OUT.gpkg")]
    pub output: PathBuf,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// No summary line
    #[arg(short, long)]
    pub quiet: bool,
}

impl PolygonsArgs {
    pub fn to_options(&self) -> PolygonOptions {
        self.shape.to_options(Some(self.output.clone()))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The statistics database written by `change --db` or `segment --db`
    #[arg(long, value_name = "STATS.sqlite")]
    pub db: PathBuf,
    /// Run id [default: the latest run]
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// Unit of the areas in the table (JSON and CSV carry m2 and ha)
    #[arg(long, value_enum, default_value = "ha")]
    pub units: UnitsArg,
    /// Also draw the run as a chart (PNG): class areas by date and the largest changes
    #[arg(long, value_name = "CHART.png")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitsArg {
    /// hectares
    Ha,
    /// square kilometres
    Km2,
    /// square metres
    M2,
}

impl From<UnitsArg> for AreaUnit {
    fn from(u: UnitsArg) -> AreaUnit {
        match u {
            UnitsArg::Ha => AreaUnit::Ha,
            UnitsArg::Km2 => AreaUnit::Km2,
            UnitsArg::M2 => AreaUnit::M2,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Write a job file: one item per scene, row-band shards of scenes taller than
    /// --shard-rows, every item with the same segment settings
    Plan(Box<JobPlanArgs>),
    /// Run one item (--index N, or the array index of Slurm, a Kubernetes Indexed Job or
    /// AWS Batch from the environment), or every item here (--all); done items are skipped
    Run(JobRunArgs),
    /// Shards -> one class map per scene; a VRT, a STAC ItemCollection and the
    /// statistics database over all scenes
    Merge(JobMergeArgs),
    /// Every item: done, failed (with its error), running or pending
    Status(JobStatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct JobPlanArgs {
    /// Rasters (any path GDAL opens, /vsicurl/ and /vsis3/ included; a VRT is one
    /// scene) or quoted glob patterns ('scenes/*.tif')
    pub inputs: Vec<String>,
    /// A file listing inputs, one path or pattern a line (relative to the list's folder)
    #[arg(long, value_name = "FILE")]
    pub list: Option<PathBuf>,
    /// A STAC Item or ItemCollection (JSON): each Item is a scene stacking --assets
    #[arg(long, value_name = "ITEMS.json")]
    pub stac: Vec<PathBuf>,
    /// The STAC assets stacked into each scene, in order: asset keys or eo:bands common
    /// names (blue,green,red,nir)
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "stac")]
    pub assets: Vec<String>,
    /// The job file to write (JSON; schemas/job.schema.json)
    #[arg(short = 'o', long, value_name = "JOB.json")]
    pub job: PathBuf,
    /// Where the items' outputs, the merged maps and the statistics go
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Cut scenes taller than this many rows into row-band shards of about this height
    #[arg(long, value_name = "ROWS")]
    pub shard_rows: Option<usize>,
    /// ONNX segmentation model
    #[arg(short, long)]
    pub model: PathBuf,
    /// Add a second band: the winning class probability x 100
    #[arg(long)]
    pub confidence: bool,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, clap::Args)]
pub struct JobRunArgs {
    /// The job file
    pub job: PathBuf,
    /// The item to run [default: SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or
    /// AWS_BATCH_JOB_ARRAY_INDEX]
    #[arg(long, value_name = "N", conflicts_with = "all")]
    pub index: Option<usize>,
    /// Run every item here (done ones are skipped), with --workers processes
    #[arg(long)]
    pub all: bool,
    /// Worker processes for --all
    #[arg(long, value_name = "K", default_value = "1", requires = "all")]
    pub workers: usize,
    /// Thread budget of each item [default: the job's, else all cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No summary lines
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct JobMergeArgs {
    /// The job file
    pub job: PathBuf,
    /// The statistics database the scenes' class areas go into [default:
    /// OUT_DIR/stats.gpkg]
    #[arg(long, value_name = "STATS.gpkg")]
    pub db: Option<PathBuf>,
    /// Thread budget (COG compression)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct JobStatusArgs {
    /// The job file
    pub job: PathBuf,
}

impl JobPlanArgs {
    pub fn to_options(&self) -> terratile::job::plan::PlanOptions {
        terratile::job::plan::PlanOptions {
            inputs: self.inputs.clone(),
            list: self.list.clone(),
            stac: self.stac.clone(),
            assets: self.assets.clone(),
            job: self.job.clone(),
            out_dir: self.out_dir.clone(),
            shard_rows: self.shard_rows,
            segment: SegmentOptions {
                model: self.model.clone(),
                confidence: self.confidence,
                publish: self.format.to_publish(),
                ..self.engine.to_options(false)
            },
        }
    }
}
