//! The readers never panic, whatever the bytes: arbitrary input and mutated valid documents
//! give a value or an error.

mod common;

use common::*;
use platone_saref::{MappingOptions, read_measurements, read_set_points};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512), f in 0usize..3) {
        let _ = read_measurements(bytes.as_slice(), FORMATS[f]);
        let _ = read_set_points(bytes.as_slice(), FORMATS[f]);
    }

    #[test]
    fn mutated_documents(f in 0usize..3, edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let mut doc = document(FORMATS[f], MappingOptions::default(), &varied(), &[set_point()]);
        for (at, byte) in edits {
            let i = at.index(doc.len());
            doc[i] = byte;
        }
        let cut = cut.index(doc.len() + 1);
        let _ = read_measurements(&doc[..cut], FORMATS[f]);
        let _ = read_set_points(&doc[..cut], FORMATS[f]);
        let _ = read_measurements(doc.as_slice(), FORMATS[f]);
    }
}
