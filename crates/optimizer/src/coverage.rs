//! Which demand points each site covers, and with what probability.

use crate::{Error, Result};

/// Sparse coverage: for every site (candidate or existing) the demand points it
/// may cover and the probability that it does (1 for fixed-radius coverage).
///
/// Stored both site-major (a row per site) and demand-major (a column per demand
/// point), so a site's gain and "who else covers this point" are both one slice.
/// Entries with probability 0 are dropped.
#[derive(Debug, Clone, Default)]
pub struct CoverageMatrix {
    n_demand: usize,
    row_offsets: Vec<usize>,
    row_demand: Vec<u32>,
    row_prob: Vec<f32>,
    col_offsets: Vec<usize>,
    col_site: Vec<u32>,
    col_prob: Vec<f32>,
}

impl CoverageMatrix {
    /// Builds the matrix from one list of `(demand index, probability)` per site.
    ///
    /// Errors name the site and the entry: a demand index out of range, a
    /// probability outside 0..=1 or NaN, a demand point listed twice for one site.
    pub fn from_rows(n_demand: usize, rows: Vec<Vec<(u32, f32)>>) -> Result<Self> {
        if u32::try_from(n_demand).is_err() || u32::try_from(rows.len()).is_err() {
            return Err(Error::BadCoverage(format!(
                "{n_demand} demand points × {} sites is more than this optimizer indexes (2^32 each)",
                rows.len()
            )));
        }
        let mut row_offsets = Vec::with_capacity(rows.len() + 1);
        row_offsets.push(0);
        let nnz: usize = rows.iter().map(Vec::len).sum();
        let mut row_demand = Vec::with_capacity(nnz);
        let mut row_prob = Vec::with_capacity(nnz);
        for (site, mut row) in rows.into_iter().enumerate() {
            row.sort_unstable_by_key(|&(h, _)| h);
            for (i, &(h, p)) in row.iter().enumerate() {
                if h as usize >= n_demand {
                    return Err(Error::BadCoverage(format!(
                        "site {site}: demand index {h} but there are {n_demand} demand points"
                    )));
                }
                if !(0.0..=1.0).contains(&p) {
                    return Err(Error::BadCoverage(format!(
                        "site {site}, demand {h}: probability {p} is not within 0..=1"
                    )));
                }
                if i > 0 && row[i - 1].0 == h {
                    return Err(Error::BadCoverage(format!(
                        "site {site}: demand {h} is listed twice"
                    )));
                }
                if p > 0.0 {
                    row_demand.push(h);
                    row_prob.push(p);
                }
            }
            row_offsets.push(row_demand.len());
        }
        let mut matrix = Self {
            n_demand,
            row_offsets,
            row_demand,
            row_prob,
            ..Self::default()
        };
        matrix.build_columns();
        Ok(matrix)
    }

    fn build_columns(&mut self) {
        let mut counts = vec![0usize; self.n_demand + 1];
        for &h in &self.row_demand {
            counts[h as usize + 1] += 1;
        }
        for h in 0..self.n_demand {
            counts[h + 1] += counts[h];
        }
        let col_offsets = counts.clone();
        let mut next = counts;
        let mut col_site = vec![0u32; self.row_demand.len()];
        let mut col_prob = vec![0f32; self.row_demand.len()];
        for site in 0..self.n_sites() {
            let (demand, prob) = self.row(site);
            for (&h, &p) in demand.iter().zip(prob) {
                let slot = next[h as usize];
                col_site[slot] = site as u32;
                col_prob[slot] = p;
                next[h as usize] += 1;
            }
        }
        self.col_offsets = col_offsets;
        self.col_site = col_site;
        self.col_prob = col_prob;
    }

    /// Number of demand points.
    #[must_use]
    pub fn n_demand(&self) -> usize {
        self.n_demand
    }

    /// Number of sites (rows).
    #[must_use]
    pub fn n_sites(&self) -> usize {
        self.row_offsets.len().saturating_sub(1)
    }

    /// Number of stored (non-zero) entries.
    #[must_use]
    pub fn nnz(&self) -> usize {
        self.row_demand.len()
    }

    /// The demand points site `site` covers and the probabilities, by demand index.
    #[must_use]
    pub fn row(&self, site: usize) -> (&[u32], &[f32]) {
        let range = self.row_offsets[site]..self.row_offsets[site + 1];
        (&self.row_demand[range.clone()], &self.row_prob[range])
    }

    /// The sites that cover demand point `demand` and the probabilities, by site index.
    #[must_use]
    pub fn column(&self, demand: usize) -> (&[u32], &[f32]) {
        let range = self.col_offsets[demand]..self.col_offsets[demand + 1];
        (&self.col_site[range.clone()], &self.col_prob[range])
    }

    /// The same matrix with every probability at or above `threshold` set to 1
    /// and the rest dropped: "covers" in the k-coverage sense.
    #[must_use]
    pub fn thresholded(&self, threshold: f32) -> Self {
        let rows = (0..self.n_sites())
            .map(|site| {
                let (demand, prob) = self.row(site);
                demand
                    .iter()
                    .zip(prob)
                    .filter(|&(_, &p)| p >= threshold)
                    .map(|(&h, _)| (h, 1.0))
                    .collect()
            })
            .collect();
        // The input was valid, so the thresholded rows are too.
        Self::from_rows(self.n_demand, rows).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_columns_agree() {
        let m = CoverageMatrix::from_rows(
            3,
            vec![vec![(2, 0.5), (0, 1.0)], vec![], vec![(1, 0.25), (2, 0.0)]],
        )
        .unwrap();
        assert_eq!(m.n_sites(), 3);
        assert_eq!(m.nnz(), 3);
        assert_eq!(m.row(0), (&[0u32, 2][..], &[1.0f32, 0.5][..]));
        assert_eq!(m.column(2), (&[0u32][..], &[0.5f32][..]));
        assert_eq!(m.column(1), (&[2u32][..], &[0.25f32][..]));
        let t = m.thresholded(0.5);
        assert_eq!(t.row(0), (&[0u32, 2][..], &[1.0f32, 1.0][..]));
        assert_eq!(t.row(2).0.len(), 0);
    }

    #[test]
    fn bad_entries_are_errors() {
        assert!(CoverageMatrix::from_rows(2, vec![vec![(2, 1.0)]]).is_err());
        assert!(CoverageMatrix::from_rows(2, vec![vec![(1, 1.5)]]).is_err());
        assert!(CoverageMatrix::from_rows(2, vec![vec![(1, f32::NAN)]]).is_err());
        assert!(CoverageMatrix::from_rows(2, vec![vec![(1, 0.5), (1, 0.5)]]).is_err());
    }
}
