//! Void filling: inverse-distance weighting from the nearest valid samples.

use std::collections::VecDeque;

/// Fills the voids (NaN) of a `width`×`height` row-major grid in place.
///
/// A void at Chebyshev distance `d` from the nearest valid sample (`d` found by
/// a breadth-first search through the voids, so the whole pass is linear in
/// the number of voids reached) gets the inverse-squared-distance mean of all
/// valid samples within the `(2d+1)²` square around it: the ring of nearest
/// valid neighbours and whatever else is as close. Only original samples are
/// used, never filled ones, so the result does not depend on the visiting order.
/// Voids further than `radius_px` from valid data stay NaN.
pub(crate) fn fill_voids(values: &mut [f32], width: usize, height: usize, radius_px: usize) {
    debug_assert_eq!(values.len(), width * height);
    if radius_px == 0 || !values.iter().any(|v| v.is_nan()) {
        return;
    }
    let radius = u16::try_from(radius_px).unwrap_or(u16::MAX - 1);
    const UNREACHED: u16 = u16::MAX;
    // 0 for valid samples, the BFS distance for reached voids.
    let mut dist: Vec<u16> = values
        .iter()
        .map(|v| if v.is_nan() { UNREACHED } else { 0 })
        .collect();

    let neighbours = |i: usize| {
        let (x, y) = (i % width, i / width);
        let xs = x.saturating_sub(1)..=(x + 1).min(width - 1);
        let ys = y.saturating_sub(1)..=(y + 1).min(height - 1);
        ys.flat_map(move |ny| xs.clone().map(move |nx| ny * width + nx))
            .filter(move |&j| j != i)
    };

    let mut queue = VecDeque::new();
    for i in 0..values.len() {
        if dist[i] == UNREACHED && neighbours(i).any(|j| dist[j] == 0) {
            dist[i] = 1;
            queue.push_back(i);
        }
    }
    let mut reached = Vec::with_capacity(queue.len());
    while let Some(i) = queue.pop_front() {
        reached.push(i);
        let d = dist[i];
        if d >= radius {
            continue;
        }
        for j in neighbours(i) {
            if dist[j] == UNREACHED {
                dist[j] = d + 1;
                queue.push_back(j);
            }
        }
    }

    for i in reached {
        let d = usize::from(dist[i]);
        let (x, y) = (i % width, i / width);
        let (mut sum, mut weight_sum) = (0.0_f64, 0.0_f64);
        for ny in y.saturating_sub(d)..=(y + d).min(height - 1) {
            for nx in x.saturating_sub(d)..=(x + d).min(width - 1) {
                let j = ny * width + nx;
                if dist[j] == 0 {
                    let (dx, dy) = (nx.abs_diff(x) as f64, ny.abs_diff(y) as f64);
                    let w = 1.0 / (dx * dx + dy * dy);
                    sum += w * f64::from(values[j]);
                    weight_sum += w;
                }
            }
        }
        // The BFS guarantees a valid sample within distance d.
        if weight_sum > 0.0 {
            values[i] = (sum / weight_sum) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: f32 = f32::NAN;

    #[test]
    fn single_void_is_the_weighted_mean_of_its_ring() {
        #[rustfmt::skip]
        let mut g = vec![
            1.0, 2.0, 3.0,
            4.0, N,   6.0,
            7.0, 8.0, 9.0,
        ];
        fill_voids(&mut g, 3, 3, 4);
        // Orthogonal neighbours weigh 1, diagonal ones 1/2.
        let expected = ((2.0 + 4.0 + 6.0 + 8.0) + 0.5 * (1.0 + 3.0 + 7.0 + 9.0)) / 6.0;
        assert!((g[4] - expected).abs() < 1e-6, "{}", g[4]);
    }

    #[test]
    fn a_hole_is_filled_from_original_samples_only() {
        // Symmetric ring of 10 around a 3×3 hole: everything fills to 10.
        let (w, h) = (5, 5);
        let mut g = vec![10.0; w * h];
        for y in 1..4 {
            for x in 1..4 {
                g[y * w + x] = N;
            }
        }
        fill_voids(&mut g, w, h, 4);
        assert!(g.iter().all(|v| (v - 10.0).abs() < 1e-6), "{g:?}");
    }

    #[test]
    fn radius_limits_the_fill_and_zero_disables_it() {
        let (w, h) = (9, 1);
        let mut g = vec![5.0, N, N, N, N, N, N, N, N];
        fill_voids(&mut g, w, h, 3);
        assert_eq!(&g[..4], &[5.0, 5.0, 5.0, 5.0]);
        assert!(g[4..].iter().all(|v| v.is_nan()), "{g:?}");

        let mut g = vec![5.0, N, 7.0];
        fill_voids(&mut g, 3, 1, 0);
        assert!(g[1].is_nan());
    }

    #[test]
    fn all_void_stays_void() {
        let mut g = vec![N; 16];
        fill_voids(&mut g, 4, 4, 8);
        assert!(g.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn grid_without_voids_is_untouched() {
        let mut g: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let before = g.clone();
        fill_voids(&mut g, 4, 3, 8);
        assert_eq!(g, before);
    }
}
