//! What the VM tests (tests/gpio_vm.rs, tests/powercut.rs) share: the
//! gpio-sim-vm tool, the rule that CI never skips them, and the binary they copy
//! into the VM.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The gpio-sim-vm tool: `$GPIO_SIM_VM`, else the repository's `tools/gpio-sim-vm`.
pub fn tool() -> PathBuf {
    match std::env::var_os("GPIO_SIM_VM") {
        Some(p) => p.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/gpio-sim-vm"),
    }
}

/// A skip of `test` is allowed outside CI only; in CI (`CI=true`) it is a failure.
pub fn skip(test: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} cannot be skipped in CI (CI=true): {why}");
    }
    eprintln!("\n!!!!! {test} SKIPPED: {why} !!!!!\n");
}

/// Whether PISTACK_SKIP_VM asks to skip (reported through [`skip`]).
pub fn skip_requested(test: &str) -> bool {
    let asked = std::env::var_os("PISTACK_SKIP_VM").is_some();
    if asked {
        skip(test, "PISTACK_SKIP_VM is set");
    }
    asked
}

/// A stripped copy of the test's binary in `dir` (20 MB less to pack into the
/// VM's initrd).
pub fn binary(dir: &Path) -> PathBuf {
    let out = dir.join("pistack");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(super::bin())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !stripped {
        std::fs::copy(super::bin(), &out).unwrap();
    }
    out
}
