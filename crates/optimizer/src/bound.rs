//! Upper bounds on the best objective any placement could reach.
//!
//! Two bounds, the smaller reported:
//! - the *online* bound of a monotone submodular objective: for any set S,
//!   OPT ≤ f(S) + the sum of the p largest single-site gains over S (Minoux;
//!   Leskovec et al. 2007), or with a budget, the best fractional knapsack of
//!   those gains;
//! - a *Lagrangian* bound of the relaxation
//!   `max Σ_h w'_h y_h  s.t.  y_h ≤ Σ_j p_hj x_j,  y_h ≤ 1,  Σ x_j ≤ p (or Σ c_j x_j ≤ B)`,
//!   valid for expected coverage because `1 − Π(1 − p_j x_j) ≤ min(1, Σ p_j x_j)`,
//!   with `w'_h = w_h (1 − q_h)` where `q_h` is the locked sites' coverage.
//!   Relaxing `y_h ≤ Σ p x` with multipliers λ_h ∈ [0, w'_h] gives
//!   `L(λ) = Σ_h (w'_h − λ_h) + best_p(Σ_h p_hj λ_h)`, minimised by projected
//!   subgradient steps (Polyak's step towards the best known objective). For
//!   classic MCLP (p ∈ {0, 1}) its minimum is the LP relaxation's value.
//!
//! Rules that only remove placements (spacing, density, forbidden areas,
//! maximum distance) leave both bounds valid: a relaxation bounds the
//! constrained optimum too, only less tightly.

use rayon::prelude::*;

use crate::search::Search;
use crate::state::HexRule;

/// Limits of the bound computation (deterministic: iterations, not time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BoundLimits {
    pub(crate) max_new_sites: usize,
    pub(crate) budget: Option<f64>,
    pub(crate) iterations: usize,
}

/// The best value of `Σ v_j x_j` over the new-site rules' LP: the `p` largest
/// positive values, and with a budget the fractional knapsack (each relaxes
/// the other rule, so the smaller of the two is also a bound).
/// Returns the value and the x_j > 0 with their fractions.
fn best_selection(
    values: &[(usize, f64)],
    costs: &[f64],
    limits: BoundLimits,
) -> (f64, Vec<(usize, f64)>) {
    let mut positive: Vec<(usize, f64)> =
        values.iter().copied().filter(|&(_, v)| v > 0.0).collect();
    positive.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<(usize, f64)> = positive
        .iter()
        .take(limits.max_new_sites)
        .map(|&(j, _)| (j, 1.0))
        .collect();
    let top_value: f64 = positive
        .iter()
        .take(limits.max_new_sites)
        .map(|&(_, v)| v)
        .sum();
    let Some(budget) = limits.budget else {
        return (top_value, top);
    };
    let mut by_ratio = positive;
    by_ratio.sort_by(|a, b| {
        let ra = a.1 / costs[a.0].max(1e-300);
        let rb = b.1 / costs[b.0].max(1e-300);
        rb.total_cmp(&ra).then(a.0.cmp(&b.0))
    });
    let (mut left, mut value, mut picks) = (budget, 0.0, Vec::new());
    for (j, v) in by_ratio {
        let cost = costs[j];
        if cost <= left {
            left -= cost;
            value += v;
            picks.push((j, 1.0));
        } else {
            let fraction = left / cost;
            value += v * fraction;
            picks.push((j, fraction));
            break;
        }
    }
    if value < top_value {
        (value, picks)
    } else {
        (top_value, top)
    }
}

/// The online (submodular) bound at the search's current set.
pub(crate) fn online_bound(search: &Search<'_>, limits: BoundLimits) -> Option<f64> {
    if search.state.rule != HexRule::Expected {
        return None;
    }
    let gains = search.state.all_gains();
    let values: Vec<(usize, f64)> = (0..gains.len())
        .filter(|&j| search.allowed[j] && !search.in_solution[j])
        .map(|j| (j, gains[j]))
        .collect();
    let costs: Vec<f64> = search.problem.sites().iter().map(|s| s.cost).collect();
    // Submodularity: OPT ≤ f(S ∪ S*) ≤ f(S) + Σ_{j ∈ S*} Δ_j(S) ≤ f(S) + best_p(Δ(S)).
    let (extra, _) = best_selection(&values, &costs, limits);
    Some(search.value() + extra)
}

/// The Lagrangian bound; `target` is the best objective known (for the step size).
pub(crate) fn lagrangian_bound(
    search: &Search<'_>,
    limits: BoundLimits,
    target: f64,
) -> Option<(f64, usize)> {
    if search.state.rule != HexRule::Expected {
        return None;
    }
    let coverage = search.state.coverage;
    let n_demand = coverage.n_demand();
    // Residual weights after the locked sites (base state = no new sites).
    let mut base = search.state.clone();
    for &site in &search.chosen {
        base.remove(site);
    }
    base.recompute_value();
    let base_value = base.value;
    let residual: Vec<f64> = (0..n_demand)
        .map(|h| search.state.weights[h] * (1.0 - HexRule::Expected.value(base.hexes[h])))
        .collect();
    let candidates: Vec<usize> = (0..coverage.n_sites())
        .filter(|&j| search.allowed[j])
        .collect();
    let costs: Vec<f64> = search.problem.sites().iter().map(|s| s.cost).collect();
    // Points no allowed candidate covers can never be gained: λ = w' drops them.
    let mut coverable = vec![false; n_demand];
    for &j in &candidates {
        for &h in coverage.row(j).0 {
            coverable[h as usize] = true;
        }
    }
    // Fixed-radius coverage needs no multiplications (half the memory traffic).
    let binary = candidates
        .iter()
        .all(|&j| coverage.row(j).1.iter().all(|&p| p == 1.0));
    let mut lambda: Vec<f64> = residual
        .iter()
        .zip(&coverable)
        .map(|(&w, &c)| if c { 0.5 * w } else { w })
        .collect();
    let target_added = (target - base_value).max(0.0);
    let mut best = f64::INFINITY;
    let mut theta = 0.5;
    let mut since_improvement = 0;
    let mut subgradient = vec![0.0f64; n_demand];
    let mut direction = vec![0.0f64; n_demand];
    // Deflected subgradient (Camerini, Fratta & Maffioli 1975): stepping along
    // g + 0.9 · previous direction damps the zig-zag of plain steps; tuned on the
    // shared 50,000 × 5,000 instance (BENCHMARKS.md).
    let deflection = 0.9;
    let patience = 60;
    let mut iterations = 0;
    let mut checkpoint = f64::INFINITY;
    for _ in 0..limits.iterations {
        iterations += 1;
        let values: Vec<(usize, f64)> = candidates
            .par_iter()
            .map(|&j| {
                let (demand, prob) = coverage.row(j);
                let v: f64 = if binary {
                    demand.iter().map(|&h| lambda[h as usize]).sum()
                } else {
                    demand
                        .iter()
                        .zip(prob)
                        .map(|(&h, &p)| f64::from(p) * lambda[h as usize])
                        .sum()
                };
                (j, v)
            })
            .collect();
        let (selection_value, picks) = best_selection(&values, &costs, limits);
        let free: f64 = residual
            .iter()
            .zip(&lambda)
            .map(|(&w, &l)| (w - l).max(0.0))
            .sum();
        let bound = free + selection_value;
        if !best.is_finite() || bound < best - 1e-12 * best.abs().max(1.0) {
            best = bound;
            since_improvement = 0;
        } else {
            since_improvement += 1;
            if since_improvement >= patience {
                theta *= 0.5;
                since_improvement = 0;
            }
        }
        // Stalled: under 0.001 % better than 300 iterations ago.
        if iterations % 300 == 0 {
            if checkpoint - best < 1e-5 * best.abs().max(1.0) {
                break;
            }
            checkpoint = best;
        }
        if theta < 1e-6 || best - target_added <= 1e-9 * best.abs().max(1.0) {
            // The bound met the best known objective: that objective is optimal.
            break;
        }
        // ∂L/∂λ_h = −[λ_h < w'_h] + Σ_j p_hj x_j.
        for (h, g) in subgradient.iter_mut().enumerate() {
            *g = if coverable[h] && lambda[h] < residual[h] {
                -1.0
            } else {
                0.0
            };
        }
        for &(j, fraction) in &picks {
            let (demand, prob) = coverage.row(j);
            for (&h, &p) in demand.iter().zip(prob) {
                subgradient[h as usize] += fraction * f64::from(p);
            }
        }
        for (d, &g) in direction.iter_mut().zip(&subgradient) {
            *d = g + deflection * *d;
        }
        let norm2: f64 = direction.iter().map(|g| g * g).sum();
        if norm2 <= 0.0 {
            break;
        }
        let step = theta * (bound - target_added).max(1e-9 * bound.abs().max(1.0)) / norm2;
        for h in 0..n_demand {
            if coverable[h] {
                lambda[h] = (lambda[h] - step * direction[h]).clamp(0.0, residual[h]);
            }
        }
    }
    Some((base_value + best, iterations))
}
