//! Reading MATPOWER case files (`.m`, version 2).
//!
//! The reader understands the subset of MATLAB that case files use: `function mpc = name`,
//! `mpc.field = value;` with a number, a quoted string, a matrix in brackets (rows ended by `;`
//! or a new line, values separated by blanks or commas, `...` continuations) or a cell array in
//! braces (skipped), and `%` comments anywhere. `baseMVA`, `bus`, `gen` and `branch` are used;
//! other fields (`gencost`, `areas`, `bus_name` …) are read and ignored.

use crate::error::{GridError, Result};
use crate::network::{Branch, Bus, BusType, Generator, Network};

/// A number read from the case file with where it was.
#[derive(Debug, Clone, Copy)]
struct Cell {
    value: f64,
    line: usize,
    column: usize,
}

/// A matrix read from the case file: rows of located numbers.
#[derive(Debug, Default)]
struct Matrix {
    rows: Vec<Vec<Cell>>,
    line: usize,
    column: usize,
}

/// A byte cursor that knows its line and column.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    column: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor {
            bytes,
            pos: 0,
            line: 1,
            column: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(b)
    }

    fn error(&self, message: impl Into<String>) -> GridError {
        GridError::Case {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    /// Skips to the end of the line, leaving the newline unread.
    fn skip_line(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'\n' {
                break;
            }
            self.bump();
        }
    }

    /// Skips blanks (not newlines) and comments.
    fn skip_blanks(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' => {
                    self.bump();
                }
                b'%' | b'#' => self.skip_line(),
                b'.' if self.peek_at(1) == Some(b'.') && self.peek_at(2) == Some(b'.') => {
                    // A continuation: the rest of the line and its newline are blank.
                    self.skip_line();
                    self.bump();
                }
                _ => break,
            }
        }
    }

    /// Skips blanks, comments and newlines.
    fn skip_space(&mut self) {
        loop {
            self.skip_blanks();
            match self.peek() {
                Some(b'\n') => {
                    self.bump();
                }
                _ => break,
            }
        }
    }

    fn identifier(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
                self.bump();
            } else {
                break;
            }
        }
        // Only ASCII bytes were taken, so this is valid UTF-8.
        std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("")
    }

    fn number(&mut self) -> Result<Cell> {
        let (line, column, start) = (self.line, self.column, self.pos);
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-') {
                // A sign only starts a number or follows an exponent.
                if matches!(b, b'+' | b'-')
                    && self.pos > start
                    && !matches!(self.bytes[self.pos - 1], b'e' | b'E')
                {
                    break;
                }
                self.bump();
            } else {
                break;
            }
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(value) => Ok(Cell {
                value,
                line,
                column,
            }),
            Err(_) => Err(GridError::Case {
                line,
                column,
                message: format!("expected a number, found {text:?}"),
            }),
        }
    }

    fn quoted(&mut self) -> Result<()> {
        let quote = self.bump();
        loop {
            match self.bump() {
                None | Some(b'\n') => return Err(self.error("unterminated string")),
                Some(b) if Some(b) == quote => {
                    // MATLAB doubles a quote to escape it.
                    if self.peek() == quote {
                        self.bump();
                    } else {
                        return Ok(());
                    }
                }
                Some(_) => {}
            }
        }
    }

    fn matrix(&mut self) -> Result<Matrix> {
        let mut matrix = Matrix {
            rows: Vec::new(),
            line: self.line,
            column: self.column,
        };
        self.bump(); // '['
        let mut row = Vec::new();
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Err(self.error("matrix not closed with ']'")),
                Some(b']') => {
                    self.bump();
                    if !row.is_empty() {
                        matrix.rows.push(row);
                    }
                    return Ok(matrix);
                }
                Some(b';' | b'\n') => {
                    self.bump();
                    if !row.is_empty() {
                        matrix.rows.push(std::mem::take(&mut row));
                    }
                }
                Some(b',') => {
                    self.bump();
                }
                Some(b)
                    if b.is_ascii_digit()
                        || matches!(b, b'.' | b'+' | b'-' | b'I' | b'i' | b'N' | b'n') =>
                {
                    row.push(self.number()?);
                }
                Some(b) => {
                    return Err(self.error(format!("unexpected {:?} in a matrix", char::from(b))));
                }
            }
        }
    }

    fn cell_array(&mut self) -> Result<()> {
        self.bump(); // '{'
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Err(self.error("cell array not closed with '}'")),
                Some(b'}') => {
                    self.bump();
                    return Ok(());
                }
                Some(b'\'' | b'"') => self.quoted()?,
                Some(_) => {
                    self.bump();
                }
            }
        }
    }
}

/// The fields read from a case file.
#[derive(Debug, Default)]
struct Fields {
    base_mva: Option<f64>,
    version: Option<String>,
    bus: Option<Matrix>,
    generators: Option<Matrix>,
    branch: Option<Matrix>,
}

/// Reads a MATPOWER case from its text.
///
/// Errors give the line and column of the case file; network inconsistencies (unknown buses,
/// duplicate numbers) name the table row.
pub fn parse_case(text: &str) -> Result<Network> {
    parse_case_bytes(text.as_bytes())
}

/// Reads a MATPOWER case from bytes (which need not be UTF-8 outside comments and strings).
pub fn parse_case_bytes(bytes: &[u8]) -> Result<Network> {
    let fields = read_fields(bytes)?;
    if let Some(v) = &fields.version
        && v != "2"
    {
        return Err(GridError::Network {
            place: "mpc.version".into(),
            message: format!("version {v:?} is not supported (only version 2)"),
        });
    }
    let base_mva = fields.base_mva.ok_or_else(|| missing("baseMVA"))?;
    let bus = fields.bus.ok_or_else(|| missing("bus"))?;
    let gen_rows = fields.generators.unwrap_or_default();
    let branch = fields.branch.ok_or_else(|| missing("branch"))?;
    let buses = bus_table(&bus)?;
    let generators = gen_table(&gen_rows)?;
    let branches = branch_table(&branch)?;
    Network::new(base_mva, buses, generators, branches)
}

fn missing(field: &str) -> GridError {
    GridError::Network {
        place: format!("mpc.{field}"),
        message: "missing".into(),
    }
}

fn read_fields(bytes: &[u8]) -> Result<Fields> {
    let mut c = Cursor::new(bytes);
    let mut fields = Fields::default();
    loop {
        c.skip_space();
        let Some(b) = c.peek() else { break };
        if b == b';' {
            c.bump();
            continue;
        }
        if !(b.is_ascii_alphabetic() || b == b'_') {
            return Err(c.error(format!("unexpected {:?}", char::from(b))));
        }
        let (line, column) = (c.line, c.column);
        let name = c.identifier();
        if name == "function" || name == "end" || name == "return" {
            c.skip_line();
            continue;
        }
        let Some((_, field)) = name.split_once('.') else {
            return Err(GridError::Case {
                line,
                column,
                message: format!("unexpected statement {name:?}"),
            });
        };
        c.skip_blanks();
        if c.peek() != Some(b'=') {
            return Err(c.error(format!("expected '=' after {name}")));
        }
        c.bump();
        c.skip_blanks();
        match c.peek() {
            Some(b'[') => {
                let m = c.matrix()?;
                match field {
                    "bus" => fields.bus = Some(m),
                    "gen" => fields.generators = Some(m),
                    "branch" => fields.branch = Some(m),
                    _ => {}
                }
            }
            Some(b'{') => c.cell_array()?,
            Some(b'\'' | b'"') => {
                let start = c.pos + 1;
                c.quoted()?;
                if field == "version" {
                    let text = String::from_utf8_lossy(&c.bytes[start..c.pos - 1]).into_owned();
                    fields.version = Some(text);
                }
            }
            Some(_) => {
                let n = c.number()?;
                match field {
                    "baseMVA" => fields.base_mva = Some(n.value),
                    "version" => fields.version = Some(format!("{}", n.value)),
                    _ => {}
                }
            }
            None => return Err(c.error(format!("expected a value for {name}"))),
        }
        c.skip_blanks();
        match c.peek() {
            Some(b';') => {
                c.bump();
            }
            None | Some(b'\n') => {}
            Some(b) => return Err(c.error(format!("unexpected {:?} after {name}", char::from(b)))),
        }
    }
    Ok(fields)
}

fn check_row(table: &str, m: &Matrix, i: usize, row: &[Cell], min: usize) -> Result<()> {
    if row.len() < min {
        let at = row
            .first()
            .map_or((m.line, m.column), |c| (c.line, c.column));
        return Err(GridError::Case {
            line: at.0,
            column: at.1,
            message: format!(
                "{table} row {} has {} columns, needs at least {min}",
                i + 1,
                row.len()
            ),
        });
    }
    Ok(())
}

fn finite(c: Cell, what: &str) -> Result<f64> {
    if c.value.is_nan() {
        return Err(GridError::Case {
            line: c.line,
            column: c.column,
            message: format!("{what} is NaN"),
        });
    }
    Ok(c.value)
}

fn bus_number(c: Cell, what: &str) -> Result<u64> {
    let v = c.value;
    if !(v >= 1.0 && v.fract() == 0.0 && v < 9.0e15) {
        return Err(GridError::Case {
            line: c.line,
            column: c.column,
            message: format!("{what} must be a positive whole number, found {v}"),
        });
    }
    Ok(v as u64)
}

fn bus_table(m: &Matrix) -> Result<Vec<Bus>> {
    let mut buses = Vec::with_capacity(m.rows.len());
    for (i, r) in m.rows.iter().enumerate() {
        check_row("bus", m, i, r, 13)?;
        let t = r[1].value;
        let kind = if t == 1.0 {
            BusType::Pq
        } else if t == 2.0 {
            BusType::Pv
        } else if t == 3.0 {
            BusType::Slack
        } else if t == 4.0 {
            BusType::Isolated
        } else {
            {
                return Err(GridError::Case {
                    line: r[1].line,
                    column: r[1].column,
                    message: format!("bus type must be 1, 2, 3 or 4, found {t}"),
                });
            }
        };
        buses.push(Bus {
            number: bus_number(r[0], "bus number")?,
            kind,
            pd: finite(r[2], "Pd")?,
            qd: finite(r[3], "Qd")?,
            gs: finite(r[4], "Gs")?,
            bs: finite(r[5], "Bs")?,
            area: r[6].value,
            vm: finite(r[7], "Vm")?,
            va: finite(r[8], "Va")?,
            base_kv: finite(r[9], "baseKV")?,
            zone: r[10].value,
            vmax: r[11].value,
            vmin: r[12].value,
        });
    }
    Ok(buses)
}

fn gen_table(m: &Matrix) -> Result<Vec<Generator>> {
    let mut gens = Vec::with_capacity(m.rows.len());
    for (i, r) in m.rows.iter().enumerate() {
        check_row("gen", m, i, r, 8)?;
        gens.push(Generator {
            bus: bus_number(r[0], "generator bus")?,
            pg: finite(r[1], "Pg")?,
            qg: finite(r[2], "Qg")?,
            qmax: r[3].value,
            qmin: r[4].value,
            vg: finite(r[5], "Vg")?,
            mbase: r[6].value,
            in_service: r[7].value > 0.0,
            pmax: r.get(8).map_or(f64::INFINITY, |c| c.value),
            pmin: r.get(9).map_or(f64::NEG_INFINITY, |c| c.value),
        });
    }
    Ok(gens)
}

fn branch_table(m: &Matrix) -> Result<Vec<Branch>> {
    let mut branches = Vec::with_capacity(m.rows.len());
    for (i, r) in m.rows.iter().enumerate() {
        check_row("branch", m, i, r, 11)?;
        branches.push(Branch {
            from: bus_number(r[0], "from bus")?,
            to: bus_number(r[1], "to bus")?,
            r: finite(r[2], "r")?,
            x: finite(r[3], "x")?,
            b: finite(r[4], "b")?,
            rate_a: r[5].value,
            rate_b: r[6].value,
            rate_c: r[7].value,
            ratio: finite(r[8], "ratio")?,
            shift: finite(r[9], "angle")?,
            in_service: r[10].value > 0.0,
        });
    }
    Ok(branches)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = "function mpc = t\nmpc.version = '2';\nmpc.baseMVA = 100;\n\
        mpc.bus = [1 3 0 0 0 0 1 1 0 230 1 1.1 0.9;\n 2 1 50 10 0 0 1 1 0 230 1 1.1 0.9\n];\n\
        mpc.gen = [1, 0, 0, 100, -100, 1.02, 100, 1, 200, 0]; % a comment\n\
        mpc.branch = [\n 1 2 0.01 0.1 0.02 100 100 100 0 0 1 -360 360; ...\n];\n\
        mpc.bus_name = { 'a'; 'b' };\n";

    #[test]
    fn reads_a_small_case() {
        let n = parse_case(CASE).unwrap();
        assert_eq!(n.base_mva, 100.0);
        assert_eq!(n.buses.len(), 2);
        assert_eq!(n.buses[1].pd, 50.0);
        assert_eq!(n.generators[0].vg, 1.02);
        assert_eq!(n.branches[0].x, 0.1);
    }

    #[test]
    fn locates_a_bad_number() {
        let text = CASE.replace("0.01 0.1", "0.01 0.x1");
        match parse_case(&text) {
            Err(GridError::Case { line, column, .. }) => assert_eq!((line, column), (9, 11)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn locates_a_short_row() {
        let text = CASE.replace(" 2 1 50 10 0 0 1 1 0 230 1 1.1 0.9", " 2 1 50 10");
        match parse_case(&text) {
            Err(GridError::Case {
                line,
                column,
                message,
            }) => {
                assert_eq!((line, column), (5, 2), "{message}");
                assert!(message.contains("bus row 2"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reports_an_unknown_branch_bus() {
        let text = CASE.replace(" 1 2 0.01", " 1 9 0.01");
        match parse_case(&text) {
            Err(GridError::Network { place, .. }) => assert_eq!(place, "branch row 1"),
            other => panic!("{other:?}"),
        }
    }
}
