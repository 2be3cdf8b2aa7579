//! schemathesis (PyPI, pinned in scripts/requirements-test.txt) against the BAL's OpenAPI
//! document: requests generated from the document, with a token and without, and every answer
//! checked — no 5xx, and its status, content type, headers and body as documented; routes
//! that need a token answer 401 without one.

use platone_bal::{Bal, BalConfig};
use platone_testkit::run_schemathesis_with_tokens;

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
    run_schemathesis_with_tokens(python, dir.path(), document, &["dso-token", "c1"]).await;
    bal.shutdown().await.unwrap();
}
