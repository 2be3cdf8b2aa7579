//! Bulk imports on both backends: batches that mix series the store has never seen (whose
//! rows PostgreSQL copies straight into the table) with series already stored (whose rows go
//! through the staging table and are compared), repeated deliveries inside one batch, and a
//! re-import through a store opened afresh (which knows no series ids yet). A re-import
//! changes nothing; every duplicate and conflict is counted.

mod common;

use common::{numbered, quarter_hours};
use platone_model::Measurement;
use platone_scd::{AnyStore, MeasurementQuery, Principal, Store};

async fn everything(store: &impl Store) -> Vec<Measurement> {
    let mut q = MeasurementQuery {
        limit: Some(10_000),
        ..MeasurementQuery::default()
    };
    let mut out = Vec::new();
    loop {
        let page = store
            .query_measurements(&Principal::Operator, &q)
            .await
            .unwrap();
        out.extend(page.items.into_iter().map(|i| i.measurement));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return out,
        }
    }
}

/// `store` is empty and `url` opens the same store again.
async fn new_and_known_series(store: impl Store, url: String) {
    let day = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 96);
    let bulk = numbered("dev-a", 0, 3000);
    let mut first = day.clone();
    first.extend(bulk.iter().cloned());
    let r = store.insert_measurements(&first).await.unwrap();
    assert_eq!((r.inserted, r.duplicates, r.conflicts.len()), (3096, 0, 0));

    // Known series (the day again, one value changed) and a new one (with a repeated and a
    // contradicting delivery of its own rows) in one batch.
    let other = quarter_hours("p2", "m2", "ln-2", "2021-06-30T00:00:00Z", 96);
    let mut mixed = day.clone();
    mixed[10].value = 1000.0;
    mixed.extend(other.iter().cloned());
    mixed.push(other[3].clone());
    let mut contradicting = other[4].clone();
    contradicting.value = -1.0;
    mixed.push(contradicting);
    let r = store.insert_measurements(&mixed).await.unwrap();
    assert_eq!((r.inserted, r.duplicates), (96, 96), "{:?}", r.conflicts);
    let indexes: Vec<usize> = r.conflicts.iter().map(|c| c.index).collect();
    assert_eq!(indexes, [10, 96 + 96 + 1], "conflicts in batch order");
    assert_eq!(
        (r.conflicts[0].stored, r.conflicts[0].offered),
        (11.0, 1000.0)
    );
    assert_eq!((r.conflicts[1].stored, r.conflicts[1].offered), (5.0, -1.0));
    let stored = everything(&store).await;
    assert_eq!(stored.len(), 3096 + 96);

    // A store opened afresh knows no series ids: the same batches again change nothing.
    drop(store);
    let again = AnyStore::open(&url).await.unwrap();
    let r = again.insert_measurements(&first).await.unwrap();
    assert_eq!((r.inserted, r.duplicates, r.conflicts.len()), (0, 3096, 0));
    let r = again.insert_measurements(&mixed).await.unwrap();
    assert_eq!((r.inserted, r.duplicates), (0, 192));
    let indexes: Vec<usize> = r.conflicts.iter().map(|c| c.index).collect();
    assert_eq!(indexes, [10, 96 + 96 + 1]);
    assert_eq!(everything(&again).await, stored, "nothing changed");

    // New series after the re-import are stored again.
    let third = numbered("dev-b", 0, 10);
    let r = again.insert_measurements(&third).await.unwrap();
    assert_eq!((r.inserted, r.duplicates), (10, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_new_and_known_series() {
    let (store, dir) = common::sqlite().await;
    let url = format!("sqlite://{}", dir.path().join("scd.db").display());
    new_and_known_series(store, url).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_new_and_known_series() {
    let (store, url) = common::postgres("bulk_new_and_known_series").await;
    new_and_known_series(store, url).await;
}
