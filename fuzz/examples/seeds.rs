//! Writes the generated seed inputs of the fuzz targets that have no fixture file to start
//! from: signed envelopes, proofs (JSON and binary), a small ledger file and market
//! scenarios. The seeds taken from test fixtures and reference files are gathered by
//! `scripts/fuzz` at run time.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds -- fuzz/corpus
//! ```

use std::path::{Path, PathBuf};

use platone_certify::ledger::{FileLedger, Ledger};
use platone_certify::{BatchPolicy, Batcher, DeviceKey, Scheme, SignedEnvelope};
use platone_market::generate::{GeneratorConfig, generate};

type Error = Box<dyn std::error::Error>;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let key = DeviceKey::from_bytes(&[7u8; 32])?;

    let text = br#"{"device":"pmu-1","timestamp":"2024-03-01T12:00:00Z","readings":[]}"#;
    let binary = [0u8, 159, 146, 150, 255, 1, 2];
    let envelopes = [
        ("eip191-text.json", SignedEnvelope::sign_eip191(&key, text)?),
        (
            "eip191-binary.json",
            SignedEnvelope::sign_eip191(&key, &binary)?,
        ),
        (
            "eip712-text.json",
            SignedEnvelope::sign_eip712(&key, "pmu-1", text, 1_709_294_400, 1)?,
        ),
    ];
    for (name, envelope) in envelopes {
        write(
            &out,
            "signed_envelope",
            name,
            envelope.to_json()?.as_bytes(),
        )?;
    }

    let now = platone_model::parse_timestamp("2024-03-01T12:00:00Z")?;
    let ledger_dir = tempfile::tempdir()?;
    let ledger = FileLedger::open(ledger_dir.path())?;
    for (scheme, records, sources) in [
        (Scheme::Sha256, 5u32, ["pmu-1", "meter-7"]),
        (Scheme::Keccak, 3, ["pmu-2", "meter-8"]),
    ] {
        let mut batcher = Batcher::new(scheme, BatchPolicy::pmu());
        for source in sources {
            for i in 0..records {
                batcher.add(source, &serde_json::json!({"source": source, "v": i}), now)?;
            }
        }
        for mut batch in batcher.flush(now)? {
            let status = futures::executor::block_on(ledger.anchor(&batch.certificate))?;
            let name = format!("{}-{scheme:?}", batch.certificate.source);
            let mut proof = batch.proofs.remove(batch.proofs.len() / 2);
            write(
                &out,
                "proof",
                &format!("{name}-pending.json"),
                proof.to_json()?.as_bytes(),
            )?;
            write(
                &out,
                "proof",
                &format!("{name}-pending.bin"),
                &proof.to_binary()?,
            )?;
            if let Some(anchor) = status.anchor() {
                proof.upgrade(anchor)?;
                write(
                    &out,
                    "proof",
                    &format!("{name}-anchored.json"),
                    proof.to_json()?.as_bytes(),
                )?;
                write(
                    &out,
                    "proof",
                    &format!("{name}-anchored.bin"),
                    &proof.to_binary()?,
                )?;
            }
        }
    }
    drop(ledger);
    let bytes = std::fs::read(ledger_dir.path().join(FileLedger::FILE_NAME))?;
    write(&out, "ledger_file", "four-entries.jsonl", &bytes)?;

    for (name, config) in [
        (
            "small.json",
            GeneratorConfig {
                offers: 4,
                requests: 2,
                slots: 2,
                network: None,
                seed: 1,
                ..GeneratorConfig::default()
            },
        ),
        (
            "network.json",
            GeneratorConfig {
                offers: 6,
                requests: 3,
                slots: 2,
                network: Some(4),
                seed: 2,
                ..GeneratorConfig::default()
            },
        ),
    ] {
        write(
            &out,
            "market_scenario",
            name,
            generate(&config)?.to_json().as_bytes(),
        )?;
    }
    Ok(())
}
