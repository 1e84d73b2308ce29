//! The coverage state of a set of sites and the gains of changing it.

use crate::CoverageMatrix;

/// What a demand point is worth, given the sites that cover it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum HexRule {
    /// `1 − Π (1 − p)`: the probability that at least one site hears it.
    Expected,
    /// 1 when at least `k` sites cover it (probabilities already thresholded to 1), else 0.
    AtLeast(u32),
}

/// Per demand point: how many sites cover it for certain (p = 1) and the
/// product of `1 − p` over the uncertain ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hex {
    pub(crate) certain: u32,
    pub(crate) miss: f64,
}

impl Hex {
    const EMPTY: Self = Self {
        certain: 0,
        miss: 1.0,
    };

    fn with(self, p: f32) -> Self {
        if p >= 1.0 {
            Self {
                certain: self.certain + 1,
                ..self
            }
        } else {
            Self {
                miss: self.miss * (1.0 - f64::from(p)),
                ..self
            }
        }
    }

    pub(crate) fn without(self, p: f32) -> Self {
        if p >= 1.0 {
            Self {
                certain: self.certain.saturating_sub(1),
                ..self
            }
        } else {
            Self {
                miss: (self.miss / (1.0 - f64::from(p))).min(1.0),
                ..self
            }
        }
    }
}

impl HexRule {
    pub(crate) fn value(self, hex: Hex) -> f64 {
        match self {
            Self::Expected => {
                if hex.certain > 0 {
                    1.0
                } else {
                    1.0 - hex.miss
                }
            }
            Self::AtLeast(k) => f64::from(u8::from(hex.certain >= k)),
        }
    }

    /// Value added by one more site covering the point with probability `p`.
    pub(crate) fn gain(self, hex: Hex, p: f32) -> f64 {
        match self {
            Self::Expected => {
                if hex.certain > 0 {
                    0.0
                } else {
                    hex.miss * f64::from(p)
                }
            }
            Self::AtLeast(k) => f64::from(u8::from(hex.certain + 1 == k)),
        }
    }
}

/// The coverage of the currently placed sites.
#[derive(Debug, Clone)]
pub(crate) struct CoverState<'a> {
    pub(crate) coverage: &'a CoverageMatrix,
    pub(crate) weights: &'a [f64],
    pub(crate) rule: HexRule,
    pub(crate) hexes: Vec<Hex>,
    pub(crate) value: f64,
}

impl<'a> CoverState<'a> {
    pub(crate) fn new(coverage: &'a CoverageMatrix, weights: &'a [f64], rule: HexRule) -> Self {
        Self {
            coverage,
            weights,
            rule,
            hexes: vec![Hex::EMPTY; weights.len()],
            value: 0.0,
        }
    }

    /// The objective gained by adding `site`.
    pub(crate) fn gain(&self, site: usize) -> f64 {
        let (demand, prob) = self.coverage.row(site);
        demand
            .iter()
            .zip(prob)
            .map(|(&h, &p)| self.weights[h as usize] * self.rule.gain(self.hexes[h as usize], p))
            .sum()
    }

    pub(crate) fn add(&mut self, site: usize) {
        self.change(site, true, None);
    }

    pub(crate) fn remove(&mut self, site: usize) {
        self.change(site, false, None);
    }

    /// Adds or removes `site`; when `gains` is given, keeps every site's gain in it current.
    pub(crate) fn change(&mut self, site: usize, adding: bool, mut gains: Option<&mut [f64]>) {
        let (demand, prob) = self.coverage.row(site);
        for (&h, &p) in demand.iter().zip(prob) {
            let h = h as usize;
            let old = self.hexes[h];
            let new = if adding { old.with(p) } else { old.without(p) };
            let w = self.weights[h];
            self.value += w * (self.rule.value(new) - self.rule.value(old));
            self.hexes[h] = new;
            if let Some(gains) = gains.as_deref_mut() {
                let (sites, probs) = self.coverage.column(h);
                for (&j, &q) in sites.iter().zip(probs) {
                    gains[j as usize] += w * (self.rule.gain(new, q) - self.rule.gain(old, q));
                }
            }
        }
    }

    /// Every site's gain, computed from scratch.
    pub(crate) fn all_gains(&self) -> Vec<f64> {
        use rayon::prelude::*;
        (0..self.coverage.n_sites())
            .into_par_iter()
            .map(|j| self.gain(j))
            .collect()
    }

    /// The objective recomputed from the hexes (removes drift from many updates).
    pub(crate) fn recompute_value(&mut self) {
        self.value = self
            .hexes
            .iter()
            .zip(self.weights)
            .map(|(&hex, &w)| w * self.rule.value(hex))
            .sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_remove_restores_the_value() {
        let m = CoverageMatrix::from_rows(
            3,
            vec![vec![(0, 0.5), (1, 1.0)], vec![(1, 0.25), (2, 0.75)]],
        )
        .unwrap();
        let w = [1.0, 2.0, 4.0];
        let mut state = CoverState::new(&m, &w, HexRule::Expected);
        assert!((state.gain(0) - 2.5).abs() < 1e-12);
        state.add(0);
        assert!((state.value - 2.5).abs() < 1e-12);
        // Hex 1 is already certain, so site 1 only adds 0.75 × 4 at hex 2.
        assert!((state.gain(1) - 3.0).abs() < 1e-12);
        state.add(1);
        state.remove(0);
        assert!((state.value - (0.25 * 2.0 + 3.0)).abs() < 1e-12);
        state.remove(1);
        assert!(state.value.abs() < 1e-12);
    }

    #[test]
    fn at_least_two() {
        let m = CoverageMatrix::from_rows(1, vec![vec![(0, 1.0)], vec![(0, 1.0)]]).unwrap();
        let mut state = CoverState::new(&m, &[3.0], HexRule::AtLeast(2));
        assert_eq!(state.gain(0), 0.0);
        state.add(0);
        assert_eq!(state.gain(1), 3.0);
        state.add(1);
        assert_eq!(state.value, 3.0);
    }
}
