//! `optimal`: social-welfare maximisation over the whole horizon as a MILP.
//!
//! Variables: accepted quantity `d_r ∈ [0, q_r]` per request and `a_o ∈ [0, q_o]` per offer;
//! one binary `z_b` per block with `a_o = q_o z_b` for its members. Objective:
//! `max Σ v_r d_r − Σ p_o a_o`. Balance per demand group: the requests of one slot and
//! direction that may take the same offers under the location rule — the slot-wide group
//! (TSO requests, and every request under `any`) and, under `same-bus` and `area`, one group
//! per location of local requests. `Σ a_o = Σ d_r` per group, an offer that may serve several
//! groups being split between them, an offer no request may take fixed at 0. With a network,
//! every branch flow `f0 + Σ_n PTDF[l][n] Δinj_n` also stays within the branch bounds (PTDF
//! form).
//!
//! Prices: with HiGHS the blocks are fixed at their MILP values, the LP is solved again and the
//! price of a slot and direction is the dual of its balance constraint. The pure-Rust backend
//! reports no duals, so there the price is the highest price among the offers accepted in that
//! slot and direction (the marginal accepted offer, as in `pay-as-clear`).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use good_lp::{Expression, ProblemVariables, Solution, SolverModel, Variable, variable};

use super::{
    ClearingAlgorithm, ClearingConfig, ClearingResult, Diagnostics, QUANTITY_EPSILON, assemble,
    request_value, with_diagnostics,
};
use crate::error::{MarketError, Result};
use crate::location::{Locality, LocationRule, unbalanceable_blocks};
use crate::order::Direction;
use crate::scenario::Scenario;
use crate::validation::Cut;

/// The solver used for the MILP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SolverBackend {
    /// The pure-Rust `microlp` solver (always available; no dual values).
    MicroLp,
    /// HiGHS (needs the `highs` cargo feature; duals give the prices).
    Highs,
}

impl SolverBackend {
    /// The backend's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SolverBackend::MicroLp => "microlp",
            SolverBackend::Highs => "highs",
        }
    }
}

impl Default for SolverBackend {
    /// HiGHS when built with the `highs` feature, else microlp.
    fn default() -> Self {
        if cfg!(feature = "highs") {
            SolverBackend::Highs
        } else {
            SolverBackend::MicroLp
        }
    }
}

/// Welfare-maximising clearing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Optimal {
    /// Shared options.
    pub config: ClearingConfig,
    /// The MILP solver.
    pub backend: SolverBackend,
}

/// Linear terms: (variable, coefficient).
type Terms = Vec<(usize, f64)>;
/// Balance groups: (slot × 2 + direction, location of local requests or `None` for the
/// slot-wide group) → (terms of the balance row, index of a request of the group).
type Groups<'a> = BTreeMap<(usize, Option<&'a str>), (Terms, usize)>;
/// Builds a solver expression from terms.
type ExprFn<'a> = dyn Fn(&[(usize, f64)]) -> Expression + 'a;

/// A solver-independent description of the model.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// (lower, upper, binary)
    pub vars: Vec<(f64, f64, bool)>,
    pub objective: Vec<(usize, f64)>,
    /// (terms, lower, upper); lower == upper for equalities.
    pub rows: Vec<(Terms, f64, f64)>,
}

impl Model {
    fn var(&mut self, lo: f64, hi: f64, binary: bool) -> usize {
        self.vars.push((lo, hi, binary));
        self.vars.len() - 1
    }
    fn row(&mut self, terms: Vec<(usize, f64)>, lo: f64, hi: f64) -> usize {
        self.rows.push((terms, lo, hi));
        self.rows.len() - 1
    }
}

struct Built {
    model: Model,
    offer_var: Vec<usize>,
    request_var: Vec<usize>,
    block_vars: Vec<usize>,
    /// (slot, direction, row, is the slot-wide row)
    balance_rows: Vec<(usize, Direction, usize, bool)>,
}

fn build(scenario: &Scenario, config: &ClearingConfig, locality: &Locality<'_>) -> Built {
    let book = &scenario.book;
    let mut m = Model::default();
    let request_var: Vec<usize> = book
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let v = m.var(0.0, r.quantity, false);
            m.objective.push((v, request_value(book, i, config)));
            v
        })
        .collect();
    let offer_var: Vec<usize> = book
        .offers
        .iter()
        .map(|o| {
            let v = m.var(0.0, o.quantity, false);
            m.objective.push((v, -o.price));
            v
        })
        .collect();
    let mut block_vars = Vec::new();
    for (_, members) in book.blocks() {
        let z = m.var(0.0, 1.0, true);
        block_vars.push(z);
        for i in members {
            if let (Some(&v), Some(o)) = (offer_var.get(i), book.offers.get(i)) {
                m.row(vec![(v, 1.0), (z, -o.quantity)], 0.0, 0.0);
            }
        }
    }
    let key = |slot: usize, d: Direction| slot * 2 + d.index();
    let direction = |k: usize| {
        if k.is_multiple_of(2) {
            Direction::Up
        } else {
            Direction::Down
        }
    };
    // Demand groups: requests of one slot and direction that may take the same offers. TSO
    // requests (and every request under `any`) form the slot-wide group (location `None`);
    // otherwise local requests are grouped by location. Each group has one balance row.
    let mut groups: Groups<'_> = BTreeMap::new();
    for (i, (r, &v)) in book.requests.iter().zip(&request_var).enumerate() {
        let location =
            (locality.rule() != LocationRule::Any && r.is_local()).then_some(r.location.as_str());
        groups
            .entry((key(r.slot, r.direction), location))
            .or_insert_with(|| (Vec::new(), i))
            .0
            .push((v, -1.0));
    }
    for (o, &a) in book.offers.iter().zip(&offer_var) {
        let k = key(o.slot, o.direction);
        let mine: Vec<(usize, Option<&str>)> = groups
            .range((k, None)..)
            .take_while(|(g, _)| g.0 == k)
            .filter(|(_, (_, first))| {
                book.requests
                    .get(*first)
                    .is_some_and(|r| locality.allows(o, r))
            })
            .map(|(g, _)| *g)
            .collect();
        match mine.as_slice() {
            // No request may take it: never accepted.
            [] => {
                if let Some(var) = m.vars.get_mut(a) {
                    var.1 = 0.0;
                }
            }
            [only] => {
                if let Some(g) = groups.get_mut(only) {
                    g.0.push((a, 1.0));
                }
            }
            several => {
                // a_o is split between the groups it may serve.
                let mut split = vec![(a, 1.0)];
                for g in several {
                    let s = m.var(0.0, o.quantity, false);
                    if let Some(g) = groups.get_mut(g) {
                        g.0.push((s, 1.0));
                    }
                    split.push((s, -1.0));
                }
                m.row(split, 0.0, 0.0);
            }
        }
    }
    let mut balance_rows = Vec::new();
    for ((k, location), (terms, _)) in groups {
        let row = m.row(terms, 0.0, 0.0);
        balance_rows.push((k / 2, direction(k), row, location.is_none()));
    }
    if let Some(net) = &scenario.network {
        // Injection change per slot and bus.
        let mut injections: HashMap<usize, Vec<(usize, usize, f64)>> = HashMap::new();
        for (o, &v) in book.offers.iter().zip(&offer_var) {
            let sign = if o.direction == Direction::Up {
                1.0
            } else {
                -1.0
            };
            if let Some(b) = net.bus(&o.location) {
                injections.entry(o.slot).or_default().push((b, v, sign));
            }
        }
        for (r, &v) in book.requests.iter().zip(&request_var) {
            let sign = if r.direction == Direction::Up {
                -1.0
            } else {
                1.0
            };
            if let Some(b) = net.bus(&r.location) {
                injections.entry(r.slot).or_default().push((b, v, sign));
            }
        }
        let mut slots: Vec<usize> = injections.keys().copied().collect();
        slots.sort_unstable();
        for t in slots {
            let Some(inj) = injections.get(&t) else {
                continue;
            };
            let base = net.base_flows(t);
            for (l, row) in net.ptdf().iter().enumerate() {
                let mut coef: HashMap<usize, f64> = HashMap::new();
                for &(b, v, sign) in inj {
                    let p = row.get(b).copied().unwrap_or(0.0);
                    if p.abs() > 1e-12 {
                        *coef.entry(v).or_default() += sign * p;
                    }
                }
                let mut terms: Vec<(usize, f64)> =
                    coef.into_iter().filter(|(_, c)| c.abs() > 1e-12).collect();
                if terms.is_empty() {
                    continue;
                }
                terms.sort_unstable_by_key(|t| t.0);
                let (lo, hi) = net.bounds(t, l);
                let f0 = base.get(l).copied().unwrap_or(0.0);
                m.row(terms, lo - f0, hi - f0);
            }
        }
    }
    Built {
        model: m,
        offer_var,
        request_var,
        block_vars,
        balance_rows,
    }
}

/// Solves a model; returns variable values and, when asked and supported, row duals.
fn solve(
    model: &Model,
    backend: SolverBackend,
    duals: bool,
) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
    if model.vars.is_empty() {
        // Nothing to decide (an empty book); HiGHS refuses an empty model.
        return Ok((Vec::new(), duals.then(|| vec![0.0; model.rows.len()])));
    }
    let mut pv = ProblemVariables::new();
    let vars: Vec<Variable> = model
        .vars
        .iter()
        .map(|&(lo, hi, binary)| {
            if binary && lo != hi {
                pv.add(variable().binary())
            } else {
                pv.add(variable().min(lo).max(hi))
            }
        })
        .collect();
    let mut objective = Expression::with_capacity(model.objective.len());
    for &(v, c) in &model.objective {
        if let Some(&var) = vars.get(v) {
            objective.add_mul(c, var);
        }
    }
    let expr = |terms: &[(usize, f64)]| {
        let mut e = Expression::with_capacity(terms.len());
        for &(v, c) in terms {
            if let Some(&var) = vars.get(v) {
                e.add_mul(c, var);
            }
        }
        e
    };
    let solver_err = |e: good_lp::ResolutionError| MarketError::Solver {
        backend: backend.as_str(),
        message: e.to_string(),
    };
    let problem = pv.maximise(objective);
    match backend {
        SolverBackend::MicroLp => {
            let mut p = problem.using(good_lp::solvers::microlp::microlp);
            for (terms, lo, hi) in &model.rows {
                add_row(&mut p, expr(terms), *lo, *hi);
            }
            let s = p.solve().map_err(solver_err)?;
            Ok((vars.iter().map(|&v| s.value(v)).collect(), None))
        }
        SolverBackend::Highs => solve_highs(problem, model, &vars, &expr, duals, solver_err),
    }
}

fn add_row<M: SolverModel>(
    p: &mut M,
    e: Expression,
    lo: f64,
    hi: f64,
) -> Vec<good_lp::constraint::ConstraintReference> {
    if lo == hi {
        vec![p.add_constraint(e.eq(lo))]
    } else {
        let mut refs = Vec::new();
        if lo.is_finite() {
            refs.push(p.add_constraint(e.clone().geq(lo)));
        }
        if hi.is_finite() {
            refs.push(p.add_constraint(e.leq(hi)));
        }
        refs
    }
}

#[cfg(feature = "highs")]
fn solve_highs(
    problem: good_lp::variable::UnsolvedProblem,
    model: &Model,
    vars: &[Variable],
    expr: &ExprFn<'_>,
    duals: bool,
    solver_err: impl Fn(good_lp::ResolutionError) -> MarketError,
) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
    use good_lp::{DualValues, SolutionWithDual};
    let mut p = problem
        .using(good_lp::solvers::highs::highs)
        .set_threads(1)
        .set_mip_rel_gap(0.0)
        .map_err(|e| MarketError::Solver {
            backend: "highs",
            message: e.to_string(),
        })?;
    p.set_verbose(false);
    let mut refs = Vec::with_capacity(model.rows.len());
    for (terms, lo, hi) in &model.rows {
        refs.push(add_row(&mut p, expr(terms), *lo, *hi));
    }
    let mut s = p.solve().map_err(solver_err)?;
    let values: Vec<f64> = vars.iter().map(|&v| s.value(v)).collect();
    if !duals {
        return Ok((values, None));
    }
    let d = s.compute_dual();
    let row_duals = refs
        .iter()
        .map(|r| r.first().map_or(0.0, |c| d.dual(c.clone())))
        .collect();
    Ok((values, Some(row_duals)))
}

#[cfg(not(feature = "highs"))]
fn solve_highs(
    _problem: good_lp::variable::UnsolvedProblem,
    _model: &Model,
    _vars: &[Variable],
    _expr: &ExprFn<'_>,
    _duals: bool,
    _solver_err: impl Fn(good_lp::ResolutionError) -> MarketError,
) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
    Err(MarketError::Config(
        "the highs backend needs platone-market built with the `highs` feature".into(),
    ))
}

fn clean(value: f64, max: f64) -> f64 {
    if value <= QUANTITY_EPSILON * 100.0 {
        0.0
    } else if value >= max - QUANTITY_EPSILON * 100.0 {
        max
    } else {
        value
    }
}

impl ClearingAlgorithm for Optimal {
    fn name(&self) -> &'static str {
        "optimal"
    }

    fn clear_with_diagnostics(&self, scenario: &Scenario) -> Result<(ClearingResult, Diagnostics)> {
        let started = Instant::now();
        let book = &scenario.book;
        let locality = Locality::new(
            self.config.location_rule_for(scenario, LocationRule::Any),
            self.config.area_hops,
            scenario,
        );
        let mut built = build(scenario, &self.config, &locality);
        let has_blocks = !built.block_vars.is_empty();
        let (values, duals) = solve(&built.model, self.backend, !has_blocks)?;
        let mut rejected_blocks = Vec::new();
        for ((block, _), &z) in book.blocks().iter().zip(&built.block_vars) {
            let fixed = if values.get(z).copied().unwrap_or(0.0) > 0.5 {
                1.0
            } else {
                0.0
            };
            if fixed == 0.0 {
                rejected_blocks.push(block.clone());
            }
            if let Some(var) = built.model.vars.get_mut(z) {
                *var = (fixed, fixed, true);
            }
        }
        let mut notes = vec![format!(
            "{} variables, {} constraints, backend {}",
            built.model.vars.len(),
            built.model.rows.len(),
            self.backend.as_str()
        )];
        // With blocks, fix them and solve the LP again for the balance duals (HiGHS only).
        let (values, duals) = if has_blocks && self.backend == SolverBackend::Highs {
            solve(&built.model, self.backend, true)?
        } else {
            (values, duals)
        };
        let value = |v: usize| values.get(v).copied().unwrap_or(0.0);
        let offer_q: Vec<f64> = book
            .offers
            .iter()
            .zip(&built.offer_var)
            .map(|(o, &v)| clean(value(v), o.quantity))
            .collect();
        let request_q: Vec<f64> = book
            .requests
            .iter()
            .zip(&built.request_var)
            .map(|(r, &v)| clean(value(v), r.quantity))
            .collect();
        let mut prices: Vec<[Option<f64>; 2]> = vec![[None; 2]; book.slots.len()];
        let mut traded = vec![[false; 2]; book.slots.len()];
        for (o, &q) in book.offers.iter().zip(&offer_q) {
            if q > QUANTITY_EPSILON
                && let (Some(p), Some(t)) = (prices.get_mut(o.slot), traded.get_mut(o.slot))
            {
                t[o.direction.index()] = true;
                let e = &mut p[o.direction.index()];
                *e = Some(e.map_or(o.price, |v: f64| v.max(o.price)));
            }
        }
        if let Some(duals) = duals {
            notes.push("prices from balance duals (LP with blocks fixed)".into());
            // (price, set by the slot-wide row) per slot and direction.
            let mut dual_prices: Vec<[Option<(f64, bool)>; 2]> = vec![[None; 2]; book.slots.len()];
            for &(t, d, row, system) in &built.balance_rows {
                let Some(&y) = duals.get(row) else { continue };
                // Rows read Σ offers − Σ requests = 0: one more unit required from offers
                // lowers welfare by the price, so the price is −dual. The slot-wide row sets
                // the price; without one, the highest location row does.
                let price = -y;
                if let Some(p) = dual_prices.get_mut(t) {
                    let e = &mut p[d.index()];
                    *e = match (*e, system) {
                        (_, true) => Some((price, true)),
                        (Some((v, true)), false) => Some((v, true)),
                        (Some((v, false)), false) => Some((v.max(price), false)),
                        (None, false) => Some((price, false)),
                    };
                }
            }
            let dual_prices: Vec<[Option<f64>; 2]> = dual_prices
                .into_iter()
                .map(|p| p.map(|e| e.map(|(v, _)| v)))
                .collect();
            for ((p, dp), tr) in prices.iter_mut().zip(dual_prices).zip(&traded) {
                for k in 0..2 {
                    p[k] = if tr[k] { dp[k] } else { None };
                }
            }
        } else {
            notes.push("prices from the marginal accepted offer (no duals in this backend)".into());
        }
        let result = assemble(
            self.name(),
            Some(locality.rule()),
            book,
            &self.config,
            &offer_q,
            &request_q,
            &[],
            prices,
            started,
        );
        Ok(with_diagnostics(
            result,
            Diagnostics {
                rejected_blocks,
                unbalanceable_blocks: unbalanceable_blocks(book, &locality),
                notes,
            },
        ))
    }

    /// Optimises the remaining accepted orders again on their own, each capped at what remains
    /// of it (`optimal` does not pair orders, so there are no matches to undo).
    fn prune(
        &self,
        scenario: &Scenario,
        result: &ClearingResult,
        cuts: &[Cut],
    ) -> Result<ClearingResult> {
        super::prune::prune_by_optimisation(self, scenario, result, cuts)
    }
}
