//! The placement solver: parameters, the answer, and the pipeline greedy →
//! local search → annealing → local search → bound → explanation.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::bound::{BoundLimits, lagrangian_bound, online_bound};
use crate::constraints::ConstraintKind;
use crate::search::{GreedyScore, Search};
use crate::state::HexRule;
use crate::{Constraints, CoverageMatrix, Error, Problem, Result, anneal};

/// What a demand point is worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Expected covered demand `Σ w_h (1 − Π_j (1 − p_hj))`; classic MCLP when p ∈ {0, 1}.
    ExpectedCoverage,
    /// A point counts (fully) when at least `k` sites cover it with probability ≥ `min_probability`.
    KCoverage {
        /// Sites needed.
        k: u32,
        /// Probability at which a site counts as covering.
        min_probability: f32,
    },
}

/// Parameters of one optimization (linfa-style: consuming setters, then `check`).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeParams {
    new_sites: usize,
    objective: Objective,
    constraints: Constraints,
    reward_weighting: bool,
    local_search: bool,
    anneal_iterations: u64,
    bound_iterations: usize,
    seed: u64,
}

impl OptimizeParams {
    /// Place up to `new_sites` new sites, maximising expected coverage, no other rules.
    #[must_use]
    pub fn new(new_sites: usize) -> Self {
        Self {
            new_sites,
            objective: Objective::ExpectedCoverage,
            constraints: Constraints::default(),
            reward_weighting: false,
            local_search: true,
            anneal_iterations: 20_000,
            bound_iterations: 3_000,
            seed: 0,
        }
    }

    /// The objective.
    #[must_use]
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// The rules.
    #[must_use]
    pub fn constraints(mut self, constraints: Constraints) -> Self {
        self.constraints = constraints;
        self
    }

    /// Weight each site's gain by its expected reward scale under the density rules.
    #[must_use]
    pub fn reward_weighting(mut self, on: bool) -> Self {
        self.reward_weighting = on;
        self
    }

    /// Run the swap local search after greedy (default on).
    #[must_use]
    pub fn local_search(mut self, on: bool) -> Self {
        self.local_search = on;
        self
    }

    /// Simulated-annealing steps after the first local search (0 = none).
    #[must_use]
    pub fn anneal_iterations(mut self, iterations: u64) -> Self {
        self.anneal_iterations = iterations;
        self
    }

    /// Subgradient iterations of the Lagrangian bound (0 = online bound only).
    #[must_use]
    pub fn bound_iterations(mut self, iterations: usize) -> Self {
        self.bound_iterations = iterations;
        self
    }

    /// Seed of the annealing's random moves; equal seeds give equal answers.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the parameters on their own.
    pub fn check(&self) -> Result<()> {
        if self.new_sites == 0 {
            return Err(Error::Parameter(
                "the number of new sites must be at least 1".into(),
            ));
        }
        if let Objective::KCoverage { k, min_probability } = self.objective
            && (k == 0 || !(min_probability > 0.0 && min_probability <= 1.0))
        {
            return Err(Error::Parameter(format!(
                "k-coverage needs k ≥ 1 and a probability in (0, 1], got k = {k}, p = {min_probability}"
            )));
        }
        if self.reward_weighting && self.constraints.density.is_none() {
            return Err(Error::Parameter(
                "reward weighting needs density rules (the reward scale comes from them)".into(),
            ));
        }
        self.constraints.check()
    }
}

/// The upper bound on the optimum, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// A proven upper bound on the best objective any allowed placement reaches.
    Proven {
        /// The bound.
        upper: f64,
        /// `(upper − objective) / upper`: the answer is within this fraction of the optimum.
        gap: f64,
        /// Which bound was the smaller: "lagrangian" or "online".
        method: &'static str,
        /// The online (submodular) bound.
        online: f64,
        /// The Lagrangian bound, when computed.
        lagrangian: Option<f64>,
        /// Subgradient iterations run.
        iterations: usize,
        /// Rules the bound relaxes (valid, but the true gap may be smaller).
        relaxes: Vec<ConstraintKind>,
    },
    /// No bound can be proven for this objective.
    None {
        /// Why.
        reason: String,
    },
}

/// One suggested site and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestedSite {
    /// Index into [`Problem::sites`].
    pub site: usize,
    /// Rank, 1 = the first to build: ordered by marginal gain in sequence.
    pub rank: usize,
    /// Objective it adds over the locked sites and the sites ranked before it.
    pub marginal_gain: f64,
    /// Objective lost if it alone were left out of the answer.
    pub removal_loss: f64,
    /// Demand points where it adds value in that sequence, by demand index.
    pub demand_added: Vec<u32>,
    /// Reward scale under the density rules with the whole answer built (1 without rules).
    pub reward_scale: f64,
    /// Rules that kept a better replacement for this site out of the answer.
    pub bound_by: Vec<ConstraintKind>,
}

/// Wall-clock times of the stages, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Lazy greedy.
    pub greedy_s: f64,
    /// Local search (both rounds).
    pub local_search_s: f64,
    /// Simulated annealing.
    pub anneal_s: f64,
    /// The bound.
    pub bound_s: f64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// New sites in rank order.
    pub sites: Vec<SuggestedSite>,
    /// Objective of locked + new sites.
    pub objective: f64,
    /// Objective of the locked sites alone.
    pub base_objective: f64,
    /// Objective after greedy, before improvement.
    pub greedy_objective: f64,
    /// The bound and gap.
    pub bound: Bound,
    /// Stage times.
    pub timings: Timings,
    /// Gain evaluations (a measure of work).
    pub evaluations: u64,
    /// Swaps and additions local search made.
    pub local_search_moves: usize,
    /// When fewer sites than asked were placed: the rule that stopped it, or why.
    pub shortfall: Option<String>,
}

/// Chooses new sites for `problem` under `params`.
pub fn optimize(problem: &Problem, params: &OptimizeParams) -> Result<Solution> {
    params.check()?;
    let constraints = &params.constraints;
    let max_new = params
        .constraints
        .max_new_sites
        .map_or(params.new_sites, |m| m.min(params.new_sites));
    let (coverage, rule): (std::borrow::Cow<'_, CoverageMatrix>, HexRule) = match params.objective {
        Objective::ExpectedCoverage => (
            std::borrow::Cow::Borrowed(problem.coverage()),
            HexRule::Expected,
        ),
        Objective::KCoverage { k, min_probability } => (
            std::borrow::Cow::Owned(problem.coverage().thresholded(min_probability)),
            HexRule::AtLeast(k),
        ),
    };
    let mut search = Search::new(
        problem,
        &coverage,
        rule,
        constraints,
        max_new,
        params.reward_weighting,
    );
    let n_allowed = search.allowed.iter().filter(|&&a| a).count();
    if n_allowed == 0 {
        return Err(Error::Infeasible(
            "no candidate site is allowed (all locked, forbidden, too far from existing sites or over the budget)"
                .into(),
        ));
    }
    if constraints.budget.is_none() && max_new > n_allowed {
        return Err(Error::Parameter(format!(
            "{max_new} new sites asked for but only {n_allowed} candidates are allowed"
        )));
    }

    let mut timings = Timings::default();
    let started = Instant::now();
    search.greedy(GreedyScore::Gain);
    if constraints.budget.is_some() {
        let mut by_ratio = Search::new(
            problem,
            &coverage,
            rule,
            constraints,
            max_new,
            params.reward_weighting,
        );
        by_ratio.greedy(GreedyScore::GainPerCost);
        if by_ratio.value() > search.value() {
            by_ratio.evaluations += search.evaluations;
            search = by_ratio;
        }
    }
    timings.greedy_s = started.elapsed().as_secs_f64();
    let greedy_objective = search.value();
    if search.chosen.is_empty() {
        return Err(Error::Infeasible(
            "no allowed candidate can be placed: the rules (spacing, density, budget) exclude every one, \
             or none adds any coverage"
                .into(),
        ));
    }

    // Reward weighting changes what greedy ranks by; swaps would optimise the
    // unweighted objective instead, so the greedy answer stands.
    let improve = params.local_search && !params.reward_weighting;
    let mut moves = 0;
    if improve {
        let started = Instant::now();
        moves += search.local_search(100);
        timings.local_search_s += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let (annealed, value) = anneal::anneal(&search, params.anneal_iterations, params.seed)?;
        timings.anneal_s = started.elapsed().as_secs_f64();
        if value > search.value() + 1e-9 * search.value().abs().max(1.0) {
            search.reset_to(&annealed);
            let started = Instant::now();
            moves += search.local_search(100);
            timings.local_search_s += started.elapsed().as_secs_f64();
        }
    }

    let started = Instant::now();
    let bound = compute_bound(&search, params, max_new);
    timings.bound_s = started.elapsed().as_secs_f64();

    let shortfall = (search.chosen.len() < max_new).then(|| shortfall_reason(&search));
    let sites = explain(&search);
    Ok(Solution {
        objective: search.value(),
        base_objective: search.base_value,
        greedy_objective,
        bound,
        timings,
        evaluations: search.evaluations,
        local_search_moves: moves,
        shortfall,
        sites,
    })
}

fn compute_bound(search: &Search<'_>, params: &OptimizeParams, max_new: usize) -> Bound {
    if let Objective::KCoverage { .. } = params.objective {
        return Bound::None {
            reason: "k-coverage is not submodular; no bound is proven for it".into(),
        };
    }
    if params.reward_weighting {
        return Bound::None {
            reason:
                "reward weighting makes the objective depend on the density of the whole answer; \
                     no bound is proven for it"
                    .into(),
        };
    }
    let limits = BoundLimits {
        max_new_sites: max_new,
        budget: params.constraints.budget,
        iterations: params.bound_iterations,
    };
    let objective = search.value();
    let Some(online) = online_bound(search, limits) else {
        return Bound::None {
            reason: "no bound for this objective".into(),
        };
    };
    // When the free online bound already proves the answer optimal (to
    // rounding), the Lagrangian cannot say more.
    let proven_by_online = online - objective <= 1e-6 * online.abs().max(1.0);
    let lagrangian = (params.bound_iterations > 0 && !proven_by_online)
        .then(|| lagrangian_bound(search, limits, objective))
        .flatten();
    let (upper, method) = match lagrangian {
        Some((l, _)) if l < online => (l, "lagrangian"),
        _ => (online, "online"),
    };
    let mut relaxes = Vec::new();
    if params.constraints.min_spacing_m.is_some_and(|s| s > 0.0) {
        relaxes.push(ConstraintKind::Spacing);
    }
    if params.constraints.density.is_some() {
        relaxes.push(ConstraintKind::Density);
    }
    // Rounding can put the bound a hair under the objective; the objective is a lower bound.
    let upper = upper.max(objective);
    Bound::Proven {
        upper,
        gap: if upper > 0.0 {
            (upper - objective) / upper
        } else {
            0.0
        },
        method,
        online,
        lagrangian: lagrangian.map(|(l, _)| l),
        iterations: lagrangian.map_or(0, |(_, i)| i),
        relaxes,
    }
}

fn shortfall_reason(search: &Search<'_>) -> String {
    let mut blocked = BTreeSet::new();
    let mut positive = false;
    let gains = search.state.all_gains();
    for (j, &gain) in gains.iter().enumerate() {
        if search.allowed[j] && !search.in_solution[j] && gain > 0.0 {
            positive = true;
            if let Some(kind) = search.placement.violation(j, None) {
                blocked.insert(kind.name());
            }
        }
    }
    if !positive {
        "no remaining candidate adds coverage".into()
    } else {
        format!(
            "the rules leave no room for more: {}",
            blocked.into_iter().collect::<Vec<_>>().join(", ")
        )
    }
}

/// Ranks the chosen sites by sequential marginal gain and explains each.
fn explain(search: &Search<'_>) -> Vec<SuggestedSite> {
    let rule = search.state.rule;
    let scales = search.placement.reward_scales();
    // Sequence: repeatedly the chosen site that adds most to those before it.
    let mut sequence = search.state.clone();
    for &site in &search.chosen {
        sequence.remove(site);
    }
    let mut left: Vec<usize> = search.chosen.clone();
    let mut ranked = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let (position, gain) = left
            .iter()
            .enumerate()
            .map(|(i, &s)| (i, sequence.gain(s)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .unwrap_or((0, 0.0));
        let site = left.remove(position);
        let (demand, prob) = search.state.coverage.row(site);
        let demand_added = demand
            .iter()
            .zip(prob)
            .filter(|&(&h, &p)| rule.gain(sequence.hexes[h as usize], p) > 0.0)
            .map(|(&h, _)| h)
            .collect();
        sequence.add(site);
        ranked.push((site, gain, demand_added));
    }
    let n_sites = search.problem.sites().len();
    let mut extra = vec![0.0; n_sites];
    let mut touched = Vec::new();
    let gains = search.state.all_gains();
    ranked
        .into_iter()
        .enumerate()
        .map(|(rank, (site, marginal_gain, demand_added))| {
            let removal_loss = search.removal_effect(site, &mut extra, &mut touched);
            // A replacement worth more than this site's contribution was kept out by a rule.
            let mut bound_by = BTreeSet::new();
            for j in 0..n_sites {
                if !search.in_solution[j] && gains[j] + extra[j] > removal_loss * (1.0 + 1e-9) {
                    let kind = if search.allowed[j] {
                        search.placement.violation(j, Some(site))
                    } else if search.problem.sites()[j].locked {
                        None
                    } else {
                        search.placement_static(j)
                    };
                    if let Some(kind) = kind {
                        bound_by.insert(kind);
                    }
                }
            }
            for &j in &touched {
                extra[j] = 0.0;
            }
            touched.clear();
            SuggestedSite {
                site,
                rank: rank + 1,
                marginal_gain,
                removal_loss,
                demand_added,
                reward_scale: scales.get(&site).copied().unwrap_or(1.0),
                bound_by: bound_by.into_iter().collect(),
            }
        })
        .collect()
}
