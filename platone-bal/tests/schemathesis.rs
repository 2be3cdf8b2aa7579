//! schemathesis (PyPI, pinned in scripts/requirements-test.txt) against the BAL's OpenAPI
//! document: requests generated from the document, with a token and without, and every answer
//! checked — no 5xx, and its status, content type, headers and body as documented; routes
//! that need a token answer 401 without one.

use platone_bal::{Bal, BalConfig};

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// Runs schemathesis in `workdir` (where it keeps its cache, out of the source tree).
async fn schemathesis(
    python: std::path::PathBuf,
    workdir: std::path::PathBuf,
    url: String,
    args: Vec<String>,
) -> String {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .current_dir(workdir)
            .args(["-m", "schemathesis.cli", "run"])
            .arg(url)
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
    .unwrap()
    .expect("the test Python runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schemathesis failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_bal_matches_its_openapi_document() {
    let Some(python) =
        platone_testkit::python("every_answer_of_the_bal_matches_its_openapi_document")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "embedded_broker = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\ndata = {:?}\n\
         [api]\ninsecure_http = true\nrequests_per_second = 0\n\
         [tokens]\ndso = \"dso-token\"\ncust-1 = \"c1\"\n\
         [[pods]]\nid = \"POD-1\"\ncustomer = \"cust-1\"\ndevices = [\"pmu-1\"]\n",
        dir.path()
    );
    let bal = Bal::start(BalConfig::from_toml(&text).unwrap())
        .await
        .unwrap();
    let document = format!("{}/api/openapi.json", bal.api_url());
    for token in ["dso-token", "c1"] {
        let output = schemathesis(
            python.clone(),
            dir.path().to_owned(),
            document.clone(),
            vec![
                format!("{CHECKS},ignored_auth"),
                "--header".into(),
                format!("Authorization: Bearer {token}"),
            ],
        )
        .await;
        assert!(output.contains(" passed"), "{output}");
    }
    let anonymous =
        schemathesis(python, dir.path().to_owned(), document, vec![CHECKS.into()]).await;
    assert!(anonymous.contains(" passed"), "{anonymous}");
    bal.shutdown().await.unwrap();
}
