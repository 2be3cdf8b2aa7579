//! Retention: a hot window (two months by default, as in the field trials), then export of
//! whole UTC days to compressed archive files with a manifest, and restore.
//!
//! An archive directory holds `manifest.json` and one `measurements-YYYYMMDD.jsonl.gz` per
//! day: gzip-compressed JSON lines, each a [`StoredMeasurement`] (the measurement and its
//! certification reference, so archived data still verifies). The manifest gives each file's
//! row count, time range and SHA-256; restore checks them before writing anything.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::Duration;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use platone_model::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, ScdError};
use crate::query::StoredMeasurement;
use crate::row::{DAY_NS, day_name, to_ns, utc_from_ns};
use crate::store::InsertReport;

/// The manifest's format name.
pub const ARCHIVE_FORMAT: &str = "platone-scd-archive/1";

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// How long data stays hot before it may be archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days kept hot.
    pub hot_days: u32,
}

impl Default for RetentionPolicy {
    /// Two months (61 days), as in the field trials.
    fn default() -> Self {
        RetentionPolicy { hot_days: 61 }
    }
}

impl RetentionPolicy {
    /// The instant before which data is no longer hot at `now`, rounded down to UTC midnight.
    pub fn cutoff(&self, now: Timestamp) -> Timestamp {
        let t = now - Duration::days(i64::from(self.hot_days));
        let ns = t.timestamp_nanos_opt().unwrap_or(0);
        utc_from_ns(ns.div_euclid(DAY_NS) * DAY_NS)
    }
}

/// One archived day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedDay {
    /// The UTC day, `YYYYMMDD`.
    pub day: String,
    /// The file name inside the archive directory.
    pub file: String,
    /// Number of measurements.
    pub rows: u64,
    /// How many of them carry a certification reference.
    pub certified: u64,
    /// SHA-256 of the compressed file, hex.
    pub sha256: String,
}

/// The manifest of an archive directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveManifest {
    /// Always [`ARCHIVE_FORMAT`].
    pub format: String,
    /// When the archive was written.
    pub created_at: Timestamp,
    /// Everything before this instant (UTC midnight) was archived.
    pub before: Timestamp,
    /// The archived days, in order.
    pub days: Vec<ArchivedDay>,
}

impl ArchiveManifest {
    /// Total measurements in the archive.
    pub fn rows(&self) -> u64 {
        self.days.iter().map(|d| d.rows).sum()
    }
}

/// What a restore brought back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// Days restored.
    pub days: u64,
    /// The insert outcome over all restored measurements.
    pub measurements: InsertReport,
    /// Certification references re-attached.
    pub certifications: u64,
}

/// The cutoff for `before`: UTC midnight at or before it, in nanoseconds.
pub(crate) fn cutoff_ns(before: &Timestamp) -> Result<i64> {
    let ns = to_ns(before, || "archive bound `before`".into())?;
    Ok(ns.div_euclid(DAY_NS) * DAY_NS)
}

/// Writes archive files into a directory.
pub(crate) struct ArchiveWriter {
    dir: PathBuf,
    days: Vec<ArchivedDay>,
}

impl ArchiveWriter {
    /// Prepares `dir` (created if missing; it must not already hold an archive).
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| ScdError::io(dir, e))?;
        let manifest = dir.join(MANIFEST);
        if manifest.exists() {
            return Err(ScdError::archive(
                dir,
                "already holds an archive (manifest.json); choose an empty directory",
            ));
        }
        Ok(ArchiveWriter {
            dir: dir.to_path_buf(),
            days: Vec::new(),
        })
    }

    /// Writes one day's measurements.
    pub(crate) fn write_day(&mut self, day: i64, rows: &[StoredMeasurement]) -> Result<()> {
        let name = day_name(day);
        let file = format!("measurements-{name}.jsonl.gz");
        let path = self.dir.join(&file);
        let out = File::create(&path).map_err(|e| ScdError::io(&path, e))?;
        let mut gz = GzEncoder::new(BufWriter::new(out), Compression::default());
        for row in rows {
            serde_json::to_writer(&mut gz, row)
                .map_err(|e| ScdError::archive(&path, e.to_string()))?;
            gz.write_all(b"\n").map_err(|e| ScdError::io(&path, e))?;
        }
        let buffered = gz.finish().map_err(|e| ScdError::io(&path, e))?;
        let out = buffered
            .into_inner()
            .map_err(|e| ScdError::io(&path, e.into_error()))?;
        out.sync_all().map_err(|e| ScdError::io(&path, e))?;
        let sha256 = file_sha256(&path)?;
        self.days.push(ArchivedDay {
            day: name,
            file,
            rows: rows.len() as u64,
            certified: rows.iter().filter(|r| r.certification.is_some()).count() as u64,
            sha256,
        });
        Ok(())
    }

    /// Writes the manifest (atomically) and returns it.
    pub(crate) fn finish(self, before_ns: i64) -> Result<ArchiveManifest> {
        let manifest = ArchiveManifest {
            format: ARCHIVE_FORMAT.into(),
            created_at: crate::row::now(),
            before: utc_from_ns(before_ns),
            days: self.days,
        };
        let tmp = self.dir.join("manifest.json.tmp");
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| ScdError::archive(&tmp, e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| ScdError::io(&tmp, e))?;
        let path = self.dir.join(MANIFEST);
        std::fs::rename(&tmp, &path).map_err(|e| ScdError::io(&path, e))?;
        Ok(manifest)
    }
}

fn file_sha256(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| ScdError::io(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| ScdError::io(path, e))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Reads and checks an archive's manifest.
pub fn read_manifest(dir: &Path) -> Result<ArchiveManifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|e| ScdError::io(&path, e))?;
    let manifest: ArchiveManifest =
        serde_json::from_slice(&text).map_err(|e| ScdError::archive(&path, e.to_string()))?;
    if manifest.format != ARCHIVE_FORMAT {
        return Err(ScdError::archive(
            &path,
            format!("unknown format {:?}", manifest.format),
        ));
    }
    for day in &manifest.days {
        if day.file.contains('/') || day.file.contains('\\') || day.file.starts_with('.') {
            return Err(ScdError::archive(
                &path,
                format!("file name {:?} must be a plain name", day.file),
            ));
        }
    }
    Ok(manifest)
}

/// Reads one archived day, checking its checksum and row count.
pub fn read_day(dir: &Path, day: &ArchivedDay) -> Result<Vec<StoredMeasurement>> {
    let path = dir.join(&day.file);
    let sha = file_sha256(&path)?;
    if sha != day.sha256 {
        return Err(ScdError::archive(
            &path,
            format!("SHA-256 {sha} does not match the manifest's {}", day.sha256),
        ));
    }
    let file = File::open(&path).map_err(|e| ScdError::io(&path, e))?;
    let reader = BufReader::new(GzDecoder::new(file));
    let mut rows = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| ScdError::io(&path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: StoredMeasurement = serde_json::from_str(&line)
            .map_err(|e| ScdError::archive(&path, format!("line {}: {e}", i + 1)))?;
        rows.push(row);
    }
    if rows.len() as u64 != day.rows {
        return Err(ScdError::archive(
            &path,
            format!("{} rows, the manifest says {}", rows.len(), day.rows),
        ));
    }
    Ok(rows)
}

/// Reads a whole archive (every day checked) before anything is restored.
pub(crate) fn read_archive(dir: &Path) -> Result<(ArchiveManifest, Vec<Vec<StoredMeasurement>>)> {
    let manifest = read_manifest(dir)?;
    let days = manifest
        .days
        .iter()
        .map(|d| read_day(dir, d))
        .collect::<Result<Vec<_>>>()?;
    Ok((manifest, days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_model::parse_timestamp;

    #[test]
    fn default_hot_window_is_two_months_to_midnight() {
        let now = parse_timestamp("2021-07-15T13:00:00+02:00").unwrap();
        let cut = RetentionPolicy::default().cutoff(now);
        assert_eq!(
            platone_model::format_timestamp(&cut),
            "2021-05-15T00:00:00Z"
        );
    }

    #[test]
    fn damaged_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ArchiveWriter::create(dir.path()).unwrap();
        w.write_day(18_628, &[]).unwrap();
        let m = w.finish(18_629 * DAY_NS).unwrap();
        assert!(ArchiveWriter::create(dir.path()).is_err());
        std::fs::write(dir.path().join(&m.days[0].file), b"garbage").unwrap();
        let err = read_archive(dir.path()).unwrap_err();
        assert!(err.to_string().contains("SHA-256"), "{err}");
    }
}
