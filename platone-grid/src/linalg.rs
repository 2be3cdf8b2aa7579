//! Sparse linear systems: the matrix form the solvers exchange and the [`LinearSolver`] trait,
//! with faer's sparse LU and Cholesky as the embedded engines.

use faer::Side;
use faer::linalg::solvers::Solve;
use faer::mat::MatMut;
use faer::sparse::linalg::solvers::{Llt, Lu, SymbolicLlt, SymbolicLu};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};

use crate::error::{GridError, Result};

/// A square sparse matrix in compressed sparse column form, rows sorted within each column,
/// no duplicates. Built by the crate (the invariants hold by construction).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CscMatrix {
    n: usize,
    col_ptr: Vec<usize>,
    row_idx: Vec<usize>,
    values: Vec<f64>,
}

impl CscMatrix {
    /// Assembles a matrix from its pattern; the caller guarantees sorted, in-range rows.
    pub(crate) fn from_parts(n: usize, col_ptr: Vec<usize>, row_idx: Vec<usize>) -> Self {
        let nnz = row_idx.len();
        CscMatrix {
            n,
            col_ptr,
            row_idx,
            values: vec![0.0; nnz],
        }
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.n
    }

    /// Column pointers (`dim() + 1` entries).
    pub fn col_ptr(&self) -> &[usize] {
        &self.col_ptr
    }

    /// Row indices of the stored entries, column by column.
    pub fn row_idx(&self) -> &[usize] {
        &self.row_idx
    }

    /// The stored values, in the order of [`CscMatrix::row_idx`].
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    pub(crate) fn values_mut(&mut self) -> &mut [f64] {
        &mut self.values
    }

    /// `y = A x`.
    pub fn mul_vec(&self, x: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; self.n];
        for (j, &xj) in x.iter().enumerate().take(self.n) {
            for k in self.col_ptr[j]..self.col_ptr[j + 1] {
                y[self.row_idx[k]] += self.values[k] * xj;
            }
        }
        y
    }

    fn faer(&self) -> SparseColMatRef<'_, usize, f64> {
        let symbolic = SymbolicSparseColMatRef::new_checked(
            self.n,
            self.n,
            &self.col_ptr,
            None,
            &self.row_idx,
        );
        SparseColMatRef::new(symbolic, &self.values)
    }
}

/// Solves sparse linear systems `A x = b`.
///
/// Contract: `solve` overwrites `b` (`nrhs` right-hand sides of length `a.dim()`, column after
/// column) with the solutions, or returns
/// [`GridError::Singular`] naming `what` when `A` cannot be factorised or the solution is not
/// finite. A solver may keep the symbolic analysis of the last pattern and reuse it when the
/// next matrix has the same pattern (Newton iterations do).
pub trait LinearSolver: Send {
    /// Solves `a x = b` in place for `nrhs` right-hand sides.
    fn solve(
        &mut self,
        a: &CscMatrix,
        b: &mut [f64],
        nrhs: usize,
        what: &'static str,
    ) -> Result<()>;
}

/// The default general solver: faer's sparse LU with partial pivoting (fill-reducing COLAMD
/// ordering), keeping the symbolic factorisation across calls with one pattern.
#[derive(Debug, Default)]
pub struct SparseLu {
    pattern: Option<(Vec<usize>, Vec<usize>, SymbolicLu<usize>)>,
}

impl LinearSolver for SparseLu {
    fn solve(
        &mut self,
        a: &CscMatrix,
        b: &mut [f64],
        nrhs: usize,
        what: &'static str,
    ) -> Result<()> {
        let singular = || GridError::Singular { what };
        let reuse = matches!(&self.pattern, Some((c, r, _)) if *c == a.col_ptr && *r == a.row_idx);
        if !reuse {
            let symbolic = SymbolicLu::try_new(a.faer().symbolic()).map_err(|_| singular())?;
            self.pattern = Some((a.col_ptr.clone(), a.row_idx.clone(), symbolic));
        }
        let Some((_, _, symbolic)) = &self.pattern else {
            return Err(singular());
        };
        let lu = Lu::try_new_with_symbolic(symbolic.clone(), a.faer()).map_err(|_| singular())?;
        solve_with(&lu, b, a.n, nrhs, what)
    }
}

/// The default symmetric positive definite solver: faer's sparse Cholesky (supernodal or
/// simplicial, AMD ordering), keeping the symbolic factorisation across calls with one
/// pattern. Reads the lower triangle.
#[derive(Debug, Default)]
pub struct SparseCholesky {
    pattern: Option<(Vec<usize>, Vec<usize>, SymbolicLlt<usize>)>,
}

impl LinearSolver for SparseCholesky {
    fn solve(
        &mut self,
        a: &CscMatrix,
        b: &mut [f64],
        nrhs: usize,
        what: &'static str,
    ) -> Result<()> {
        let singular = || GridError::Singular { what };
        let reuse = matches!(&self.pattern, Some((c, r, _)) if *c == a.col_ptr && *r == a.row_idx);
        if !reuse {
            let symbolic =
                SymbolicLlt::try_new(a.faer().symbolic(), Side::Lower).map_err(|_| singular())?;
            self.pattern = Some((a.col_ptr.clone(), a.row_idx.clone(), symbolic));
        }
        let Some((_, _, symbolic)) = &self.pattern else {
            return Err(singular());
        };
        let llt = Llt::try_new_with_symbolic(symbolic.clone(), a.faer(), Side::Lower)
            .map_err(|_| singular())?;
        solve_with(&llt, b, a.n, nrhs, what)
    }
}

fn solve_with<S: Solve<f64>>(
    factor: &S,
    b: &mut [f64],
    n: usize,
    nrhs: usize,
    what: &'static str,
) -> Result<()> {
    if b.len() != n * nrhs {
        return Err(GridError::Singular { what });
    }
    let rhs = MatMut::from_column_major_slice_mut(b, n, nrhs);
    factor.solve_in_place(rhs);
    if b.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(GridError::Singular { what })
    }
}

/// Builds a CSC pattern from (row, column) pairs; duplicates merged. Returns the matrix and,
/// for every input pair, the position of its value.
pub(crate) fn pattern(n: usize, entries: &[(usize, usize)]) -> (CscMatrix, Vec<usize>) {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by_key(|&k| (entries[k].1, entries[k].0));
    let mut col_ptr = vec![0usize; n + 1];
    let mut row_idx = Vec::with_capacity(entries.len());
    let mut slot = vec![0usize; entries.len()];
    let mut last: Option<(usize, usize)> = None;
    for &k in &order {
        let (r, c) = entries[k];
        if last != Some((r, c)) {
            row_idx.push(r);
            col_ptr[c + 1] += 1;
            last = Some((r, c));
        }
        slot[k] = row_idx.len() - 1;
    }
    for j in 0..n {
        col_ptr[j + 1] += col_ptr[j];
    }
    (CscMatrix::from_parts(n, col_ptr, row_idx), slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lu_and_cholesky_solve_a_small_system() {
        // [[4, 1], [1, 3]] x = [1, 2]
        let (mut a, slot) = pattern(2, &[(0, 0), (1, 0), (0, 1), (1, 1)]);
        for (k, v) in [4.0, 1.0, 1.0, 3.0].into_iter().enumerate() {
            a.values_mut()[slot[k]] = v;
        }
        let expected = [1.0 / 11.0, 7.0 / 11.0];
        let mut b = [1.0, 2.0];
        SparseLu::default().solve(&a, &mut b, 1, "test").unwrap();
        assert!((b[0] - expected[0]).abs() < 1e-14 && (b[1] - expected[1]).abs() < 1e-14);
        let mut b = [1.0, 2.0];
        SparseCholesky::default()
            .solve(&a, &mut b, 1, "test")
            .unwrap();
        assert!((b[0] - expected[0]).abs() < 1e-14 && (b[1] - expected[1]).abs() < 1e-14);
    }

    #[test]
    fn a_singular_matrix_is_reported() {
        let (mut a, slot) = pattern(2, &[(0, 0), (1, 0), (0, 1), (1, 1)]);
        for (k, v) in [1.0, 1.0, 1.0, 1.0].into_iter().enumerate() {
            a.values_mut()[slot[k]] = v;
        }
        let mut b = [1.0, 2.0];
        assert!(
            SparseCholesky::default()
                .solve(&a, &mut b, 1, "test")
                .is_err()
        );
    }
}
