use crate::model::Caveat;
use crate::{Bullington, Deygout, Diffraction, Estimate, FreeSpace, PathLoss, RadioPath, Result};

/// A path-loss model plus a terrain-diffraction method: the loss of `model`
/// plus the excess loss of `diffraction` over the path's profile.
///
/// A path without a profile gets the model's loss alone, flagged
/// [`Caveat::NoTerrainProfile`]. Built with [`PathLoss::with_diffraction`].
/// [`FreeSpaceBullington`] is the terrain-aware physics baseline;
/// [`FreeSpaceDeygout`] is there to compare with it. Adding diffraction to
/// Hata counts terrain twice (Hata's fit already contains average terrain
/// losses): prefer free space or a fitted log-distance model as the base.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WithDiffraction<M, D> {
    /// The base model.
    pub model: M,
    /// The diffraction method.
    pub diffraction: D,
}

/// Free space plus Bullington diffraction (ITU-R P.526 §4.5.1) with k = 4/3:
/// the terrain-aware physics baseline (`FreeSpaceBullington::default()`).
/// Chosen over Deygout because its loss never falls when terrain rises.
pub type FreeSpaceBullington = WithDiffraction<FreeSpace, Bullington>;

/// Free space plus ITU Deygout diffraction (three edges) with k = 4/3.
pub type FreeSpaceDeygout = WithDiffraction<FreeSpace, Deygout>;

impl<M: PathLoss, D: Diffraction> PathLoss for WithDiffraction<M, D> {
    fn estimate(&self, path: &RadioPath) -> Result<Estimate> {
        let mut estimate = self.model.estimate(path)?;
        if path.profile().is_some() {
            estimate.loss_db += self.diffraction.diffraction_loss_db(path)?;
        } else {
            estimate.caveats.insert(Caveat::NoTerrainProfile);
        }
        Ok(estimate)
    }
}

#[cfg(test)]
mod tests {
    use hexcover_core::{FlatTerrain, LatLon, PathProfile};

    use super::*;
    use crate::{Hata, KnifeEdge};

    #[test]
    fn free_space_plus_diffraction() {
        // The single 100 m edge of diffraction.rs (12 km, 900 MHz, flat earth):
        // FSPL = 32.4478 + 20·log10(900) + 20·log10(12) = 32.4478 + 59.0849 + 21.5836
        // = 113.1163 dB; plus J(4.25147) = 25.4080 dB → 138.5243 dB.
        let d: Vec<f64> = (0..=24).map(|i| f64::from(i) * 500.0).collect();
        let mut h = vec![0.0; 25];
        h[20] = 100.0;
        let profile = PathProfile {
            distance_m: d,
            elevation_m: h,
            filled_voids: 0,
        };
        let path = RadioPath::over_profile(profile, 900.0, 50.0, 25.0).unwrap();
        let model = FreeSpace.with_diffraction(KnifeEdge::default().k_factor(f64::INFINITY));
        let e = model.estimate(&path).unwrap();
        assert!((e.loss_db - 138.5243).abs() < 1e-3, "{}", e.loss_db);
        assert!(e.is_valid());
    }

    #[test]
    fn baseline_over_flat_terrain_and_without_profile() {
        let flat = FlatTerrain { elevation_m: 480.0 };
        let (a, b) = (LatLon::new(48.40, 9.99), LatLon::new(48.42, 10.02));
        let path = RadioPath::between(&flat, a, b, 1.5, 10.0, 868.3, 30.0).unwrap();
        let fspl = FreeSpace.path_loss_db(&path).unwrap();
        let baseline = FreeSpaceDeygout::default().estimate(&path).unwrap();
        assert!(baseline.loss_db >= fspl);
        assert!(baseline.is_valid());
        let bull = FreeSpaceBullington::default();
        assert!(bull.path_loss_db(&path).unwrap() >= fspl);

        let bare = RadioPath::new(path.distance_m(), 868.3, 1.5, 10.0).unwrap();
        let e = FreeSpaceDeygout::default().estimate(&bare).unwrap();
        assert!((e.loss_db - fspl).abs() < 1e-9);
        assert_eq!(
            e.caveats.iter().collect::<Vec<_>>(),
            vec![Caveat::NoTerrainProfile]
        );
        // Caveats of the base model are kept.
        let e = Hata::urban()
            .with_diffraction(Deygout::default())
            .estimate(&bare)
            .unwrap();
        assert!(e.caveats.contains(Caveat::BaseHeightOutOfRange));
        assert!(e.caveats.contains(Caveat::NoTerrainProfile));
    }
}
