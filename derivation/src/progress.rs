//! Progress output for long work: a bar redrawn in place on a terminal, a plain line every few
//! seconds otherwise (logs, CI).

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

/// Plain-line interval when not on a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// Redraw interval on a terminal.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// A progress bar on stderr.
#[derive(Debug)]
pub(crate) struct Bar {
    label: &'static str,
    terminal: bool,
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Bar {
    pub(crate) fn new(label: &'static str) -> Self {
        Self {
            label,
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last: None,
            drawn: false,
        }
    }

    /// Shows `done` of `total` with `detail`.
    pub(crate) fn update(&mut self, done: u64, total: u64, detail: &str) {
        let every = if self.terminal { REDRAW_EVERY } else { PLAIN_EVERY };
        if self.last.is_some_and(|last| last.elapsed() < every) && done < total {
            return;
        }
        self.last = Some(Instant::now());
        let fraction = if total == 0 { 1.0 } else { (done as f64 / total as f64).min(1.0) };
        let seconds = self.started.elapsed().as_secs_f64();
        let mut stderr = std::io::stderr().lock();
        if self.terminal {
            const WIDTH: usize = 30;
            let filled = (fraction * WIDTH as f64) as usize;
            let _ = write!(
                stderr,
                "\r{} [{}{}] {:>5.1}%  block {done}/{total}  {detail}  {seconds:.1}s ",
                self.label,
                "=".repeat(filled),
                " ".repeat(WIDTH - filled),
                fraction * 100.0,
            );
            self.drawn = true;
        } else {
            let _ = writeln!(
                stderr,
                "{}: block {done}/{total} ({:.1}%), {detail}, {seconds:.1}s",
                self.label,
                fraction * 100.0
            );
        }
        let _ = stderr.flush();
    }

    /// Ends the bar's line.
    pub(crate) fn finish(&mut self) {
        if self.terminal && self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}
