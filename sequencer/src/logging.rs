//! What the binaries of the workspace (sequencer, batcher, derivation, devnet) share about their
//! logs, which all go to stderr.

use std::io::IsTerminal;

/// Whether logs on stderr should carry ANSI colours: only on a terminal, and not under
/// `NO_COLOR` (<https://no-color.org>). Logs sent to a file or a pipe stay plain text.
pub fn stderr_colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
