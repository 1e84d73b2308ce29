//! The rules a placement must respect, and the bookkeeping that checks them.

use std::collections::HashMap;

use h3o::CellIndex;

use crate::{DensityRules, Error, Problem, Result};

/// The default minimum spacing between hotspots in geographic problems: Helium's
/// witness rule of 8 res-11 cells, as 8 × the distance between neighbouring
/// res-11 centres (√3 × the 24.91 m mean res-11 edge ≈ 43.1 m), so ≈ 345 m.
pub const HELIUM_MIN_SPACING_M: f64 = 345.0;

/// A simple polygon on the problem's plane (metres), first point not repeated.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// The ring's vertices.
    pub ring: Vec<[f64; 2]>,
}

impl Area {
    /// True when `(x, y)` lies inside the ring (even-odd rule).
    #[must_use]
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let n = self.ring.len();
        let mut inside = false;
        let mut j = n.wrapping_sub(1);
        for i in 0..n {
            let ([xi, yi], [xj, yj]) = (self.ring[i], self.ring[j]);
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

/// All optional rules of a placement. The default has none: only the site count
/// given to the solver limits it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// At most this many new sites.
    pub max_new_sites: Option<usize>,
    /// Total cost of the new sites at most this.
    pub budget: Option<f64>,
    /// No two sites (new or existing) closer than this, metres. Existing sites
    /// closer to each other than this are left as they are.
    pub min_spacing_m: Option<f64>,
    /// Hex-density rules: a new site must keep reward scale 1 (no hex it sits in over its limit).
    pub density: Option<DensityRules>,
    /// A new site must be within this distance of an existing site, metres.
    pub max_distance_to_existing_m: Option<f64>,
    /// New sites may not lie inside any of these areas.
    pub forbidden: Vec<Area>,
}

/// Which rule kept a site out (or stopped the search).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConstraintKind {
    /// The site count.
    SiteCount,
    /// The budget.
    Budget,
    /// Minimum spacing.
    Spacing,
    /// Hex density.
    Density,
    /// Maximum distance to an existing site.
    MaxDistance,
    /// A forbidden area.
    Forbidden,
}

impl ConstraintKind {
    /// The name used in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::SiteCount => "site_count",
            Self::Budget => "budget",
            Self::Spacing => "spacing",
            Self::Density => "density",
            Self::MaxDistance => "max_distance",
            Self::Forbidden => "forbidden",
        }
    }
}

impl Constraints {
    /// Checks the numbers before any work starts.
    pub fn check(&self) -> Result<()> {
        let positive = |name: &str, value: Option<f64>| match value {
            Some(v) if !(v.is_finite() && v >= 0.0) => Err(Error::Parameter(format!(
                "{name} {v} is not a finite number ≥ 0"
            ))),
            _ => Ok(()),
        };
        positive("budget", self.budget)?;
        positive("min spacing (m)", self.min_spacing_m)?;
        positive(
            "max distance to existing (m)",
            self.max_distance_to_existing_m,
        )?;
        for (i, area) in self.forbidden.iter().enumerate() {
            if area.ring.len() < 3 || area.ring.iter().flatten().any(|v| !v.is_finite()) {
                return Err(Error::Parameter(format!(
                    "forbidden area {i}: needs at least 3 finite vertices"
                )));
            }
        }
        Ok(())
    }

    /// The rule that excludes candidate `site` whatever else is chosen, if any.
    pub(crate) fn static_exclusion(
        &self,
        problem: &Problem,
        site: usize,
    ) -> Option<ConstraintKind> {
        let spec = &problem.sites()[site];
        if self
            .forbidden
            .iter()
            .any(|a| a.contains(spec.x_m, spec.y_m))
        {
            return Some(ConstraintKind::Forbidden);
        }
        if let Some(max) = self.max_distance_to_existing_m {
            let near = problem
                .sites()
                .iter()
                .filter(|s| s.locked)
                .any(|s| s.distance_m(spec) <= max);
            if !near {
                return Some(ConstraintKind::MaxDistance);
            }
        }
        if let Some(budget) = self.budget
            && spec.cost > budget
        {
            return Some(ConstraintKind::Budget);
        }
        None
    }
}

/// The placed sites (locked and chosen) and the running totals the dynamic
/// rules need: spacing grid, budget spent, density cells.
#[derive(Debug, Clone)]
pub(crate) struct Placement<'a> {
    problem: &'a Problem,
    constraints: &'a Constraints,
    max_new_sites: usize,
    grid: HashMap<(i64, i64), Vec<usize>>,
    cell_size_m: f64,
    placed_cells: Vec<(usize, CellIndex)>,
    pub(crate) spent: f64,
    pub(crate) new_sites: usize,
}

impl<'a> Placement<'a> {
    pub(crate) fn new(
        problem: &'a Problem,
        constraints: &'a Constraints,
        max_new_sites: usize,
    ) -> Self {
        let cell_size_m = constraints
            .min_spacing_m
            .filter(|&s| s > 0.0)
            .unwrap_or(1.0);
        let mut placement = Self {
            problem,
            constraints,
            max_new_sites,
            grid: HashMap::new(),
            cell_size_m,
            placed_cells: Vec::new(),
            spent: 0.0,
            new_sites: 0,
        };
        for (index, site) in problem.sites().iter().enumerate() {
            if site.locked {
                placement.add(index);
            }
        }
        placement
    }

    fn grid_key(&self, site: usize) -> (i64, i64) {
        let spec = &self.problem.sites()[site];
        (
            (spec.x_m / self.cell_size_m).floor() as i64,
            (spec.y_m / self.cell_size_m).floor() as i64,
        )
    }

    pub(crate) fn add(&mut self, site: usize) {
        let key = self.grid_key(site);
        self.grid.entry(key).or_default().push(site);
        let spec = &self.problem.sites()[site];
        if let Some(cell) = spec.cell {
            self.placed_cells.push((site, cell));
        }
        if !spec.locked {
            self.spent += spec.cost;
            self.new_sites += 1;
        }
    }

    pub(crate) fn remove(&mut self, site: usize) {
        let key = self.grid_key(site);
        if let Some(list) = self.grid.get_mut(&key) {
            list.retain(|&s| s != site);
        }
        self.placed_cells.retain(|&(s, _)| s != site);
        let spec = &self.problem.sites()[site];
        if !spec.locked {
            self.spent -= spec.cost;
            self.new_sites -= 1;
        }
    }

    /// The first rule that adding `site` (after taking `removing` out) would break.
    pub(crate) fn violation(&self, site: usize, removing: Option<usize>) -> Option<ConstraintKind> {
        let spec = &self.problem.sites()[site];
        let freed = removing.map(|r| &self.problem.sites()[r]);
        let count_after = self.new_sites + 1 - usize::from(freed.is_some());
        if count_after > self.max_new_sites {
            return Some(ConstraintKind::SiteCount);
        }
        if let Some(budget) = self.constraints.budget {
            let spent_after = self.spent + spec.cost - freed.map_or(0.0, |f| f.cost);
            if spent_after > budget * (1.0 + 1e-12) {
                return Some(ConstraintKind::Budget);
            }
        }
        if let Some(spacing) = self.constraints.min_spacing_m.filter(|&s| s > 0.0) {
            let (kx, ky) = self.grid_key(site);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    let Some(list) = self.grid.get(&(kx + dx, ky + dy)) else {
                        continue;
                    };
                    let too_close = list.iter().any(|&other| {
                        Some(other) != removing
                            && other != site
                            && self.problem.sites()[other].distance_m(spec) < spacing
                    });
                    if too_close {
                        return Some(ConstraintKind::Spacing);
                    }
                }
            }
        }
        if let (Some(rules), Some(cell)) = (&self.constraints.density, spec.cell) {
            let mut cells: Vec<CellIndex> = self
                .placed_cells
                .iter()
                .filter(|&&(s, _)| Some(s) != removing)
                .map(|&(_, c)| c)
                .collect();
            cells.push(cell);
            let scales = rules.reward_scales(&cells);
            if scales.last().is_some_and(|&s| s < 1.0 - 1e-9) {
                return Some(ConstraintKind::Density);
            }
        }
        None
    }

    /// Whether any rule depends on the other placed sites (spacing, density, budget).
    pub(crate) fn has_dynamic_rules(&self) -> bool {
        self.constraints.budget.is_some()
            || self.constraints.min_spacing_m.is_some_and(|s| s > 0.0)
            || self.constraints.density.is_some()
    }

    pub(crate) fn static_exclusion(&self, site: usize) -> Option<ConstraintKind> {
        self.constraints.static_exclusion(self.problem, site)
    }

    /// Reward scale of every placed site under the density rules (1 without rules),
    /// keyed by site index.
    pub(crate) fn reward_scales(&self) -> HashMap<usize, f64> {
        let Some(rules) = &self.constraints.density else {
            return HashMap::new();
        };
        let cells: Vec<CellIndex> = self.placed_cells.iter().map(|&(_, c)| c).collect();
        let scales = rules.reward_scales(&cells);
        self.placed_cells
            .iter()
            .zip(scales)
            .map(|(&(s, _), scale)| (s, scale))
            .collect()
    }

    /// Reward scale a candidate would have if added now (1 without density rules or cells).
    pub(crate) fn reward_scale_if_added(&self, site: usize) -> f64 {
        let (Some(rules), Some(cell)) =
            (&self.constraints.density, self.problem.sites()[site].cell)
        else {
            return 1.0;
        };
        let mut cells: Vec<CellIndex> = self.placed_cells.iter().map(|&(_, c)| c).collect();
        cells.push(cell);
        rules.reward_scales(&cells).last().copied().unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_contains() {
        let square = Area {
            ring: vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]],
        };
        assert!(square.contains(5.0, 5.0));
        assert!(!square.contains(15.0, 5.0));
        assert!(!square.contains(-0.1, 5.0));
    }
}
