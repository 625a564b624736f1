//! Running `terratile` (and GDAL's programs) from the tests, in the spirit of ripgrep's
//! tests/util.rs: [`TestCommand`] collects the command line; [`TestCommand::run`] returns
//! its [`Output`], [`TestCommand::ok`] also asserts success. A failure prints the whole
//! command line (ready to paste into a shell), the working folder, the files of the
//! test's folder, and the command's stderr and stdout.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::dir::tmp_root;

/// One command line to run from a test.
#[derive(Debug, Clone)]
pub struct TestCommand {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    current_dir: Option<PathBuf>,
    folder: Option<PathBuf>,
}

impl TestCommand {
    /// `terratile SUBCOMMAND`.
    pub fn new(subcommand: &str) -> Self {
        Self::terratile().arg(subcommand)
    }

    /// `terratile` with no arguments yet.
    pub fn terratile() -> Self {
        Self::program(env!("CARGO_BIN_EXE_terratile"))
    }

    /// Another program (`gdal_translate`, `gdalwarp`, ...).
    pub fn program(program: impl AsRef<OsStr>) -> Self {
        TestCommand {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            current_dir: None,
            folder: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.as_ref().to_owned(), None));
        self
    }

    /// Runs the command in `dir` (by default it runs where the test runs).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.current_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The test's folder, listed when the command fails. By default the test folder of
    /// the first argument that lies in one (see [`super::tempdir`]).
    pub fn folder(mut self, dir: impl AsRef<Path>) -> Self {
        self.folder = Some(dir.as_ref().to_owned());
        self
    }

    /// The [`Command`] this describes.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        for (k, v) in &self.envs {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = &self.current_dir {
            c.current_dir(d);
        }
        c
    }

    /// Runs the command to the end and returns what it printed and its status.
    pub fn run(&self) -> Output {
        self.command().output().unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): run scripts/setup.sh\n{}",
                self.program.to_string_lossy(),
                self.describe()
            )
        })
    }

    /// Runs the command and asserts it succeeded; returns its output.
    pub fn ok(&self) -> Output {
        let out = self.run();
        if !out.status.success() {
            panic!("{}", self.failure(&out, "failed"));
        }
        out
    }

    /// Like [`ok`](Self::ok), returning stderr (where terratile writes its summary).
    pub fn ok_stderr(&self) -> String {
        String::from_utf8_lossy(&self.ok().stderr).into_owned()
    }

    /// The report of a command that did not do what the test expected: its `what`
    /// (e.g. "failed"), exit status, command line, folders, stderr and stdout.
    pub fn failure(&self, out: &Output, what: &str) -> String {
        format!(
            "{} {what} ({}):\n{}\n--- stderr:\n{}\n--- stdout:\n{}",
            Path::new(&self.program)
                .file_name()
                .unwrap_or(self.program.as_os_str())
                .to_string_lossy(),
            out.status,
            self.describe(),
            String::from_utf8_lossy(&out.stderr).trim_end(),
            String::from_utf8_lossy(&out.stdout).trim_end(),
        )
    }

    /// The command line, the working folder and a listing of the test's folder.
    pub fn describe(&self) -> String {
        let mut s = format!("--- command:\n{}\n", self.command_line());
        let cwd = match &self.current_dir {
            Some(d) => d.clone(),
            None => std::env::current_dir().unwrap_or_default(),
        };
        s += &format!("--- working folder: {}\n", cwd.display());
        match self.test_folder() {
            Some(dir) => {
                s += &format!("--- test folder {}:\n", dir.display());
                s += &listing(&dir);
            }
            None => s += "--- no test folder among the arguments\n",
        }
        s
    }

    /// The command line, quoted for a POSIX shell.
    pub fn command_line(&self) -> String {
        let mut parts: Vec<String> = self
            .envs
            .iter()
            .filter_map(|(k, v)| {
                v.as_ref()
                    .map(|v| format!("{}={}", k.to_string_lossy(), quote(v)))
            })
            .collect();
        parts.push(quote(&self.program));
        parts.extend(self.args.iter().map(|a| quote(a)));
        parts.join(" ")
    }

    fn test_folder(&self) -> Option<PathBuf> {
        if let Some(d) = &self.folder {
            return Some(d.clone());
        }
        let root = tmp_root();
        self.args.iter().find_map(|a| {
            let rel = Path::new(a).strip_prefix(&root).ok()?;
            let first = rel.components().next()?;
            Some(root.join(first))
        })
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Files under `dir` (two levels), with their sizes, one a line.
fn listing(dir: &Path) -> String {
    fn walk(dir: &Path, depth: usize, indent: &str, out: &mut String) {
        let mut entries: Vec<_> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).collect(),
            Err(e) => {
                out.push_str(&format!("{indent}(cannot list: {e})\n"));
                return;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        if entries.is_empty() && depth == 0 {
            out.push_str(&format!("{indent}(empty)\n"));
        }
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            match e.metadata() {
                Ok(m) if m.is_dir() => {
                    out.push_str(&format!("{indent}{name}/\n"));
                    if depth < 1 {
                        walk(&e.path(), depth + 1, &format!("{indent}  "), out);
                    }
                }
                Ok(m) => out.push_str(&format!("{indent}{name}  ({} bytes)\n", m.len())),
                Err(_) => out.push_str(&format!("{indent}{name}\n")),
            }
        }
    }
    let mut s = String::new();
    walk(dir, 0, "  ", &mut s);
    s
}

/// Runs `terratile ARGS...`.
pub fn terratile(args: &[&dyn AsRef<OsStr>]) -> Output {
    TestCommand::terratile().args(args).run()
}

/// Runs `terratile ARGS` and asserts success; returns stderr.
pub fn terratile_ok(args: &[&dyn AsRef<OsStr>]) -> String {
    TestCommand::terratile().args(args).ok_stderr()
}

/// `terratile segment INPUT -m MODEL -o OUTPUT EXTRA...`, as a [`TestCommand`].
pub fn segment(input: &Path, model: &Path, output: &Path, extra: &[&str]) -> TestCommand {
    TestCommand::new("segment")
        .arg(input)
        .arg("-m")
        .arg(model)
        .arg("-o")
        .arg(output)
        .args(extra)
}

/// Runs `terratile segment INPUT -m MODEL -o OUTPUT EXTRA...` and asserts success;
/// returns stderr.
pub fn segment_ok(input: &Path, model: &Path, output: &Path, extra: &[&str]) -> String {
    segment(input, model, output, extra).ok_stderr()
}

/// Segments `input` into `dir/NAME.tif` and returns its class band.
pub fn classes_of(dir: &Path, name: &str, input: &Path, model: &Path, extra: &[&str]) -> Vec<u16> {
    let out = dir.join(format!("{name}.tif"));
    segment(input, model, &out, extra).folder(dir).ok();
    super::read_band(&out, 1)
}

/// `terratile report --db DB [--run ID] --format json`, parsed.
pub fn report_json(db: &Path, run: Option<i64>) -> serde_json::Value {
    let mut c = TestCommand::new("report")
        .arg("--db")
        .arg(db)
        .args(["--format", "json"]);
    if let Some(id) = run {
        c = c.arg("--run").arg(id.to_string());
    }
    let out = c.ok();
    serde_json::from_slice(&out.stdout).expect("report --format json is JSON")
}

/// Runs a command line tool (gdal_translate, gdalwarp, ...) and asserts success.
pub fn tool(cmd: &str, args: &[&dyn AsRef<OsStr>]) {
    TestCommand::program(cmd).args(args).ok();
}
