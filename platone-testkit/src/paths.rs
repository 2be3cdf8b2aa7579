//! Where the tests find what lives outside the repository: the shared reference data and the
//! Python interpreter of the peer tools.
//!
//! Both follow one rule. When the thing is found, its path is returned. When it is missing and
//! the environment variable `CI` is set, the call panics with a message saying what is missing
//! and how to provide it: a test run that is meant to be complete must not pass by skipping.
//! Otherwise the call prints `skipped: …` with the same explanation to stderr and returns
//! `None`, so the test can return early:
//!
//! ```
//! fn a_test_that_needs_the_reference_data() {
//!     let Some(reference) = platone_testkit::reference_dir("a_test_that_needs_the_reference_data")
//!     else {
//!         return; // "skipped: …" is on stderr
//!     };
//!     assert!(reference.is_dir());
//! }
//! # a_test_that_needs_the_reference_data();
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable naming the reference data directory.
pub const REFERENCE_VAR: &str = "PLATONE_REFERENCE";
/// The environment variable naming the test Python interpreter.
pub const PYTHON_VAR: &str = "PLATONE_PYTHON";

/// The workspace root (the directory of the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().unwrap_or(crate_dir).to_path_buf()
}

/// The shared reference data: `$PLATONE_REFERENCE` when set, else `../shared/reference` beside
/// the workspace root. `test` names the caller in the skip or failure message. See the
/// [module](self) docs for what happens when it is missing.
pub fn reference_dir(test: &str) -> Option<PathBuf> {
    let fallback = workspace_root().join("../shared/reference");
    let found = locate(
        std::env::var_os(REFERENCE_VAR),
        &fallback,
        Path::is_dir,
        "the reference data directory",
        REFERENCE_VAR,
    );
    settle(test, found, is_ci())
}

/// The Python interpreter with the test peers installed: `$PLATONE_PYTHON` when set, else
/// `$HOME/.cache/platone-venv/bin/python` (the venv `scripts/test` creates). `test` names the
/// caller in the skip or failure message. See the [module](self) docs for what happens when
/// it is missing.
pub fn python(test: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let fallback = home.join(".cache/platone-venv/bin/python");
    let found = locate(
        std::env::var_os(PYTHON_VAR),
        &fallback,
        Path::is_file,
        "the test Python interpreter (create it with scripts/test, or python3 -m venv \
         ~/.cache/platone-venv and pip install -r scripts/requirements-test.txt)",
        PYTHON_VAR,
    );
    settle(test, found, is_ci())
}

/// Whether this is a run that must not skip (`CI` is set).
pub fn is_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// The override when set (it must exist), else the fallback when it exists; else why not.
fn locate(
    overridden: Option<OsString>,
    fallback: &Path,
    exists: fn(&Path) -> bool,
    what: &str,
    var: &str,
) -> Result<PathBuf, String> {
    match overridden {
        Some(path) => {
            let path = PathBuf::from(path);
            if exists(&path) {
                Ok(path)
            } else {
                Err(format!(
                    "{what} is missing: {var}={} does not exist",
                    path.display()
                ))
            }
        }
        None if exists(fallback) => Ok(fallback.to_path_buf()),
        None => Err(format!(
            "{what} is missing: not at {} and {var} is not set",
            fallback.display()
        )),
    }
}

/// Applies the rule: found → the path; missing under CI → panic; missing otherwise → skip.
fn settle(test: &str, found: Result<PathBuf, String>, ci: bool) -> Option<PathBuf> {
    match found {
        Ok(path) => Some(path),
        Err(why) if ci => panic!("{test}: {why} (CI is set, so this test may not be skipped)"),
        Err(why) => {
            eprintln!("skipped: {test}: {why}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_wins_and_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let found = locate(
            Some(dir.path().into()),
            other.path(),
            Path::is_dir,
            "data",
            "VAR",
        );
        assert_eq!(found.unwrap(), dir.path());
        let gone = dir.path().join("gone");
        let why = locate(Some(gone.into()), other.path(), Path::is_dir, "data", "VAR").unwrap_err();
        assert!(why.contains("VAR=") && why.contains("gone"), "{why}");
    }

    #[test]
    fn the_fallback_is_used_when_nothing_is_set() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            locate(None, dir.path(), Path::is_dir, "data", "VAR").unwrap(),
            dir.path()
        );
        let why = locate(None, &dir.path().join("x"), Path::is_dir, "data", "VAR").unwrap_err();
        assert!(why.contains("VAR is not set"), "{why}");
        // A directory is not an interpreter.
        assert!(locate(None, dir.path(), Path::is_file, "python", "VAR").is_err());
    }

    #[test]
    fn missing_skips_outside_ci_and_fails_under_ci() {
        assert_eq!(settle("t", Err("gone".into()), false), None);
        assert_eq!(
            settle("t", Ok(PathBuf::from("/x")), true),
            Some(PathBuf::from("/x"))
        );
        let panic =
            std::panic::catch_unwind(|| settle("my_test", Err("gone".into()), true)).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("my_test: gone"), "{message}");
        assert!(message.contains("CI is set"), "{message}");
    }

    #[test]
    fn the_workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }
}
