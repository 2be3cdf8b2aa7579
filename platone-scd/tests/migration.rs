//! A store written with the first certification layout (the whole proof in one row per
//! measurement) opens with the current one and gives every reference back unchanged, on both
//! backends.

mod common;

use common::quarter_hours;
use platone_model::PodId;
#[cfg(feature = "postgres")]
use platone_scd::PostgresStore;
use platone_scd::{
    CertificationRecord, CertificationRef, MeasurementQuery, Principal, SqliteStore, Store,
};

/// The first layout's table, as both backends created it.
const FIRST_LAYOUT: &str = "CREATE TABLE certifications (
    series_id BIGINT NOT NULL,
    ts_ns BIGINT NOT NULL,
    batch_id TEXT NOT NULL,
    leaf_index BIGINT NOT NULL,
    root_hex TEXT NOT NULL,
    proof TEXT NOT NULL,
    PRIMARY KEY (series_id, ts_ns)
)";

/// Replaces the current certification tables by the first layout's, holding `rows` of
/// (timestamp ns, batch, leaf index, root, proof) of the store's one series: the SQL to run.
fn first_layout_sql(rows: &[(i64, &str, i64, &str, String)]) -> String {
    let mut sql =
        format!("DROP TABLE certifications; DROP TABLE certified_batches; {FIRST_LAYOUT};");
    for (ts, batch, leaf, root, proof) in rows {
        sql.push_str(&format!(
            "INSERT INTO certifications SELECT id, {ts}, '{batch}', {leaf}, '{root}', '{proof}' \
             FROM series;"
        ));
    }
    sql
}

fn reference(batch: &str, leaf: u64, root: &str) -> CertificationRef {
    CertificationRef {
        batch_id: batch.into(),
        leaf_index: leaf,
        root_hex: root.into(),
        proof: serde_json::json!({"batch": batch, "leaf": leaf, "path": ["0a", "0b"]}),
    }
}

/// Three measurements; the first two certified in the first layout (two batches, one of
/// them under two roots), returned with the SQL that writes that layout.
async fn written_in_first_layout(store: &impl Store) -> (Vec<CertificationRef>, String) {
    let data = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 3);
    store.insert_measurements(&data).await.unwrap();
    let refs = vec![reference("b-1", 0, "aa"), reference("b-1", 1, "bb")];
    let ns = |i: usize| data[i].timestamp.timestamp_nanos_opt().unwrap();
    let rows: Vec<_> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                ns(i),
                r.batch_id.as_str(),
                r.leaf_index as i64,
                r.root_hex.as_str(),
                r.proof.to_string(),
            )
        })
        .collect();
    let sql = first_layout_sql(&rows);
    (refs, sql)
}

async fn check_migrated(store: &impl Store, refs: &[CertificationRef]) {
    let pod = PodId::new("p1").unwrap();
    let page = store
        .query_measurements(&Principal::Operator, &MeasurementQuery::pod(pod.clone()))
        .await
        .unwrap();
    let found: Vec<_> = page.items.iter().map(|i| i.certification.clone()).collect();
    assert_eq!(
        found,
        vec![Some(refs[0].clone()), Some(refs[1].clone()), None]
    );
    // The migrated store takes new references, and refuses a changed old one.
    let third = CertificationRecord::of(&page.items[2].measurement, reference("b-2", 0, "cc"));
    store.attach_certifications(&[third]).await.unwrap();
    let changed = CertificationRecord::of(&page.items[0].measurement, reference("b-1", 5, "aa"));
    assert!(store.attach_certifications(&[changed]).await.is_err());
    let same = CertificationRecord::of(&page.items[0].measurement, refs[0].clone());
    store.attach_certifications(&[same]).await.unwrap();
}

#[tokio::test]
async fn sqlite_first_layout_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scd.db");
    let (refs, sql) = {
        let store = SqliteStore::open(&path).await.unwrap();
        written_in_first_layout(&store).await
    };
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&sql)
        .unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    check_migrated(&store, &refs).await;
    store.integrity_check().await.unwrap();
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_first_layout_is_migrated() {
    let url = common::pg_database("first_layout");
    let (refs, sql) = {
        let store = PostgresStore::connect(&url).await.unwrap();
        written_in_first_layout(&store).await
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "{sql} CREATE INDEX certifications_time ON certifications (ts_ns);"
        ))
        .await
        .unwrap();
    drop(client);
    driver.await.unwrap().unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    check_migrated(&store, &refs).await;
}
