//! Property tests on random (synthetic) placement problems: no answer breaks
//! a rule, locked sites stay, the reported objective is the true objective,
//! a proven bound is never below the brute-force optimum, and adding a
//! candidate never lowers the answer by more than the reported gap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hexcover_optimizer::{
    Area, Bound, Constraints, CoverageMatrix, OptimizeParams, Problem, SiteSpec, Solution,
    optimize, radius_coverage,
};
use proptest::prelude::*;

/// A random instance: demand and site positions in a 1 km square.
#[derive(Debug, Clone)]
struct Instance {
    demand_xy: Vec<[f64; 2]>,
    weights: Vec<f64>,
    candidate_xy: Vec<[f64; 2]>,
    costs: Vec<f64>,
    existing_xy: Vec<[f64; 2]>,
    radius_m: f64,
    /// Seed of per (site, demand) probabilities instead of a radius when set.
    probability_seed: Option<u64>,
}

fn point() -> impl Strategy<Value = [f64; 2]> {
    (0.0..1000.0f64, 0.0..1000.0f64).prop_map(|(x, y)| [x, y])
}

fn instance(max_candidates: usize) -> impl Strategy<Value = Instance> {
    (
        prop::collection::vec((point(), 0.0..10.0f64), 1..50),
        prop::collection::vec((point(), 0.5..3.0f64), 2..max_candidates),
        prop::collection::vec(point(), 0..3),
        100.0..400.0f64,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(demand, candidates, existing_xy, radius_m, probabilistic, seed)| {
                let (demand_xy, weights) = demand.into_iter().unzip();
                let (candidate_xy, costs) = candidates.into_iter().unzip();
                Instance {
                    demand_xy,
                    weights,
                    candidate_xy,
                    costs,
                    existing_xy,
                    radius_m,
                    probability_seed: probabilistic.then_some(seed),
                }
            },
        )
}

impl Instance {
    fn site_xy(&self) -> Vec<[f64; 2]> {
        self.candidate_xy
            .iter()
            .chain(&self.existing_xy)
            .copied()
            .collect()
    }

    fn coverage(&self) -> CoverageMatrix {
        let sites = self.site_xy();
        let radius = radius_coverage(&self.demand_xy, &sites, self.radius_m).unwrap();
        let Some(seed) = self.probability_seed else {
            return radius;
        };
        // Inside the radius: a probability in (0, 1], smaller further out.
        let rows = (0..sites.len())
            .map(|j| {
                let (demand, _) = radius.row(j);
                demand
                    .iter()
                    .map(|&i| {
                        let [sx, sy] = sites[j];
                        let [dx, dy] = self.demand_xy[i as usize];
                        let near = 1.0 - ((sx - dx).hypot(sy - dy) / self.radius_m) as f32;
                        let jitter = jitter(seed, sites[j], self.demand_xy[i as usize]);
                        (
                            i,
                            (0.05 + 0.95 * near * (0.5 + 0.5 * jitter)).clamp(0.01, 1.0),
                        )
                    })
                    .collect()
            })
            .collect();
        CoverageMatrix::from_rows(self.demand_xy.len(), rows).unwrap()
    }

    fn problem(&self) -> Problem {
        let mut sites: Vec<SiteSpec> = self
            .candidate_xy
            .iter()
            .zip(&self.costs)
            .enumerate()
            .map(|(j, (&[x, y], &cost))| {
                let mut site = SiteSpec::candidate(format!("c{j}"), x, y);
                site.cost = cost;
                site
            })
            .collect();
        for (j, &[x, y]) in self.existing_xy.iter().enumerate() {
            sites.push(SiteSpec::existing(format!("e{j}"), x, y));
        }
        Problem::new(
            (0..self.demand_xy.len()).map(|i| format!("d{i}")).collect(),
            self.weights.clone(),
            sites,
            self.coverage(),
        )
        .unwrap()
    }
}

/// A number in [0, 1) fixed by the seed and the two positions (not by
/// indices, so adding a site leaves every other probability as it was).
fn jitter(seed: u64, site: [f64; 2], demand: [f64; 2]) -> f32 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for v in [site[0], site[1], demand[0], demand[1]] {
        h = (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01B3);
        h ^= h >> 29;
    }
    (h % 1000) as f32 / 1000.0
}

/// Expected covered weight of `chosen` sites, computed from scratch.
fn objective_of(problem: &Problem, chosen: &[usize]) -> f64 {
    let coverage = problem.coverage();
    (0..problem.weights().len())
        .map(|i| {
            let (sites, probs) = coverage.column(i);
            let miss: f64 = sites
                .iter()
                .zip(probs)
                .filter(|(j, _)| chosen.contains(&(**j as usize)))
                .map(|(_, &p)| 1.0 - f64::from(p))
                .product();
            problem.weights()[i] * (1.0 - miss)
        })
        .sum()
}

fn locked(problem: &Problem) -> Vec<usize> {
    (0..problem.sites().len())
        .filter(|&j| problem.sites()[j].locked)
        .collect()
}

/// Every rule of `constraints` holds for the answer, and its objective is true.
fn check_solution(problem: &Problem, constraints: &Constraints, p: usize, solution: &Solution) {
    let sites = problem.sites();
    let new: Vec<usize> = solution.sites.iter().map(|s| s.site).collect();
    let mut distinct = new.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), new.len(), "a site chosen twice: {new:?}");
    assert!(new.len() <= p, "{} sites for p = {p}", new.len());
    for &j in &new {
        assert!(!sites[j].locked, "an existing site returned as new");
    }
    if let Some(budget) = constraints.budget {
        let cost: f64 = new.iter().map(|&j| sites[j].cost).sum();
        assert!(cost <= budget + 1e-9, "cost {cost} over budget {budget}");
    }
    let all: Vec<usize> = locked(problem)
        .into_iter()
        .chain(new.iter().copied())
        .collect();
    if let Some(spacing) = constraints.min_spacing_m {
        for &a in &new {
            for &b in &all {
                if a != b {
                    let d = sites[a].distance_m(&sites[b]);
                    assert!(
                        d >= spacing,
                        "{} and {} are {d} m apart < {spacing}",
                        sites[a].id,
                        sites[b].id
                    );
                }
            }
        }
    }
    if let Some(max) = constraints.max_distance_to_existing_m {
        for &a in &new {
            let nearest = locked(problem)
                .iter()
                .map(|&b| sites[a].distance_m(&sites[b]))
                .fold(f64::INFINITY, f64::min);
            assert!(
                nearest <= max,
                "{} is {nearest} m from the nearest existing site",
                sites[a].id
            );
        }
    }
    for area in &constraints.forbidden {
        for &a in &new {
            assert!(
                !area.contains(sites[a].x_m, sites[a].y_m),
                "{} in a forbidden area",
                sites[a].id
            );
        }
    }
    // Locked sites are always part of the answer: the objective counts them.
    let truth = objective_of(problem, &all);
    assert!(
        (truth - solution.objective).abs() <= 1e-6 * (1.0 + truth),
        "reported {} but the sites cover {truth}",
        solution.objective
    );
    let base = objective_of(problem, &locked(problem));
    assert!((base - solution.base_objective).abs() <= 1e-6 * (1.0 + base));
    if let Bound::Proven { upper, gap, .. } = &solution.bound {
        assert!(solution.objective <= upper + 1e-6 * (1.0 + upper));
        assert!((0.0..=1.0).contains(gap));
    }
}

/// The best objective over every way to add at most `p` unlocked sites.
fn brute_force_optimum(problem: &Problem, p: usize) -> f64 {
    let free: Vec<usize> = (0..problem.sites().len())
        .filter(|&j| !problem.sites()[j].locked)
        .collect();
    let base = locked(problem);
    let mut best = objective_of(problem, &base);
    let mut stack = vec![(0usize, base.clone())];
    while let Some((next, chosen)) = stack.pop() {
        best = best.max(objective_of(problem, &chosen));
        if chosen.len() - base.len() == p {
            continue;
        }
        for (k, &j) in free.iter().enumerate().skip(next) {
            let mut more = chosen.clone();
            more.push(j);
            stack.push((k + 1, more));
        }
    }
    best
}

/// True when no unlocked site adds anything to the locked ones: then
/// refusing to place is right.
fn nothing_to_add(problem: &Problem) -> bool {
    let base_sites = locked(problem);
    let base = objective_of(problem, &base_sites);
    (0..problem.sites().len())
        .filter(|&j| !problem.sites()[j].locked)
        .all(|j| {
            let mut with = base_sites.clone();
            with.push(j);
            objective_of(problem, &with) <= base + 1e-12
        })
}

/// Solves without rules; `None` (checked) when nothing can be added.
fn solve_plain(problem: &Problem, p: usize, seed: u64) -> Option<Solution> {
    match optimize(problem, &params(p, Constraints::default(), seed)) {
        Ok(solution) => Some(solution),
        Err(e) => {
            assert!(
                nothing_to_add(problem),
                "refused although a site adds coverage: {e}"
            );
            None
        }
    }
}

fn params(p: usize, constraints: Constraints, seed: u64) -> OptimizeParams {
    OptimizeParams::new(p)
        .constraints(constraints)
        .seed(seed)
        .anneal_iterations(500)
        .bound_iterations(300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_answer_breaks_a_rule(
        inst in instance(20),
        p in 1usize..6,
        budget in prop::option::of(1.0..8.0f64),
        spacing in prop::option::of(50.0..300.0f64),
        max_distance in prop::option::of(200.0..900.0f64),
        forbid in prop::option::of((0.0..800.0f64, 0.0..800.0f64, 50.0..400.0f64)),
        seed in any::<u64>(),
    ) {
        let p = p.min(inst.candidate_xy.len());
        let problem = inst.problem();
        let constraints = Constraints {
            budget,
            min_spacing_m: spacing,
            max_distance_to_existing_m: max_distance.filter(|_| !inst.existing_xy.is_empty()),
            forbidden: forbid
                .map(|(x, y, s)| vec![Area { ring: vec![[x, y], [x + s, y], [x + s, y + s], [x, y + s]] }])
                .unwrap_or_default(),
            ..Constraints::default()
        };
        match optimize(&problem, &params(p, constraints.clone(), seed)) {
            Ok(solution) => check_solution(&problem, &constraints, p, &solution),
            // Refusing is allowed only with its reason: the rules leave no
            // candidate, or fewer than asked before the search starts.
            Err(e) => prop_assert!(
                e.to_string().contains("no candidate site is allowed")
                    || e.to_string().contains("candidates are allowed")
                    || e.to_string().contains("no allowed candidate can be placed"),
                "{e}"
            ),
        }
    }

    #[test]
    fn a_proven_bound_holds_the_brute_force_optimum(inst in instance(11), p in 1usize..4, seed in any::<u64>()) {
        let p = p.min(inst.candidate_xy.len());
        let problem = inst.problem();
        let Some(solution) = solve_plain(&problem, p, seed) else { return Ok(()) };
        check_solution(&problem, &Constraints::default(), p, &solution);
        let best = brute_force_optimum(&problem, p);
        prop_assert!(solution.objective <= best + 1e-6 * (1.0 + best));
        if let Bound::Proven { upper, .. } = solution.bound {
            prop_assert!(upper >= best - 1e-6 * (1.0 + best), "bound {upper} below the optimum {best}");
        } else {
            prop_assert!(false, "expected coverage under a site count must have a proven bound");
        }
    }

    #[test]
    fn a_new_candidate_never_costs_more_than_the_gap(
        inst in instance(16),
        extra in (point(), 0.5..3.0f64),
        p in 1usize..5,
        seed in any::<u64>(),
    ) {
        let p = p.min(inst.candidate_xy.len());
        let Some(before) = solve_plain(&inst.problem(), p, seed) else { return Ok(()) };
        let mut more = inst.clone();
        more.candidate_xy.push(extra.0);
        more.costs.push(extra.1);
        let after = solve_plain(&more.problem(), p, seed).expect("the smaller problem had something to add");
        let Bound::Proven { upper, gap, .. } = after.bound else {
            panic!("expected coverage under a site count must have a proven bound");
        };
        // The larger problem's optimum is at least the smaller one's answer, so
        // its bound must be too, and its answer is within its gap of that.
        prop_assert!(upper >= before.objective - 1e-6 * (1.0 + upper));
        prop_assert!(
            after.objective >= (1.0 - gap) * before.objective - 1e-6 * (1.0 + upper),
            "after {} < (1 - {gap}) × before {}", after.objective, before.objective
        );
    }
}
