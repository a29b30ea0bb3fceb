//! Where the project's L1 toolchain is: Foundry's binaries, installed from npm into the
//! ignored `.tools/` folder by `scripts/setup-tools.sh`, or given by environment variables.
//! The batcher's tests, the devnet and the end-to-end tests all find anvil here.

use std::path::PathBuf;

/// The repository root, as this crate was built from it.
fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The anvil binary: `ANVIL_BIN`, else `<repository>/.tools/bin/anvil`.
///
/// # Errors
/// When neither exists, with the command that installs it.
pub fn anvil_binary() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("ANVIL_BIN") {
        return Ok(path.into());
    }
    let path = repository().join(".tools/bin/anvil");
    if path.exists() {
        return Ok(path);
    }
    Err(format!(
        "anvil not found at {} (nor ANVIL_BIN): run `bash scripts/setup-tools.sh` to install Foundry",
        path.display()
    ))
}
