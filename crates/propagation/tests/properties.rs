//! Property tests: invariants every model must keep.

#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use hexcover_core::{LatLon, PathProfile, STANDARD_K_FACTOR};
use hexcover_propagation::{
    Bullington, Cost231Hata, Deygout, Diffraction, FEATURE_COUNT, FreeSpace, Hata, KnifeEdge,
    LearnedModel, LearnedParams, LinkSample, LogDistance, PathFeatures, PathGeometry, PathLoss,
    RSSI_FALLS_WITH, RSSI_RISES_WITH, RadioPath, fresnel_nu, knife_edge_loss_db,
};
use proptest::prelude::*;

/// Synthetic rows (no measurement; random features in plausible ranges)
/// whose RSSI breaks physics over part of each range: it wiggles up with
/// distance, the Bullington loss and the obstructed share and down with the
/// line-of-sight clearance, around trends that obey it.
fn contrary_rows() -> Vec<LinkSample> {
    let mut state = 0x5eed_u64;
    let mut uniform = move || {
        // xorshift64*: enough for test data.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..2_400)
        .map(|i| {
            let mut x: [f64; FEATURE_COUNT] = std::array::from_fn(|_| uniform());
            x[0] = 2.3 + 1.7 * x[0];
            x[1] = 868.3;
            x[2] = 2.0;
            x[3] = 10.0;
            x[7] = 100.0 * x[7] - 50.0;
            x[10] *= 25.0;
            let f = PathFeatures::from_array(x);
            let rssi_dbm = -40.0 - 20.0 * f.log10_distance_m - 0.5 * f.bullington_loss_db
                + 3.0 * (6.0 * f.log10_distance_m).sin()
                + 6.0 * (f.bullington_loss_db / 2.0).sin()
                + 4.0 * (f.los_clearance_m / 8.0).sin()
                + 5.0 * (9.0 * f.obstructed_fraction).sin()
                + 2.0 * (uniform() - 0.5);
            LinkSample {
                device: LatLon::new(48.35 + 0.1 * uniform(), 9.9 + 0.15 * uniform()),
                receiver: format!("gw{}", i % 3),
                features: f,
                rssi_dbm,
            }
        })
        .collect()
}

fn learned_params() -> LearnedParams {
    let p = LearnedParams::new();
    p.gbm(p.gbm.n_trees(60).min_samples_leaf(10))
}

/// The default (physics-held) learned model of [`contrary_rows`], trained once.
fn held_model() -> &'static (Vec<LinkSample>, LearnedModel) {
    static MODEL: OnceLock<(Vec<LinkSample>, LearnedModel)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let rows = contrary_rows();
        let model = learned_params().fit(&rows).unwrap();
        (rows, model)
    })
}

/// How far the learned model's RSSI moves against physics when feature
/// `index` of `features` rises by `step`: > 0 is a breach.
fn breach_db(model: &LearnedModel, features: &PathFeatures, index: usize, step: f64) -> f64 {
    let mut raised = features.to_array();
    raised[index] += step;
    let before = model.predict_link(features, Some("gw1")).mean_dbm;
    let after = model
        .predict_link(&PathFeatures::from_array(raised), Some("gw1"))
        .mean_dbm;
    if RSSI_RISES_WITH.contains(index) {
        before - after
    } else {
        after - before
    }
}

/// The constrained features, by index.
fn held_features() -> Vec<usize> {
    (0..FEATURE_COUNT)
        .filter(|&i| RSSI_RISES_WITH.contains(i) || RSSI_FALLS_WITH.contains(i))
        .collect()
}

/// The same rows without the constraints do breach physics: the property
/// test below could fail.
#[test]
fn a_free_learned_model_breaches_physics_on_these_rows() {
    let (rows, held) = held_model();
    let free = learned_params().physics_monotone(false).fit(rows).unwrap();
    assert!(held.params.physics_monotone && !free.params.physics_monotone);
    let worst = |model: &LearnedModel| {
        let mut worst = 0.0f64;
        for row in rows.iter().take(100) {
            for &index in &held_features() {
                for step in [0.5, 2.0, 8.0] {
                    worst = worst.max(breach_db(model, &row.features, index, step));
                }
            }
        }
        worst
    };
    assert!(worst(&free) > 0.5, "{}", worst(&free));
    assert_eq!(worst(held), 0.0);
}

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

    /// The learned model keeps physics: more distance, loss or obstruction
    /// never raises its RSSI, more clearance never lowers it (the other
    /// features held fixed), from any training row, by any step.
    #[test]
    fn the_learned_model_never_gains_with_distance_or_obstruction(
        row in 0usize..2_400,
        which in 0usize..10,
        log10_step in -3.0f64..1.8,
    ) {
        // Steps from 1e-3 (within one split's bins) to 60 (past them all).
        let step = 10f64.powf(log10_step);
        let (rows, model) = held_model();
        let features = held_features();
        prop_assert_eq!(features.len(), 10);
        let index = features[which];
        let breach = breach_db(model, &rows[row].features, index, step);
        prop_assert!(breach <= 0.0, "feature {index} up by {step}: {breach} dB against physics");
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
