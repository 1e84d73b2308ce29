//! Which windows may hold a point: a uniform grid of buckets over the union
//! of the windows' extents, stored compactly (CSR).

use crate::Bounds;

/// At most this many buckets, whatever the mix of window sizes.
const MAX_BUCKETS: f64 = (1 << 20) as f64;

#[derive(Debug, Clone, Default)]
pub(crate) struct WindowIndex {
    south: f64,
    west: f64,
    north: f64,
    east: f64,
    /// Inverse bucket sizes (buckets per degree), so look-ups only multiply.
    per_deg_lat: f64,
    per_deg_lon: f64,
    rows: usize,
    cols: usize,
    /// Bucket `b` holds `items[offsets[b]..offsets[b + 1]]`.
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl WindowIndex {
    /// Buckets the `extents` (window `i` has extent `extents[i]`); a window is
    /// listed in every bucket its extent touches, in order of `i`.
    pub(crate) fn build(extents: &[Bounds]) -> Self {
        if extents.is_empty() {
            return Self::default();
        }
        let fold = |f: fn(f64, f64) -> f64, g: fn(&Bounds) -> f64, init: f64| {
            extents.iter().map(g).fold(init, f)
        };
        let south = fold(f64::min, |b| b.south, f64::INFINITY);
        let west = fold(f64::min, |b| b.west, f64::INFINITY);
        let north = fold(f64::max, |b| b.north, f64::NEG_INFINITY);
        let east = fold(f64::max, |b| b.east, f64::NEG_INFINITY);
        // Buckets the size of the smallest window, grown until there are not
        // too many of them.
        let mut cell_lat = fold(f64::min, |b| b.north - b.south, f64::INFINITY);
        let mut cell_lon = fold(f64::min, |b| b.east - b.west, f64::INFINITY);
        let (span_lat, span_lon) = (north - south, east - west);
        let count = (span_lat / cell_lat).ceil() * (span_lon / cell_lon).ceil();
        if count > MAX_BUCKETS {
            let grow = (count / MAX_BUCKETS).sqrt();
            cell_lat *= grow * 1.01;
            cell_lon *= grow * 1.01;
        }
        let rows = ((span_lat / cell_lat).ceil() as usize).max(1);
        let cols = ((span_lon / cell_lon).ceil() as usize).max(1);
        let mut index = Self {
            south,
            west,
            north,
            east,
            per_deg_lat: 1.0 / cell_lat,
            per_deg_lon: 1.0 / cell_lon,
            rows,
            cols,
            offsets: vec![0; rows * cols + 1],
            items: Vec::new(),
        };
        // Two passes: count per bucket, then place.
        let spans: Vec<_> = extents.iter().map(|b| index.span(b)).collect();
        for &(r0, r1, c0, c1) in &spans {
            for r in r0..=r1 {
                for c in c0..=c1 {
                    index.offsets[r * cols + c + 1] += 1;
                }
            }
        }
        for b in 0..rows * cols {
            index.offsets[b + 1] += index.offsets[b];
        }
        let mut next: Vec<u32> = index.offsets[..rows * cols].to_vec();
        index.items = vec![0; index.offsets[rows * cols] as usize];
        for (i, &(r0, r1, c0, c1)) in spans.iter().enumerate() {
            for r in r0..=r1 {
                for c in c0..=c1 {
                    let slot = &mut next[r * cols + c];
                    index.items[*slot as usize] = i as u32;
                    *slot += 1;
                }
            }
        }
        index
    }

    fn row(&self, lat: f64) -> usize {
        (((lat - self.south) * self.per_deg_lat).max(0.0) as usize).min(self.rows - 1)
    }

    fn col(&self, lon: f64) -> usize {
        (((lon - self.west) * self.per_deg_lon).max(0.0) as usize).min(self.cols - 1)
    }

    fn span(&self, b: &Bounds) -> (usize, usize, usize, usize) {
        (
            self.row(b.south),
            self.row(b.north),
            self.col(b.west),
            self.col(b.east),
        )
    }

    /// The windows whose extent may contain the point (a superset), in order.
    pub(crate) fn candidates(&self, lat: f64, lon: f64) -> &[u32] {
        // Negated comparisons so that NaN is outside.
        if self.offsets.is_empty()
            || !(lat >= self.south && lat <= self.north && lon >= self.west && lon <= self.east)
        {
            return &[];
        }
        let b = self.row(lat) * self.cols + self.col(lon);
        &self.items[self.offsets[b] as usize..self.offsets[b + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(south: f64, west: f64, north: f64, east: f64) -> Bounds {
        Bounds {
            south,
            west,
            north,
            east,
        }
    }

    #[test]
    fn finds_the_windows_of_a_point() {
        let extents = [b(48.0, 9.0, 49.0, 10.0), b(48.0, 10.0, 49.0, 11.0)];
        let index = WindowIndex::build(&extents);
        assert_eq!(index.candidates(48.5, 9.5), &[0]);
        // A superset: window 0 touches the bucket at its eastern edge.
        assert!(index.candidates(48.5, 10.5).contains(&1));
        assert!(index.candidates(48.5, 10.0).contains(&1));
        assert!(index.candidates(47.9, 9.5).is_empty());
        assert!(index.candidates(f64::NAN, 9.5).is_empty());
        assert!(index.candidates(49.0, 11.0).contains(&1));
    }

    #[test]
    fn bucket_count_is_bounded_for_mixed_sizes() {
        let extents = [b(0.0, 0.0, 1e-4, 1e-4), b(-60.0, -180.0, 60.0, 180.0)];
        let index = WindowIndex::build(&extents);
        assert!(index.rows * index.cols <= (1 << 20));
        assert_eq!(index.candidates(5e-5, 5e-5), &[0, 1]);
        assert_eq!(index.candidates(10.0, 10.0), &[1]);
    }

    #[test]
    fn empty_index_finds_nothing() {
        assert!(WindowIndex::build(&[]).candidates(0.0, 0.0).is_empty());
    }
}
