//! The `terratile` binary: parse flags, run one job, print errors once.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, ReportFormat};
use terratile::store::{self, log, report};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TERRATILE_LOG")
                // ONNX Runtime's own messages are repeated in terratile's one-line errors
                .unwrap_or_else(|_| "warn,ort=off".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    terratile::configure_gdal();
    // First Ctrl-C: stop cleanly (temporary files removed); second: exit at once.
    let _ = ctrlc::set_handler(|| {
        if !terratile::segment::cancel() {
            std::process::exit(130);
        }
    });
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("terratile: error: {e:#}");
            match e.downcast_ref::<terratile::Error>() {
                Some(terratile::Error::Interrupted(_)) => ExitCode::from(130),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(args) => {
            print!("{}", terratile::inspect::inspect(&args.to_options())?);
            Ok(())
        }
        Command::Segment(args) => {
            let opts = args.to_options(std::io::stderr().is_terminal());
            let (s, run) = log::segment_logged(&opts, args.db.as_deref())?;
            if !args.engine.quiet {
                for n in &s.notes {
                    eprintln!("terratile: note: {n}");
                }
                let valid: u64 = s.class_counts.iter().sum();
                eprintln!(
                    "{}: {}x{} px ({:.1} Mpx, {:.1}% valid), {} tiles ({} inferred, {} px, overlap {}, batch {}), {:.1} s, {:.2} Mpx/s",
                    opts.output.display(),
                    s.width,
                    s.height,
                    s.pixels() as f64 / 1e6,
                    100.0 * valid as f64 / s.pixels().max(1) as f64,
                    s.tiles,
                    s.tiles_inferred,
                    s.tile_px,
                    s.overlap_px,
                    s.batch,
                    s.seconds,
                    s.mpx_per_s()
                );
                if let (Some(db), Some(id)) = (&args.db, run) {
                    eprintln!("{}: run {id} logged", db.display());
                }
            }
            Ok(())
        }
        Command::Change(args) => {
            let opts = args.to_options(std::io::stderr().is_terminal());
            let (s, run) = log::change_logged(&opts, args.db.as_deref())?;
            if !args.engine.quiet {
                for n in &s.notes {
                    eprintln!("terratile: note: {n}");
                }
                let (changed, _) =
                    s.matrix_px
                        .iter()
                        .enumerate()
                        .fold((0u64, 0), |acc, (k, px)| {
                            let n = s.classes();
                            (acc.0 + if k / n != k % n { *px } else { 0 }, 0)
                        });
                eprintln!(
                    "{}: {}x{} px compared ({} classes, AFTER resampled by {}), {} valid, {} changed ({:.1}%), {:.1} s",
                    opts.output.display(),
                    s.grid.width_px,
                    s.grid.height_px,
                    s.classes(),
                    s.resampling.name(),
                    s.valid_px,
                    changed,
                    100.0 * changed as f64 / s.valid_px.max(1) as f64,
                    s.seconds
                );
                if let (Some(db), Some(id)) = (&args.db, run) {
                    eprintln!(
                        "{}: run {id} logged (terratile report --db {} --run {id})",
                        db.display(),
                        db.display()
                    );
                }
            }
            Ok(())
        }
        Command::Report(args) => {
            let st = store::Store::open_existing(&args.db)?;
            let r = report::load(&st, args.run)?;
            let text = match args.format {
                ReportFormat::Table => report::table(&r),
                ReportFormat::Json => format!("{:#}\n", report::to_json(&r)),
                ReportFormat::Csv => report::to_csv(&r),
            };
            print_out(&text)
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is a normal end.
fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
