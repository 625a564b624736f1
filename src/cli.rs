//! Command-line flags, mapped onto the library's option structs. Nothing else.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use terratile::change::{ChangeOptions, ClassMapping};
use terratile::commands::inspect::InspectOptions;
use terratile::infer::Device;
use terratile::prepare::BandSpec;
use terratile::stitch::Blend;
use terratile::store::report::AreaUnit;
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Segment a raster with an ONNX model into a class-map COG.
    Segment(SegmentArgs),
    /// Compare two dates: a change-raster COG and from-to statistics (optionally in SQLite).
    Change(ChangeArgs),
    /// Print a run's class areas and transition matrix from a statistics database.
    Report(ReportArgs),
    /// Describe a model: inputs, outputs, classes, bands, resolution, tile size; with
    /// --raster, whether that raster can feed it and how its bands map.
    Inspect(InspectArgs),
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
    /// BLOCKSIZE=512, OVERVIEW_RESAMPLING=MODE, BIGTIFF=IF_SAFER, NUM_THREADS=--threads;
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
    /// Memory the run's buffers are planned within: 2G, 512M or bytes; a model with
    /// dynamic H/W and no tile size of its own gets the largest tile that fits [default: 2G]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_budget: Option<u64>,
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
            memory_budget: self.memory_budget,
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
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
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
    #[command(flatten)]
    pub format: FormatArgs,
    /// How each date is segmented (the mask model runs over each date; its masked
    /// pixels drop out of the comparison)
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl ChangeArgs {
    pub fn to_options(&self, stderr_is_terminal: bool) -> ChangeOptions {
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
            segment: SegmentOptions {
                publish: self.format.to_publish(),
                ..self.engine.to_options(stderr_is_terminal)
            },
        }
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

/// A size in bytes: `2G`, `512M`, `64K` (powers of 1024, an optional trailing `B` or
/// `iB`), or a plain number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let u = t.to_ascii_uppercase();
    let u = u
        .strip_suffix("IB")
        .or_else(|| u.strip_suffix('B'))
        .unwrap_or(&u);
    let (num, shift) = match u.chars().last() {
        Some('K') => (&u[..u.len() - 1], 10),
        Some('M') => (&u[..u.len() - 1], 20),
        Some('G') => (&u[..u.len() - 1], 30),
        Some('T') => (&u[..u.len() - 1], 40),
        _ => (u, 0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{t}' is not a size: use e.g. 2G, 512M or a number of bytes"))?;
    if !(v > 0.0 && v.is_finite()) {
        return Err(format!("'{t}': the size must be above zero"));
    }
    Ok((v * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
    }
}
