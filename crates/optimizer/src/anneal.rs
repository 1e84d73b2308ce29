//! Simulated annealing over swap moves, driven by argmin's `SimulatedAnnealing`.

use std::cell::RefCell;

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::simulatedannealing::{Anneal, SATempFunc, SimulatedAnnealing};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Result;
use crate::search::Search;
use crate::state::CoverState;

/// The annealing problem: a set of new sites; a move swaps one of them for a
/// candidate that shares demand with it (a neighbour in coverage), if the
/// rules allow it.
struct SwapAnnealing<'s, 'a> {
    search: &'s Search<'a>,
    /// The coverage of the last set evaluated; the next evaluation applies only
    /// the difference (a move changes one site), not the whole set.
    scratch: RefCell<(CoverState<'a>, Vec<usize>)>,
    /// Whether spacing, density or budget apply (else any allowed swap is feasible).
    dynamic_rules: bool,
    rng: RefCell<StdRng>,
}

impl SwapAnnealing<'_, '_> {
    fn objective(&self, sites: &[usize]) -> f64 {
        let mut guard = self.scratch.borrow_mut();
        let (state, current) = &mut *guard;
        // Sets are small (the new sites), so quadratic membership tests are cheap.
        for &site in current.iter() {
            if !sites.contains(&site) {
                state.remove(site);
            }
        }
        for &site in sites {
            if !current.contains(&site) {
                state.add(site);
            }
        }
        current.clear();
        current.extend_from_slice(sites);
        state.value
    }
}

impl CostFunction for SwapAnnealing<'_, '_> {
    type Param = Vec<usize>;
    type Output = f64;

    fn cost(&self, sites: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok(-self.objective(sites))
    }
}

impl Anneal for SwapAnnealing<'_, '_> {
    type Param = Vec<usize>;
    type Output = Vec<usize>;
    type Float = f64;

    fn anneal(
        &self,
        sites: &Vec<usize>,
        _temperature: f64,
    ) -> std::result::Result<Vec<usize>, argmin::core::Error> {
        let mut rng = self.rng.borrow_mut();
        let search = self.search;
        let coverage = search.state.coverage;
        let n_sites = search.problem.sites().len();
        if sites.is_empty() {
            return Ok(sites.clone());
        }
        // Rules are checked against this set: locked sites plus `sites`.
        let placement = self.dynamic_rules.then(|| {
            let mut placement = search.placement.clone();
            for &site in &search.chosen {
                placement.remove(site);
            }
            for &site in sites {
                placement.add(site);
            }
            placement
        });
        for _ in 0..32 {
            let index = rng.random_range(0..sites.len());
            let out = sites[index];
            let (demand, _) = coverage.row(out);
            let incoming = if demand.is_empty() || rng.random_bool(0.1) {
                rng.random_range(0..n_sites)
            } else {
                let h = demand[rng.random_range(0..demand.len())] as usize;
                let (covering, _) = coverage.column(h);
                covering[rng.random_range(0..covering.len())] as usize
            };
            if !search.allowed[incoming] || sites.contains(&incoming) {
                continue;
            }
            if placement
                .as_ref()
                .is_some_and(|p| p.violation(incoming, Some(out)).is_some())
            {
                continue;
            }
            let mut next = sites.clone();
            next[index] = incoming;
            return Ok(next);
        }
        Ok(sites.clone())
    }
}

/// Runs `iterations` annealing steps from the search's current set; returns
/// the best set found and its objective.
pub(crate) fn anneal(search: &Search<'_>, iterations: u64, seed: u64) -> Result<(Vec<usize>, f64)> {
    let start = search.chosen.clone();
    let start_value = search.value();
    if start.is_empty() || iterations == 0 {
        return Ok((start, start_value));
    }
    // A worse move of Δ is accepted with probability 1 / (1 + exp(Δ / T)); at the
    // start, losing 2 % of an average site's contribution has probability 0.27,
    // and the temperature falls geometrically to 1/1000 of that by the end.
    let per_site = ((start_value - search.base_value) / start.len() as f64).max(1e-9);
    let initial_temperature = 0.02 * per_site;
    let decay = 0.001f64.powf(1.0 / iterations as f64);
    let scratch = search.state.clone();
    let problem = SwapAnnealing {
        search,
        scratch: RefCell::new((scratch, search.chosen.clone())),
        dynamic_rules: search.placement.has_dynamic_rules(),
        rng: RefCell::new(StdRng::seed_from_u64(seed)),
    };
    let solver = SimulatedAnnealing::new_with_rng(
        initial_temperature,
        StdRng::seed_from_u64(seed ^ 0x5EED),
    )?
    .with_temp_func(SATempFunc::Exponential(decay))
    .with_stall_best(iterations / 2 + 1);
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(start.clone()).max_iters(iterations))
        .run()?;
    let best = result
        .state()
        .get_best_param()
        .cloned()
        .unwrap_or_else(|| start.clone());
    let best_value = -result.state().get_best_cost();
    Ok((best, best_value))
}
