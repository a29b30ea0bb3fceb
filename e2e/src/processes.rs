//! Running the project's real binaries as child processes: found next to the running
//! executable (or in `ROLLUP_BIN_DIR`), logging to a file, stopped gracefully or killed with
//! SIGKILL (a crash), and restarted with the same arguments.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The project binary `name` (`sequencer`, `batcher`, `derivation`, `devnet`, `load`):
/// `ROLLUP_BIN_DIR/name`, else next to the running executable or one directory up (tests run
/// from `target/<profile>/deps`).
///
/// # Errors
/// When it is not built, with the command that builds it.
pub fn binary(name: &str) -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("ROLLUP_BIN_DIR") {
        candidates.push(PathBuf::from(dir).join(name));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join(name));
        if let Some(up) = dir.parent() {
            candidates.push(up.join(name));
        }
    }
    candidates.into_iter().find(|path| path.is_file()).ok_or_else(|| {
        format!("the `{name}` binary is not built: run `cargo build --workspace --bins` (or set ROLLUP_BIN_DIR)")
    })
}

/// A child process that can be killed and restarted with the same arguments.
#[derive(Debug)]
pub struct Process {
    name: String,
    binary: PathBuf,
    args: Vec<OsString>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    /// Starts `binary` with `args`, appending its output to `log`.
    ///
    /// # Errors
    /// When it cannot be spawned.
    pub fn start(
        name: &str,
        binary: PathBuf,
        args: Vec<OsString>,
        log: PathBuf,
    ) -> std::io::Result<Self> {
        let mut process = Self { name: name.to_string(), binary, args, log, child: None };
        process.spawn()?;
        Ok(process)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(&self.binary)
            .args(&self.args)
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it exited on its own.
    pub fn exited(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }

    /// SIGKILL: a crash, with no chance to clean up.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        let _ = self.signal_and_wait("TERM", grace);
    }

    /// Sends `signal`, named as `kill` names it (`INT` is Ctrl-C in a terminal, `HUP` the
    /// terminal closing), then waits up to `grace` for it to exit.
    ///
    /// # Errors
    /// When it does not exit in time (it is then killed), with the tail of its log.
    pub fn signal_and_wait(
        &mut self,
        signal: &str,
        grace: Duration,
    ) -> Result<std::process::ExitStatus, String> {
        let Some(mut child) = self.child.take() else {
            return Err(format!("{} is not running", self.name));
        };
        let _ = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!(
            "{} did not exit within {grace:?} of SIG{signal}:\n{}",
            self.name,
            self.log_tail(30)
        ))
    }

    /// Starts it again with the same arguments (after a kill).
    ///
    /// # Errors
    /// When it cannot be spawned.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill_hard();
        self.spawn()
    }

    /// Its resident memory in KiB, from `/proc` (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// The last `lines` lines of a file.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
