//! Helium hex-density rules (HIP-17, with HIP-104's parameters as defaults).
//!
//! For each rule resolution r, from the finest to the coarsest: a hex's
//! *unclipped* count is the number of sites in it at the finest resolution and
//! the sum of its children's *clipped* counts above that; a hex is *occupied*
//! when its unclipped count reaches the resolution's target; with n the number
//! of occupied hexes among it and its 6 neighbours, its limit is
//! `min(max, target × max(n − N + 1, 1))` and its clipped count
//! `min(unclipped, limit)`. A site's reward scale is the product over the rule
//! resolutions of clipped ÷ unclipped of the hex that holds it.

use std::collections::HashMap;

use h3o::{CellIndex, Resolution};

use crate::{Error, Result};

/// The parameters of one resolution's rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DensityLevel {
    /// H3 resolution the rule counts at.
    pub resolution: u8,
    /// N: occupied neighbours needed before the limit grows.
    pub neighbours_n: u32,
    /// Target density per hex.
    pub target: u32,
    /// Maximum density per hex.
    pub max: u32,
}

/// A set of density rules, one per resolution, contiguous resolutions.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityRules {
    levels: Vec<DensityLevel>,
}

impl Default for DensityRules {
    /// The live HIP-17/HIP-104 parameters: res 4 (2, 500, 1000), res 5 (4, 100, 200),
    /// res 6 (4, 25, 50), res 7 (4, 5, 10), res 8–10 (2, 1, 1).
    fn default() -> Self {
        let level = |resolution, neighbours_n, target, max| DensityLevel {
            resolution,
            neighbours_n,
            target,
            max,
        };
        Self {
            levels: vec![
                level(4, 2, 500, 1000),
                level(5, 4, 100, 200),
                level(6, 4, 25, 50),
                level(7, 4, 5, 10),
                level(8, 2, 1, 1),
                level(9, 2, 1, 1),
                level(10, 2, 1, 1),
            ],
        }
    }
}

impl DensityRules {
    /// Rules from a table; resolutions must be contiguous and increasing (children
    /// of one level are the next level's hexes), targets and maxima ≥ 1.
    pub fn new(mut levels: Vec<DensityLevel>) -> Result<Self> {
        levels.sort_by_key(|l| l.resolution);
        if levels.is_empty() {
            return Err(Error::Parameter("density rules: no resolutions".into()));
        }
        for pair in levels.windows(2) {
            if pair[1].resolution != pair[0].resolution + 1 {
                return Err(Error::Parameter(format!(
                    "density rules: resolutions must be contiguous, found {} then {}",
                    pair[0].resolution, pair[1].resolution
                )));
            }
        }
        for level in &levels {
            if level.resolution > 15 || level.target == 0 || level.max == 0 {
                return Err(Error::Parameter(format!(
                    "density rules: res {} needs target and max ≥ 1 and a resolution ≤ 15",
                    level.resolution
                )));
            }
        }
        Ok(Self { levels })
    }

    /// The rule table, coarsest resolution first.
    #[must_use]
    pub fn levels(&self) -> &[DensityLevel] {
        &self.levels
    }

    fn finest(&self) -> u8 {
        self.levels.last().map_or(0, |l| l.resolution)
    }

    /// The reward scale (0..=1) of every site in `cells`, in the same order.
    /// Sites whose cell is coarser than the finest rule resolution get scale 1.
    #[must_use]
    pub fn reward_scales(&self, cells: &[CellIndex]) -> Vec<f64> {
        let counts = self.clipped_counts(cells);
        cells
            .iter()
            .map(|&cell| {
                self.levels
                    .iter()
                    .zip(&counts)
                    .map(|(level, table)| {
                        parent(cell, level.resolution)
                            .and_then(|hex| table.get(&hex))
                            .map_or(1.0, |&(unclipped, clipped)| {
                                if unclipped > 0.0 {
                                    clipped / unclipped
                                } else {
                                    1.0
                                }
                            })
                    })
                    .product()
            })
            .collect()
    }

    /// Per level (coarsest first): hex → (unclipped, clipped).
    fn clipped_counts(&self, cells: &[CellIndex]) -> Vec<HashMap<CellIndex, (f64, f64)>> {
        let finest = self.finest();
        let mut per_level: Vec<HashMap<CellIndex, (f64, f64)>> =
            vec![HashMap::new(); self.levels.len()];
        let mut unclipped: HashMap<CellIndex, f64> = HashMap::new();
        for &cell in cells {
            if let Some(hex) = parent(cell, finest) {
                *unclipped.entry(hex).or_default() += 1.0;
            }
        }
        for (index, level) in self.levels.iter().enumerate().rev() {
            let target = f64::from(level.target);
            let mut clipped_here = HashMap::with_capacity(unclipped.len());
            for (&hex, &count) in &unclipped {
                let occupied = hex
                    .grid_disk::<Vec<_>>(1)
                    .into_iter()
                    .filter(|n| unclipped.get(n).is_some_and(|&c| c >= target))
                    .count() as f64;
                let growth = (occupied - f64::from(level.neighbours_n) + 1.0).max(1.0);
                let limit = f64::from(level.max).min(target * growth);
                clipped_here.insert(hex, (count, count.min(limit)));
            }
            // The parent level's unclipped counts are sums of these clipped counts.
            let mut next: HashMap<CellIndex, f64> = HashMap::new();
            if index > 0 {
                let parent_res = self.levels[index - 1].resolution;
                for (&hex, &(_, clipped)) in &clipped_here {
                    if let Some(up) = parent(hex, parent_res) {
                        *next.entry(up).or_default() += clipped;
                    }
                }
            }
            per_level[index] = clipped_here;
            unclipped = next;
        }
        per_level
    }
}

fn parent(cell: CellIndex, resolution: u8) -> Option<CellIndex> {
    let res = Resolution::try_from(resolution).ok()?;
    cell.parent(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(lat: f64, lon: f64) -> CellIndex {
        h3o::LatLng::new(lat, lon)
            .unwrap()
            .to_cell(Resolution::Twelve)
    }

    #[test]
    fn one_site_per_hex_has_full_scale() {
        let rules = DensityRules::default();
        let scales = rules.reward_scales(&[cell(48.40, 9.99), cell(48.45, 10.05)]);
        assert_eq!(scales, vec![1.0, 1.0]);
    }

    #[test]
    fn two_sites_in_one_res10_hex_are_halved() {
        // Res 8–10: target 1, max 1, so two sites sharing a res-10 hex (with no
        // occupied neighbours to raise the limit) each get 1/2.
        let rules = DensityRules::default();
        let a = cell(48.40, 9.99);
        let parent10 = a.parent(Resolution::Ten).unwrap();
        let b = parent10
            .children(Resolution::Twelve)
            .find(|&c| c != a)
            .unwrap();
        let scales = rules.reward_scales(&[a, b]);
        assert_eq!(scales, vec![0.5, 0.5]);
    }

    #[test]
    fn bad_tables_are_errors() {
        let level = |resolution| DensityLevel {
            resolution,
            neighbours_n: 2,
            target: 1,
            max: 1,
        };
        assert!(DensityRules::new(vec![]).is_err());
        assert!(DensityRules::new(vec![level(8), level(10)]).is_err());
        assert!(DensityRules::new(vec![level(9), level(8)]).is_ok());
    }
}
