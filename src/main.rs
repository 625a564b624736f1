//! The `terratile` binary: parse flags, run one command, print errors once.

mod cli;

use std::io::IsTerminal;

use clap::Parser;
use cli::{
    ChangeArgs, Cli, Command, CompletionsArgs, InspectArgs, JobCommand, PolygonsArgs, ReportArgs,
    ReportFormat, SegmentArgs,
};
use terratile::commands;
use terratile::store::{report, Store};

fn main() {
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
    grow_the_heap_in_large_steps();
    stop_on_signals();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => run_inspect(&args),
        Command::Segment(args) => run_segment(&args),
        Command::Change(args) => run_change(&args),
        Command::Polygons(args) => run_polygons(&args),
        Command::Report(args) => run_report(&args),
        Command::Completions(args) => run_completions(&args),
        Command::Job(cmd) => run_job(&cmd),
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            // the message is the whole story; causes stay in the error's source chain
            eprintln!("terratile: error: {e}");
            match e {
                terratile::Error::Interrupted(_) => 128 + terratile::cancel::signal(),
                _ => 1,
            }
        }
    };
    exit_now(code)
}

/// Has malloc grow the heap 64 MiB at a time (`M_TOP_PAD`; by default it grows by what
/// each request lacks). Growing it takes the process's memory-map lock, and at the end
/// of a run the COG is written while the model's session is freed beside it, whose
/// unmapping holds that lock for tens of milliseconds: each growth of the heap by the
/// COG copy then waited for it. 150-class SegFormer-B0 on the S2 scene, 2 cores, eight
/// alternated runs each against the build before (which also compressed on two threads,
/// see `write::ClassWriter::leave_a_core`): from the last run to `main`'s end
/// 0.120-0.143 s -> 0.088-0.121 s (medians 0.130 -> 0.105 s), the COG copy 0.077-0.096 s
/// -> 0.051-0.076 s. The padding is address space, not memory, until it is used;
/// malloc hands back what lies beyond it at the heap's top.
///
/// Setting it stops malloc from raising its mmap threshold as large blocks are freed
/// (from 128 KiB up to 32 MiB): the threshold is set to that ceiling here, so blocks
/// freed and allocated again come from the heap, as they would once raised. With the
/// threshold left at 128 KiB, the 30-class test model on a VRT 10 scenes wide took 8%
/// more page faults (291k against 270k); at 32 MiB, 7% fewer (251k), peak RSS 1.06 GB
/// in all three (two runs each). The padding costs the per-pixel model on a VRT 10
/// scenes tall 15 MB of peak RSS (197-201 -> 215 MB).
fn grow_the_heap_in_large_steps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc's parameters (under malloc's own lock)
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Ends the process with `code` once the command is done: every file it wrote is closed
/// and in place (the command's values are all dropped by now; the only GDAL dataset in a
/// static is a read handle, `read::warm`), so only the C++ libraries' teardown is left,
/// which the kernel's reclaiming of the process makes moot: GDAL's (its driver manager,
/// about 220 drivers) and ONNX Runtime's. Skipping it ends a run about 7 ms sooner
/// (150-class SegFormer-B0 on the S2 scene, 2 cores: from `main`'s end to the process's
/// exit 0.022-0.035 s -> 0.011-0.018 s, eight runs each).
fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process at once; the standard streams are flushed above
    unsafe { libc::_exit(code) }
}

/// SIGINT (Ctrl-C), SIGTERM (`timeout`, `kill`, every scheduler) and SIGHUP (a closed
/// terminal): the first stops the job cleanly (temporary files removed, exit 128 + the
/// signal); a second one exits at once.
fn stop_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return; // no handler: the default (immediate) termination stays
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if !terratile::cancel::request_by(sig) {
                std::process::exit(128 + sig);
            }
        }
    });
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
    if let Some(series) = args.to_series(std::io::stderr().is_terminal()) {
        return run_series(args, &series);
    }
    let opts = args.to_options(std::io::stderr().is_terminal());
    if opts.change_model.is_some() {
        return run_change_model(args, &opts);
    }
    let (stats, run) = commands::change::run(&opts, args.db.as_deref())?;
    if !args.engine.quiet {
        print_outcome(&stats.notes, &stats, args.db.as_deref(), run);
    }
    Ok(())
}

/// `change --change-model`: a change model over both dates into a change COG; prints
/// notes and a summary line.
fn run_change_model(
    args: &ChangeArgs,
    opts: &terratile::change::ChangeOptions,
) -> terratile::Result<()> {
    let (done, run) = commands::change_model::run(opts, args.db.as_deref())?;
    if !args.engine.quiet {
        print_outcome(&done.summary.notes, &done, args.db.as_deref(), run);
    }
    Ok(())
}

/// `change D1 D2 ... Dn`: compares a date series interval by interval; prints notes and
/// a summary (a line per interval).
fn run_series(
    args: &ChangeArgs,
    opts: &terratile::change::series::SeriesOptions,
) -> terratile::Result<()> {
    let (stats, run) = commands::series::run(opts, args.db.as_deref())?;
    if !args.engine.quiet {
        print_outcome(&stats.notes, &stats, args.db.as_deref(), run);
    }
    Ok(())
}

/// `polygons`: a class map's polygons into a GeoPackage; prints notes and a summary line.
fn run_polygons(args: &PolygonsArgs) -> terratile::Result<()> {
    let started = std::time::Instant::now();
    let report = terratile::vector::polygons(&args.classes, &args.to_options())?;
    if !args.quiet {
        for n in &report.notes {
            eprintln!("terratile: note: {n}");
        }
        eprintln!(
            "{}: {} polygons of {}, {:.1} s",
            args.output.display(),
            report.polygons.unwrap_or(0),
            args.classes.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `report`: prints a logged run as a table, JSON or CSV.
fn run_report(args: &ReportArgs) -> terratile::Result<()> {
    let st = Store::open_existing(&args.db)?;
    let r = report::load(&st, args.run)?;
    if let Some(png) = &args.plot {
        terratile::plot::draw(&terratile::plot::ChartData::of(&r), png)?;
        eprintln!("{}: chart of run {} written", png.display(), r.id);
    }
    let text = match args.format {
        ReportFormat::Table => report::table(&r, args.units.into()),
        ReportFormat::Json => format!("{:#}\n", report::to_json(&r)),
        ReportFormat::Csv => report::to_csv(&r),
    };
    print_out(&text)
}

/// `completions`: one shell's completions on stdout, or every shell's completions and
/// the man pages (all generated from the clap definitions) written into a folder.
fn run_completions(args: &CompletionsArgs) -> terratile::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let mut cmd = Cli::command();
    let Some(dir) = &args.out_dir else {
        let shell = args.shell.expect("clap requires a shell without --out-dir");
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, "terratile", &mut out);
        return print_out(&String::from_utf8_lossy(&out));
    };
    let io = |p: &std::path::Path, e: std::io::Error| {
        terratile::Error::output(p, format!("cannot write: {e}"))
    };
    let man = dir.join("man1");
    std::fs::create_dir_all(&man).map_err(|e| io(&man, e))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let p = clap_complete::generate_to(shell, &mut cmd, "terratile", dir)
            .map_err(|e| io(dir, e))?;
        println!("{}", p.display());
    }
    cmd.build();
    let pages = std::iter::once((cmd.clone(), "terratile".to_string())).chain(
        cmd.get_subcommands()
            .filter(|s| s.get_name() != "help")
            .map(|s| (s.clone(), format!("terratile-{}", s.get_name()))),
    );
    for (page, name) in pages {
        let p = man.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page.name(name.clone()).bin_name(name.replace('-', " ")))
            .render(&mut buf)
            .map_err(|e| io(&p, e))?;
        std::fs::write(&p, buf).map_err(|e| io(&p, e))?;
        println!("{}", p.display());
    }
    Ok(())
}

/// `job plan|run|merge|status`: jobs over many scenes (see `terratile::job`).
fn run_job(cmd: &JobCommand) -> terratile::Result<()> {
    use terratile::job::{self, run::Outcome};
    match cmd {
        JobCommand::Plan(a) => {
            let j = job::plan::plan(&a.to_options())?;
            let shards = j.items.iter().filter(|i| i.rows.is_some()).count();
            println!(
                "{}: {} scene(s), {} item(s) ({shards} row-band shards); run them with --array=0-{}",
                a.job.display(),
                j.scenes.len(),
                j.items.len(),
                j.items.len() - 1
            );
            Ok(())
        }
        JobCommand::Run(a) if a.all => {
            let s = job::run::run_all(&a.job, a.workers, a.threads, a.quiet)?;
            if !a.quiet {
                eprintln!(
                    "{}: {} item(s) run, {} already done, {} failed, {:.1} s",
                    a.job.display(),
                    s.ran,
                    s.skipped,
                    s.failed.len(),
                    s.seconds
                );
            }
            if s.failed.is_empty() {
                Ok(())
            } else {
                Err(terratile::Error::Runtime(format!(
                    "{}: item(s) {} failed; their errors: terratile job status {}",
                    a.job.display(),
                    s.failed
                        .iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    a.job.display()
                )))
            }
        }
        JobCommand::Run(a) => {
            let Some(index) = a.index.map_or_else(job::index_from_env, |i| Ok(Some(i)))? else {
                return Err(terratile::Error::Usage(format!(
                    "job run {}: which item? give --index N or --all (or run it as an array job: SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX)",
                    a.job.display()
                )));
            };
            let outcome = job::run::run_item(&a.job, index, a.threads)?;
            if !a.quiet {
                match outcome {
                    Outcome::Skipped => eprintln!(
                        "{}: item {index} is done already (its output carries its stamp); skipped",
                        a.job.display()
                    ),
                    Outcome::Ran(s) => {
                        for n in &s.notes {
                            eprintln!("terratile: note: {n}");
                        }
                        eprintln!("{s}");
                    }
                }
            }
            Ok(())
        }
        JobCommand::Merge(a) => {
            let threads = a
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let m = job::merge::merge(&a.job, threads)?;
            let j = job::Job::load(&a.job)?;
            let db =
                a.db.clone()
                    .unwrap_or_else(|| j.out_dir(&a.job).join("stats.gpkg"));
            let (logged, there) = commands::job::fold_statistics(&db, &j, &a.job, &m.merged)?;
            for s in &m.merged {
                println!(
                    "{}{}",
                    s.output.display(),
                    if s.written { "" } else { " (up to date)" }
                );
            }
            for v in m.vrts.iter().chain(&m.catalog) {
                println!("{}", v.display());
            }
            println!(
                "{}: {logged} scene(s) logged, {there} already there",
                db.display()
            );
            if m.incomplete.is_empty() {
                return Ok(());
            }
            let list = m
                .incomplete
                .iter()
                .map(|(s, i)| {
                    format!(
                        "{s} (items {})",
                        i.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            Err(terratile::Error::Runtime(format!(
                "{}: not merged, items not done: {list}; run them (terratile job run {} --all, or resubmit the array), then merge again",
                a.job.display(),
                a.job.display()
            )))
        }
        JobCommand::Status(a) => {
            let states = job::status::status(&a.job)?;
            let mut text: String = states.iter().map(|s| format!("{s}\n")).collect();
            text.push_str(&format!(
                "{}: {}\n",
                a.job.display(),
                job::status::tally(&states)
            ));
            print_out(&text)
        }
    }
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

/// A change run's notes, its summary and, when it was logged, where to read it back.
fn print_outcome(
    notes: &[String],
    summary: &dyn std::fmt::Display,
    db: Option<&std::path::Path>,
    run: Option<i64>,
) {
    for n in notes {
        eprintln!("terratile: note: {n}");
    }
    eprintln!("{summary}");
    if let (Some(db), Some(id)) = (db, run) {
        eprintln!(
            "{}: run {id} logged (terratile report --db {} --run {id})",
            db.display(),
            db.display()
        );
    }
}
