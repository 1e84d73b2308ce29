//! The search itself: lazy greedy, swap local search, and the state they share.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::constraints::{ConstraintKind, Placement};
use crate::state::{CoverState, HexRule};
use crate::{Constraints, Problem};

/// A site's score in the lazy-greedy heap, ordered by score then lower index.
#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f64,
    site: usize,
    round: usize,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.site.cmp(&self.site))
    }
}

/// What greedy ranks candidates by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GreedyScore {
    /// The marginal gain (times the reward scale when weighting).
    Gain,
    /// The marginal gain per unit cost.
    GainPerCost,
}

/// A set of chosen sites over the locked ones, with the state of its coverage and rules.
#[derive(Debug, Clone)]
pub(crate) struct Search<'a> {
    pub(crate) problem: &'a Problem,
    pub(crate) state: CoverState<'a>,
    pub(crate) placement: Placement<'a>,
    /// Candidates that no static rule excludes (not locked, not forbidden, ...).
    pub(crate) allowed: Vec<bool>,
    pub(crate) in_solution: Vec<bool>,
    /// New sites, in the order greedy chose them.
    pub(crate) chosen: Vec<usize>,
    pub(crate) reward_weighting: bool,
    /// Value of the locked sites alone.
    pub(crate) base_value: f64,
    /// Gain evaluations done (a measure of work).
    pub(crate) evaluations: u64,
}

impl<'a> Search<'a> {
    pub(crate) fn new(
        problem: &'a Problem,
        coverage: &'a crate::CoverageMatrix,
        rule: HexRule,
        constraints: &'a Constraints,
        max_new_sites: usize,
        reward_weighting: bool,
    ) -> Self {
        let mut state = CoverState::new(coverage, problem.weights(), rule);
        let mut in_solution = vec![false; problem.sites().len()];
        for (index, site) in problem.sites().iter().enumerate() {
            if site.locked {
                state.add(index);
                in_solution[index] = true;
            }
        }
        state.recompute_value();
        let allowed = (0..problem.sites().len())
            .map(|j| {
                !problem.sites()[j].locked && constraints.static_exclusion(problem, j).is_none()
            })
            .collect();
        let base_value = state.value;
        Self {
            problem,
            state,
            placement: Placement::new(problem, constraints, max_new_sites),
            allowed,
            in_solution,
            chosen: Vec::new(),
            reward_weighting,
            base_value,
            evaluations: 0,
        }
    }

    pub(crate) fn value(&self) -> f64 {
        self.state.value
    }

    fn add(&mut self, site: usize) {
        self.state.add(site);
        self.placement.add(site);
        self.in_solution[site] = true;
        self.chosen.push(site);
    }

    fn score(&mut self, site: usize, by: GreedyScore) -> f64 {
        self.evaluations += 1;
        let mut gain = self.state.gain(site);
        if self.reward_weighting {
            gain *= self.placement.reward_scale_if_added(site);
        }
        match by {
            GreedyScore::Gain => gain,
            GreedyScore::GainPerCost => gain / self.problem.sites()[site].cost.max(1e-12),
        }
    }

    /// Lazy greedy (CELF): a site's gain can only fall as sites are added, so a
    /// stale score is an upper bound and only the heap's top is re-evaluated.
    /// Candidates a rule excludes when they reach the top are dropped: spacing
    /// and budget only get tighter as sites are added.
    pub(crate) fn greedy(&mut self, by: GreedyScore) {
        let mut heap: BinaryHeap<Entry> = BinaryHeap::new();
        for site in 0..self.allowed.len() {
            if self.allowed[site] && !self.in_solution[site] {
                let score = self.score(site, by);
                heap.push(Entry {
                    score,
                    site,
                    round: 0,
                });
            }
        }
        let mut round = 0;
        while let Some(top) = heap.pop() {
            if top.score <= 0.0 {
                break;
            }
            if top.round != round {
                let score = self.score(top.site, by);
                heap.push(Entry {
                    score,
                    round,
                    ..top
                });
                continue;
            }
            match self.placement.violation(top.site, None) {
                None => {
                    self.add(top.site);
                    round += 1;
                }
                Some(ConstraintKind::SiteCount) => break,
                Some(_) => {}
            }
        }
        self.state.recompute_value();
    }

    /// Swap local search: for each chosen site, the best feasible replacement
    /// (first improvement over sites, best over replacements), until no swap
    /// improves. Also adds sites while the rules leave room and one adds value.
    /// Returns the number of moves made.
    pub(crate) fn local_search(&mut self, max_passes: usize) -> usize {
        use rayon::prelude::*;
        let n_sites = self.problem.sites().len();
        let mut gains = self.state.all_gains();
        let mut moves = 0;
        // The swaps of the chosen sites are evaluated a few at a time in
        // parallel against the current state and applied in index order; a
        // swap changes the state, so the evaluations after it are dropped and
        // redone. Each evaluation depends only on the state, so the moves are
        // exactly those of evaluating one site after the other.
        let batch = rayon::current_num_threads().max(1);
        for _ in 0..max_passes {
            let mut improved = self.fill(&mut gains);
            moves += usize::from(improved);
            let tolerance = 1e-9 * self.state.value.abs().max(1.0);
            let mut index = 0;
            while index < self.chosen.len() {
                let end = (index + batch).min(self.chosen.len());
                let evaluated: Vec<Vec<(f64, usize)>> = (index..end)
                    .into_par_iter()
                    .map(|i| self.better_swaps(self.chosen[i], &gains, tolerance))
                    .collect();
                let mut next = end;
                for (i, better) in (index..end).zip(evaluated) {
                    self.evaluations += n_sites as u64;
                    let out = self.chosen[i];
                    let replacement = better
                        .iter()
                        .map(|&(_, j)| j)
                        .find(|&j| self.placement.violation(j, Some(out)).is_none());
                    if let Some(incoming) = replacement {
                        self.swap(i, incoming, &mut gains);
                        improved = true;
                        moves += 1;
                        next = i + 1;
                        break;
                    }
                }
                index = next;
            }
            self.state.recompute_value();
            gains = self.state.all_gains();
            if !improved {
                break;
            }
        }
        moves
    }

    /// The swaps of `out` for another allowed candidate that raise the
    /// objective by more than `tolerance`, best first (ties: lower index).
    fn better_swaps(&self, out: usize, gains: &[f64], tolerance: f64) -> Vec<(f64, usize)> {
        let n_sites = self.problem.sites().len();
        let mut extra = vec![0.0f64; n_sites];
        let mut touched = Vec::new();
        let loss = self.removal_effect(out, &mut extra, &mut touched);
        let mut better: Vec<(f64, usize)> = (0..n_sites)
            .filter(|&j| self.allowed[j] && !self.in_solution[j])
            .map(|j| (gains[j] + extra[j] - loss, j))
            .filter(|&(delta, _)| delta > tolerance)
            .collect();
        better.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        better
    }

    /// Adds the best feasible positive-gain site while the rules allow; true if any was added.
    fn fill(&mut self, gains: &mut [f64]) -> bool {
        let mut added = false;
        loop {
            let mut order: Vec<usize> = (0..gains.len())
                .filter(|&j| self.allowed[j] && !self.in_solution[j] && gains[j] > 0.0)
                .collect();
            order.sort_by(|&a, &b| gains[b].total_cmp(&gains[a]).then(a.cmp(&b)));
            let next = order
                .into_iter()
                .find(|&j| self.placement.violation(j, None).is_none());
            let Some(site) = next else {
                return added;
            };
            self.state.change(site, true, Some(gains));
            self.placement.add(site);
            self.in_solution[site] = true;
            self.chosen.push(site);
            added = true;
        }
    }

    /// The value lost by removing `out`, and in `extra[j]` how much more site
    /// `j` would then gain than it gains now (for every `j` listed in `touched`).
    pub(crate) fn removal_effect(
        &self,
        out: usize,
        extra: &mut [f64],
        touched: &mut Vec<usize>,
    ) -> f64 {
        let coverage = self.state.coverage;
        let rule = self.state.rule;
        let (demand, prob) = coverage.row(out);
        let mut loss = 0.0;
        for (&h, &p) in demand.iter().zip(prob) {
            let h = h as usize;
            let now = self.state.hexes[h];
            let after = now.without(p);
            let w = self.state.weights[h];
            let lost = rule.value(now) - rule.value(after);
            loss += w * lost;
            // Expected coverage with another certain cover, or k-coverage far
            // from k: the removal changes nobody's gain here.
            let unchanged = match rule {
                HexRule::Expected => after.certain > 0,
                HexRule::AtLeast(k) => now.certain + 1 != k && now.certain != k,
            };
            if unchanged {
                continue;
            }
            let (sites, probs) = coverage.column(h);
            for (&j, &q) in sites.iter().zip(probs) {
                let j = j as usize;
                let delta = w * (rule.gain(after, q) - rule.gain(now, q));
                if delta != 0.0 {
                    if extra[j] == 0.0 {
                        touched.push(j);
                    }
                    extra[j] += delta;
                }
            }
        }
        loss
    }

    fn swap(&mut self, index: usize, incoming: usize, gains: &mut [f64]) {
        let out = self.chosen[index];
        self.state.change(out, false, Some(gains));
        self.placement.remove(out);
        self.in_solution[out] = false;
        self.state.change(incoming, true, Some(gains));
        self.placement.add(incoming);
        self.in_solution[incoming] = true;
        self.chosen[index] = incoming;
    }

    /// Replaces the chosen set by `sites` (e.g. annealing's best), in that order.
    pub(crate) fn reset_to(&mut self, sites: &[usize]) {
        for site in std::mem::take(&mut self.chosen) {
            self.state.remove(site);
            self.placement.remove(site);
            self.in_solution[site] = false;
        }
        for &site in sites {
            self.add(site);
        }
        self.state.recompute_value();
    }
}

impl Search<'_> {
    /// The static rule that excludes a non-locked candidate, if any.
    pub(crate) fn placement_static(&self, site: usize) -> Option<ConstraintKind> {
        self.placement.static_exclusion(site)
    }
}
