//! The `terratile` binary: parse flags, run one command, print errors once.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use cli::{ChangeArgs, Cli, Command, InspectArgs, ReportArgs, ReportFormat, SegmentArgs};
use terratile::commands;
use terratile::store::{report, Store};

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
        if !terratile::cancel::request() {
            std::process::exit(130);
        }
    });
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => run_inspect(&args),
        Command::Segment(args) => run_segment(&args),
        Command::Change(args) => run_change(&args),
        Command::Report(args) => run_report(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // the message is the whole story; causes stay in the error's source chain
            eprintln!("terratile: error: {e}");
            match e {
                terratile::Error::Interrupted(_) => ExitCode::from(130),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// `inspect`: prints what a model takes and gives, and how a raster would feed it.
fn run_inspect(args: &InspectArgs) -> terratile::Result<()> {
    print_out(&commands::inspect::inspect(&args.to_options())?)
}

/// `segment`: segments a raster into a class-map COG; prints notes and a summary line.
fn run_segment(args: &SegmentArgs) -> terratile::Result<()> {
    let opts = args.to_options(std::io::stderr().is_terminal());
    let (summary, run) = commands::segment::run(&opts, args.db.as_deref())?;
    if !args.engine.quiet {
        for n in &summary.notes {
            eprintln!("terratile: note: {n}");
        }
        eprintln!("{summary}");
        if let (Some(db), Some(id)) = (&args.db, run) {
            eprintln!("{}: run {id} logged", db.display());
        }
    }
    Ok(())
}

/// `change`: compares two dates into a change COG; prints notes and a summary line.
fn run_change(args: &ChangeArgs) -> terratile::Result<()> {
    let opts = args.to_options(std::io::stderr().is_terminal());
    let (stats, run) = commands::change::run(&opts, args.db.as_deref())?;
    if !args.engine.quiet {
        for n in &stats.notes {
            eprintln!("terratile: note: {n}");
        }
        eprintln!("{stats}");
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

/// `report`: prints a logged run as a table, JSON or CSV.
fn run_report(args: &ReportArgs) -> terratile::Result<()> {
    let st = Store::open_existing(&args.db)?;
    let r = report::load(&st, args.run)?;
    let text = match args.format {
        ReportFormat::Table => report::table(&r, args.units.into()),
        ReportFormat::Json => format!("{:#}\n", report::to_json(&r)),
        ReportFormat::Csv => report::to_csv(&r),
    };
    print_out(&text)
}

/// Writes to stdout; a closed pipe (`| head`) is a normal end.
fn print_out(text: &str) -> terratile::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(terratile::Error::output(
            std::path::Path::new("<stdout>"),
            format!("cannot write: {e}"),
        )),
        Ok(()) => Ok(()),
    }
}
