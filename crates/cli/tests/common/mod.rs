//! Helpers the CLI integration tests share: where the repository and the
//! shared data are, and running the built `hexcover` binary.
// Each test crate uses a part of these.
#![allow(dead_code, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared` beside the repository (or `HEXCOVER_SHARED`).
pub fn shared() -> PathBuf {
    std::env::var_os("HEXCOVER_SHARED").map_or_else(|| root().join("../shared"), PathBuf::from)
}

/// Run `hexcover ARGS` from the repository root.
pub fn hexcover(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hexcover"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run hexcover")
}

/// The stdout of a run that must have succeeded (its stderr otherwise).
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
