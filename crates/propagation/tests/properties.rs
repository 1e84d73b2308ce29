//! Property tests: invariants every model must keep.

use hexcover_core::{PathProfile, STANDARD_K_FACTOR};
use hexcover_propagation::{
    Bullington, Cost231Hata, Deygout, Diffraction, FreeSpace, Hata, KnifeEdge, LogDistance,
    PathGeometry, PathLoss, RadioPath, fresnel_nu, knife_edge_loss_db,
};
use proptest::prelude::*;

/// Every model of the crate, terrain-aware ones included, by name.
fn models() -> Vec<(&'static str, Box<dyn PathLoss>)> {
    vec![
        ("free space", Box::new(FreeSpace)),
        (
            "log-distance n=2.7",
            Box::new(LogDistance::new(40.0, 2.7, 1.0)),
        ),
        (
            "log-distance n=0",
            Box::new(LogDistance::new(120.0, 0.0, 1_000.0)),
        ),
        ("hata urban", Box::new(Hata::urban())),
        ("hata urban large", Box::new(Hata::urban_large_city())),
        ("hata suburban", Box::new(Hata::suburban())),
        ("hata open", Box::new(Hata::open())),
        ("cost231 medium", Box::new(Cost231Hata::medium_city())),
        (
            "cost231 metropolitan",
            Box::new(Cost231Hata::metropolitan()),
        ),
        (
            "fs + knife edge",
            Box::new(FreeSpace.with_diffraction(KnifeEdge::default())),
        ),
        (
            "fs + deygout itu",
            Box::new(FreeSpace.with_diffraction(Deygout::itu())),
        ),
        (
            "fs + deygout classic",
            Box::new(FreeSpace.with_diffraction(Deygout::classic())),
        ),
        (
            "fs + bullington",
            Box::new(FreeSpace.with_diffraction(Bullington::default())),
        ),
        (
            "fs + deygout flat earth",
            Box::new(FreeSpace.with_diffraction(Deygout::itu().k_factor(f64::INFINITY))),
        ),
    ]
}

/// A profile of `samples` equal steps over `length_m` of flat ground at `elevation_m`.
fn flat_profile(length_m: f64, samples: usize, elevation_m: f64) -> PathProfile {
    let steps = (samples - 1) as f64;
    PathProfile {
        distance_m: (0..samples).map(|i| length_m * i as f64 / steps).collect(),
        elevation_m: vec![elevation_m; samples],
        filled_voids: 0,
    }
}

/// The diffraction methods that never lose less over higher terrain. Deygout
/// is not one of them: raising its principal edge lowers the secondary edges'
/// ν, which are measured from that edge's top (see the counterexample in
/// `diffraction.rs`).
fn monotone_diffraction_methods() -> Vec<(&'static str, Box<dyn Diffraction>)> {
    vec![
        ("knife edge", Box::new(KnifeEdge::default())),
        (
            "knife edge k=1",
            Box::new(KnifeEdge::default().k_factor(1.0)),
        ),
        ("bullington", Box::new(Bullington::default())),
        (
            "bullington flat earth",
            Box::new(Bullington::default().k_factor(f64::INFINITY)),
        ),
        (
            "bullington k=0.5",
            Box::new(Bullington::default().k_factor(0.5)),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Path loss never falls with distance over flat terrain, for every model,
    /// with and without a terrain profile (the profiles keep their sample
    /// fractions, as a terrain source with a fixed sample count does).
    #[test]
    fn loss_never_falls_with_distance_over_flat_terrain(
        d1 in 10.0f64..100_000.0,
        stretch in 1.0f64..3.0,
        freq_mhz in 100.0f64..3_000.0,
        h_tx in 0.5f64..50.0,
        h_rx in 0.5f64..200.0,
        ground in -100.0f64..3_000.0,
        samples in 2usize..80,
    ) {
        let d2 = d1 * stretch;
        let bare1 = RadioPath::new(d1, freq_mhz, h_tx, h_rx).unwrap();
        let bare2 = RadioPath::new(d2, freq_mhz, h_tx, h_rx).unwrap();
        let over1 = RadioPath::over_profile(flat_profile(d1, samples, ground), freq_mhz, h_tx, h_rx).unwrap();
        let over2 = RadioPath::over_profile(flat_profile(d2, samples, ground), freq_mhz, h_tx, h_rx).unwrap();
        for (name, model) in models() {
            for (p1, p2) in [(&bare1, &bare2), (&over1, &over2)] {
                let l1 = model.path_loss_db(p1).unwrap();
                let l2 = model.path_loss_db(p2).unwrap();
                prop_assert!(l1.is_finite() && l2.is_finite(), "{name}: {l1} {l2}");
                prop_assert!(l2 >= l1 - 1e-9, "{name}: {l1} dB at {d1} m, {l2} dB at {d2} m");
            }
        }
    }

    /// Raising terrain (an obstruction over some interior samples) never
    /// lowers the diffraction loss (single knife edge, Bullington), and never
    /// improves the clearances.
    #[test]
    fn an_obstruction_never_lowers_the_diffraction_loss(
        length_m in 100.0f64..60_000.0,
        elevations in prop::collection::vec(0.0f64..300.0, 3..60),
        freq_mhz in 100.0f64..3_000.0,
        h_tx in 0.0f64..60.0,
        h_rx in 0.0f64..60.0,
        start in 0.0f64..1.0,
        width in 0.0f64..0.5,
        obstacle_m in 0.0f64..600.0,
    ) {
        let n = elevations.len();
        let mut profile = flat_profile(length_m, n, 0.0);
        profile.elevation_m = elevations;
        // Interior samples only: raising an end would raise an antenna.
        let first = 1 + ((n - 2) as f64 * start) as usize;
        let last = (first + ((n - 2) as f64 * width) as usize).min(n - 2);
        let mut raised = profile.clone();
        for h in &mut raised.elevation_m[first..=last] {
            *h = h.max(obstacle_m);
        }
        let before = RadioPath::over_profile(profile, freq_mhz, h_tx, h_rx).unwrap();
        let after = RadioPath::over_profile(raised, freq_mhz, h_tx, h_rx).unwrap();
        for (name, method) in monotone_diffraction_methods() {
            let l0 = method.diffraction_loss_db(&before).unwrap();
            let l1 = method.diffraction_loss_db(&after).unwrap();
            prop_assert!(l0.is_finite() && l0 >= 0.0, "{name}: {l0}");
            prop_assert!(l1 >= l0 - 1e-9, "{name}: {l0} dB before, {l1} dB after raising {first}..={last} to {obstacle_m} m");
        }
        let g0 = PathGeometry::of(&before, STANDARD_K_FACTOR).unwrap();
        let g1 = PathGeometry::of(&after, STANDARD_K_FACTOR).unwrap();
        prop_assert!(g1.min_clearance_m <= g0.min_clearance_m + 1e-9);
        prop_assert!(g1.min_clearance_ratio <= g0.min_clearance_ratio + 1e-12);
        prop_assert!(g1.obstructed_fraction >= g0.obstructed_fraction);
        prop_assert!(g1.max_nu() >= g0.max_nu() - 1e-12);
    }

    /// Path loss is reciprocal: reversing the path (profile and antennas)
    /// changes no model's loss.
    #[test]
    fn every_model_is_reciprocal(
        length_m in 100.0f64..60_000.0,
        elevations in prop::collection::vec(0.0f64..300.0, 2..60),
        freq_mhz in 100.0f64..3_000.0,
        h_tx in 0.5f64..60.0,
        h_rx in 0.5f64..60.0,
    ) {
        let n = elevations.len();
        let mut profile = flat_profile(length_m, n, 0.0);
        profile.elevation_m = elevations;
        let mut reversed = profile.clone();
        reversed.elevation_m.reverse();
        reversed.distance_m = profile.distance_m.iter().rev().map(|d| length_m - d).collect();
        let forward = RadioPath::over_profile(profile, freq_mhz, h_tx, h_rx).unwrap();
        let backward = RadioPath::over_profile(reversed, freq_mhz, h_rx, h_tx).unwrap();
        for (name, model) in models() {
            let a = model.path_loss_db(&forward).unwrap();
            let b = model.path_loss_db(&backward).unwrap();
            prop_assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{name}: {a} vs {b}");
        }
    }

    /// ν grows with the obstacle's height (and so J(ν) never falls).
    #[test]
    fn nu_is_monotone_in_obstacle_height(
        h in -500.0f64..500.0,
        dh in 0.0f64..100.0,
        d1 in 1.0f64..50_000.0,
        d2 in 1.0f64..50_000.0,
        freq_mhz in 100.0f64..6_000.0,
    ) {
        let low = fresnel_nu(h, d1, d2, freq_mhz).unwrap();
        let high = fresnel_nu(h + dh, d1, d2, freq_mhz).unwrap();
        prop_assert!(high >= low, "{low} {high}");
        if dh > 0.0 {
            prop_assert!(high > low);
        }
        prop_assert!(knife_edge_loss_db(high) >= knife_edge_loss_db(low));
        prop_assert!(knife_edge_loss_db(low) >= 0.0);
    }

    /// Any numbers at all: a model answers with a finite loss or an error, never
    /// a panic or a NaN.
    #[test]
    fn no_panics_no_nans(
        d in prop::num::f64::ANY,
        f in prop::num::f64::ANY,
        h_tx in prop::num::f64::ANY,
        h_rx in prop::num::f64::ANY,
    ) {
        if let Ok(path) = RadioPath::new(d, f, h_tx, h_rx) {
            for (name, model) in models() {
                if let Ok(e) = model.estimate(&path) {
                    prop_assert!(!e.loss_db.is_nan(), "{name}: {d} {f} {h_tx} {h_rx}");
                }
            }
        }
    }
}
