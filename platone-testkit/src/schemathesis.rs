//! schemathesis (PyPI, pinned in `scripts/requirements-test.txt`) against a service's OpenAPI
//! document: requests generated from the document, every answer checked against it.

use std::path::{Path, PathBuf};

/// The checks every service's run makes: no 5xx; status, content type, headers and body as
/// documented.
pub const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                          response_headers_conformance,response_schema_conformance";

/// Runs `schemathesis run DOCUMENT_URL` with the test Python `python`, in `workdir` (where it
/// keeps its cache, out of the source tree), 40 examples per operation, deterministic, with
/// `--checks` followed by `args`. Returns its output; panics with it when schemathesis
/// reports a failure or does not run.
pub async fn run_schemathesis(
    python: PathBuf,
    workdir: &Path,
    document_url: String,
    args: Vec<String>,
) -> String {
    let workdir = workdir.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .current_dir(workdir)
            .args(["-m", "schemathesis.cli", "run"])
            .arg(document_url)
            .args([
                "--max-examples",
                "40",
                "--generation-deterministic",
                "--checks",
            ])
            .args(args)
            .env("NO_COLOR", "1")
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("the schemathesis task stopped: {e}"))
    .unwrap_or_else(|e| panic!("the test Python does not run: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schemathesis failed:\n{text}");
    assert!(
        text.contains(" passed"),
        "schemathesis checked nothing:\n{text}"
    );
    text
}

/// Runs [`run_schemathesis`] with each of `tokens` as a bearer token (the [`CHECKS`] and
/// `ignored_auth`: a route needing a token refuses requests without one), then without a token.
pub async fn run_schemathesis_with_tokens(
    python: PathBuf,
    workdir: &Path,
    document_url: String,
    tokens: &[&str],
) {
    for token in tokens {
        run_schemathesis(
            python.clone(),
            workdir,
            document_url.clone(),
            vec![
                format!("{CHECKS},ignored_auth"),
                "--header".into(),
                format!("Authorization: Bearer {token}"),
            ],
        )
        .await;
    }
    run_schemathesis(python, workdir, document_url, vec![CHECKS.into()]).await;
}
