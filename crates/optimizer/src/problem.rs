//! The placement problem: demand, sites (candidates and locked existing ones), coverage.

use std::collections::HashSet;

use h3o::CellIndex;

use crate::{CoverageMatrix, Error, Result};

/// A site the optimizer may choose (a candidate) or must keep (an existing, locked site).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSpec {
    /// Stable id, reported in the answer.
    pub id: String,
    /// Position in metres on the problem's plane (projected CRS, or a local
    /// projection of WGS84 for geographic problems): spacing and distances use it.
    pub x_m: f64,
    /// See [`SiteSpec::x_m`].
    pub y_m: f64,
    /// Cost of building the site, in the budget's unit (0 for locked sites).
    pub cost: f64,
    /// True for existing sites: always part of the network, never counted against the site limit.
    pub locked: bool,
    /// The site's H3 cell (res 12 or finer) for the hex-density rules; `None` in planar problems.
    pub cell: Option<CellIndex>,
}

impl SiteSpec {
    /// A candidate at a planar position with cost 1.
    #[must_use]
    pub fn candidate(id: impl Into<String>, x_m: f64, y_m: f64) -> Self {
        Self {
            id: id.into(),
            x_m,
            y_m,
            cost: 1.0,
            locked: false,
            cell: None,
        }
    }

    /// An existing site, always kept.
    #[must_use]
    pub fn existing(id: impl Into<String>, x_m: f64, y_m: f64) -> Self {
        Self {
            locked: true,
            cost: 0.0,
            ..Self::candidate(id, x_m, y_m)
        }
    }

    /// Euclidean distance to another site on the problem's plane, metres.
    #[must_use]
    pub fn distance_m(&self, other: &Self) -> f64 {
        (self.x_m - other.x_m).hypot(self.y_m - other.y_m)
    }
}

/// Demand points with weights, sites, and which site covers which point.
#[derive(Debug, Clone)]
pub struct Problem {
    demand_ids: Vec<String>,
    weights: Vec<f64>,
    sites: Vec<SiteSpec>,
    coverage: CoverageMatrix,
}

impl Problem {
    /// Checks and assembles a problem. `coverage` has one row per entry of `sites`
    /// (in the same order) and one column per demand point.
    pub fn new(
        demand_ids: Vec<String>,
        weights: Vec<f64>,
        sites: Vec<SiteSpec>,
        coverage: CoverageMatrix,
    ) -> Result<Self> {
        if demand_ids.len() != weights.len() {
            return Err(Error::Parameter(format!(
                "{} demand ids but {} weights",
                demand_ids.len(),
                weights.len()
            )));
        }
        if coverage.n_demand() != weights.len() || coverage.n_sites() != sites.len() {
            return Err(Error::BadCoverage(format!(
                "the matrix is {} sites × {} demand points, the problem {} × {}",
                coverage.n_sites(),
                coverage.n_demand(),
                sites.len(),
                weights.len()
            )));
        }
        for (index, (&weight, id)) in weights.iter().zip(&demand_ids).enumerate() {
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(Error::BadWeight {
                    index,
                    id: id.clone(),
                    weight,
                });
            }
        }
        check_unique("demand", demand_ids.iter())?;
        check_unique("site", sites.iter().map(|s| &s.id))?;
        for site in &sites {
            if !(site.x_m.is_finite() && site.y_m.is_finite()) {
                return Err(Error::BadSite {
                    id: site.id.clone(),
                    reason: format!("position ({}, {}) is not finite", site.x_m, site.y_m),
                });
            }
            if !(site.cost.is_finite() && site.cost >= 0.0) {
                return Err(Error::BadSite {
                    id: site.id.clone(),
                    reason: format!("cost {} is not a finite number ≥ 0", site.cost),
                });
            }
        }
        Ok(Self {
            demand_ids,
            weights,
            sites,
            coverage,
        })
    }

    /// Demand ids, by demand index.
    #[must_use]
    pub fn demand_ids(&self) -> &[String] {
        &self.demand_ids
    }

    /// Demand weights, by demand index.
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// All sites, candidates and locked, by site index.
    #[must_use]
    pub fn sites(&self) -> &[SiteSpec] {
        &self.sites
    }

    /// The coverage matrix.
    #[must_use]
    pub fn coverage(&self) -> &CoverageMatrix {
        &self.coverage
    }

    /// Sum of all demand weights.
    #[must_use]
    pub fn total_weight(&self) -> f64 {
        self.weights.iter().sum()
    }

    /// Index of the site with this id.
    #[must_use]
    pub fn site_index(&self, id: &str) -> Option<usize> {
        self.sites.iter().position(|s| s.id == id)
    }
}

fn check_unique<'a>(kind: &'static str, ids: impl Iterator<Item = &'a String>) -> Result<()> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id.as_str()) {
            return Err(Error::DuplicateId {
                kind,
                id: id.clone(),
            });
        }
    }
    Ok(())
}
