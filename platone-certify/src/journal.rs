//! Append-only JSON-lines files shared by the file ledger and the file device registry: every
//! record is one line ending in `\n`, written whole and fsync'd before it is acknowledged. A
//! last line without its `\n` is a torn tail left by a crash during an unacknowledged write.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::{FileExt, TryLockError};

use crate::error::{CertifyError, Result};

/// One complete line of a journal.
pub(crate) struct Line<'a> {
    /// Its number, from 0.
    pub number: u64,
    /// Byte offset of its start.
    pub offset: u64,
    /// The line without its `\n`.
    pub text: &'a [u8],
}

/// Splits a journal's bytes into complete lines; returns them and the length of the
/// complete part (everything after it is a torn tail).
pub(crate) fn split_lines(bytes: &[u8]) -> (Vec<Line<'_>>, usize) {
    let mut lines = Vec::new();
    let mut start = 0usize;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            lines.push(Line {
                number: lines.len() as u64,
                offset: start as u64,
                text: &bytes[start..i],
            });
            start = i + 1;
        }
    }
    (lines, start)
}

/// Reads a whole file (empty when it does not exist).
pub(crate) fn read_all(path: &Path) -> Result<Vec<u8>> {
    match File::open(path) {
        Ok(mut f) => {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)
                .map_err(|e| CertifyError::io(path, e))?;
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(CertifyError::io(path, e)),
    }
}

/// The length of the complete lines of a file of `len` bytes: up to and including its last
/// `\n`, found by reading backwards from the end (a torn tail is at most one entry long).
pub(crate) fn complete_len(file: &mut File, path: &Path, len: u64) -> Result<u64> {
    const STEP: u64 = 64 * 1024;
    let mut end = len;
    let mut buffer = vec![0u8; STEP as usize];
    while end > 0 {
        let start = end.saturating_sub(STEP);
        let chunk = &mut buffer[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(chunk))
            .map_err(|e| CertifyError::io(path, e))?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// A journal opened for appending, holding the single-writer lock.
#[derive(Debug)]
pub(crate) struct Writer {
    path: PathBuf,
    file: File,
    len: u64,
}

impl Writer {
    /// Opens (creating) `path` for appending and takes the exclusive lock; returns the writer
    /// and the file's bytes (torn tail already cut off the file and out of the bytes).
    pub fn open(path: &Path) -> Result<(Self, Vec<u8>, u64)> {
        let (writer, torn) = Self::open_cut(path)?;
        let bytes = read_all(path)?;
        Ok((writer, bytes, torn))
    }

    /// Opens (creating) `path` for appending and takes the exclusive lock, without reading
    /// the file: a torn tail (bytes after the last `\n`, found by reading backwards from the
    /// end) is cut, with a warning. Returns the writer and how many bytes were cut.
    pub fn open_cut(path: &Path) -> Result<(Self, u64)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| CertifyError::io(path, e))?;
        // Called through the trait: std's inherent `File::try_lock` is newer than our MSRV.
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(CertifyError::Locked(path.to_path_buf()));
            }
            Err(TryLockError::Error(e)) => return Err(CertifyError::io(path, e)),
        }
        let len = file
            .metadata()
            .map_err(|e| CertifyError::io(path, e))?
            .len();
        let complete = complete_len(&mut file, path, len)?;
        let torn = len - complete;
        if torn > 0 {
            tracing::warn!(
                file = %path.display(),
                bytes = torn,
                "cutting a torn tail left by an interrupted write (never acknowledged)"
            );
            file.set_len(complete)
                .map_err(|e| CertifyError::io(path, e))?;
            file.sync_all().map_err(|e| CertifyError::io(path, e))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| CertifyError::io(path, e))?;
        sync_dir(parent_dir(path))?;
        Ok((
            Writer {
                path: path.to_path_buf(),
                len: complete,
                file,
            },
            torn,
        ))
    }

    /// The file's length (complete lines only).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends `data` (whole lines, each ending in `\n`) and fsyncs before returning.
    /// On failure the file is cut back to its previous length, so that a later append does
    /// not follow a partial line.
    pub fn append(&mut self, data: &[u8]) -> Result<()> {
        let written = self
            .file
            .write_all(data)
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += data.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                let _ = self.file.seek(SeekFrom::End(0));
                Err(CertifyError::io(&self.path, e))
            }
        }
    }
}

/// Makes a directory's entries (a new file, a rename) durable. Directories cannot be opened
/// for syncing on every platform; where they can (Unix), a failure is an error.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| CertifyError::io(dir, e))?;
        d.sync_all().map_err(|e| CertifyError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `path` (refusing an existing file) with mode 0600 on Unix from the start, writes
/// `secret`, and makes file and directory entry durable.
pub(crate) fn write_secret(path: &Path, secret: &[u8]) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| CertifyError::io(path, e))?;
    file.write_all(secret)
        .and_then(|()| file.sync_all())
        .map_err(|e| CertifyError::io(path, e))?;
    sync_dir(parent_dir(path))
}
