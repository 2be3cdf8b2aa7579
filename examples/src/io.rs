//! Opening inputs and outputs the way every command does: a path, or `-` for standard
//! input/output.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use crate::error::{CliError, CliResult};

/// Opens `path` for buffered reading; `-` is standard input.
pub fn open_input(path: &Path) -> CliResult<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(io::stdin().lock())));
    }
    let file = File::open(path)
        .map_err(|e| CliError::input(format!("{}: cannot open: {e}", path.display())))?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, file)))
}

/// Opens `path` for buffered writing, creating or truncating it; `None` or `-` is standard
/// output.
pub fn open_output(path: Option<&Path>) -> CliResult<Box<dyn Write>> {
    match path {
        None => Ok(Box::new(BufWriter::new(io::stdout().lock()))),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(BufWriter::new(io::stdout().lock()))),
        Some(p) => {
            let file = File::create(p)
                .map_err(|e| CliError::input(format!("{}: cannot create: {e}", p.display())))?;
            Ok(Box::new(BufWriter::new(file)))
        }
    }
}

/// Turns a write failure into an input/output error.
pub fn write_failed(e: io::Error) -> CliError {
    CliError::input(format!("cannot write output: {e}"))
}
