use std::fmt;

use crate::{Diffraction, RadioPath, Result, WithDiffraction};

/// A path-loss model: basic transmission loss in dB between isotropic
/// antennas for a [`RadioPath`].
///
/// Implementations are small values (unit structs or parameter structs), so
/// models compose and can be boxed (`Box<dyn PathLoss>`):
///
/// ```
/// use hexcover_propagation::{FreeSpace, Hata, PathLoss, RadioPath};
///
/// let path = RadioPath::new(2_000.0, 868.0, 1.5, 10.0)?;
/// let models: Vec<Box<dyn PathLoss>> = vec![Box::new(FreeSpace), Box::new(Hata::suburban())];
/// for model in &models {
///     let estimate = model.estimate(&path)?;
///     assert!(estimate.loss_db > 90.0);
/// }
/// # Ok::<(), hexcover_propagation::Error>(())
/// ```
pub trait PathLoss {
    /// The loss with the caveats of this use of the model (inputs outside the
    /// range the model was derived for).
    ///
    /// # Errors
    /// Inputs the formula cannot take (e.g. a zero antenna height for Hata),
    /// invalid model parameters, or — for a model set to strict checking —
    /// [`crate::Error::OutsideValidity`].
    fn estimate(&self, path: &RadioPath) -> Result<Estimate>;

    /// The loss in dB, ignoring caveats (use [`PathLoss::estimate`] to see them).
    ///
    /// # Errors
    /// As [`PathLoss::estimate`].
    fn path_loss_db(&self, path: &RadioPath) -> Result<f64> {
        Ok(self.estimate(path)?.loss_db)
    }

    /// This model plus the excess loss of a terrain-diffraction method, e.g.
    /// `FreeSpace.with_diffraction(Deygout::default())`.
    fn with_diffraction<D: Diffraction>(self, diffraction: D) -> WithDiffraction<Self, D>
    where
        Self: Sized,
    {
        WithDiffraction {
            model: self,
            diffraction,
        }
    }
}

impl<M: PathLoss + ?Sized> PathLoss for &M {
    fn estimate(&self, path: &RadioPath) -> Result<Estimate> {
        (**self).estimate(path)
    }
}

impl<M: PathLoss + ?Sized> PathLoss for Box<M> {
    fn estimate(&self, path: &RadioPath) -> Result<Estimate> {
        (**self).estimate(path)
    }
}

/// A path loss with the caveats of the model's use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Basic transmission loss, dB.
    pub loss_db: f64,
    /// Ways the inputs left the model's validity range (empty: fully valid).
    pub caveats: Caveats,
}

impl Estimate {
    /// A loss with no caveats.
    #[must_use]
    pub const fn valid(loss_db: f64) -> Self {
        Self {
            loss_db,
            caveats: Caveats::NONE,
        }
    }

    /// True when the inputs lie within the model's validity range.
    #[must_use]
    pub const fn is_valid(&self) -> bool {
        self.caveats.is_empty()
    }
}

/// One way an input leaves the range a model was derived or validated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Caveat {
    /// The frequency is outside the model's range.
    FrequencyOutOfRange,
    /// The base-station (higher) antenna height is outside the model's range.
    BaseHeightOutOfRange,
    /// The mobile (lower) antenna height is outside the model's range.
    MobileHeightOutOfRange,
    /// The distance is outside the model's range.
    DistanceOutOfRange,
    /// A terrain-aware model got a path without a profile; its terrain term is 0.
    NoTerrainProfile,
}

impl Caveat {
    /// Every caveat, in bit order.
    pub const ALL: [Self; 5] = [
        Self::FrequencyOutOfRange,
        Self::BaseHeightOutOfRange,
        Self::MobileHeightOutOfRange,
        Self::DistanceOutOfRange,
        Self::NoTerrainProfile,
    ];

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// A short description, e.g. "frequency out of range".
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::FrequencyOutOfRange => "frequency out of range",
            Self::BaseHeightOutOfRange => "base-station antenna height out of range",
            Self::MobileHeightOutOfRange => "mobile antenna height out of range",
            Self::DistanceOutOfRange => "distance out of range",
            Self::NoTerrainProfile => "no terrain profile (terrain term taken as 0)",
        }
    }
}

impl fmt::Display for Caveat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A set of [`Caveat`]s (a small bit set: `Copy`, no allocation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Caveats(u16);

impl Caveats {
    /// The empty set.
    pub const NONE: Self = Self(0);

    /// Adds a caveat.
    pub fn insert(&mut self, caveat: Caveat) {
        self.0 |= caveat.bit();
    }

    /// This set with `caveat` added.
    #[must_use]
    pub const fn with(self, caveat: Caveat) -> Self {
        Self(self.0 | caveat.bit())
    }

    /// Both sets together.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// True when `caveat` is in the set.
    #[must_use]
    pub const fn contains(self, caveat: Caveat) -> bool {
        self.0 & caveat.bit() != 0
    }

    /// True for the empty set.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of caveats in the set.
    #[must_use]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The caveats in the set.
    pub fn iter(self) -> impl Iterator<Item = Caveat> {
        Caveat::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl FromIterator<Caveat> for Caveats {
    fn from_iter<I: IntoIterator<Item = Caveat>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

impl fmt::Display for Caveats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, caveat) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(caveat.description())?;
        }
        Ok(())
    }
}

/// Caveats for an input `value` outside the closed range `range`.
pub(crate) fn flag_outside(
    caveats: &mut Caveats,
    caveat: Caveat,
    value: f64,
    (low, high): (f64, f64),
) {
    if !(low..=high).contains(&value) {
        caveats.insert(caveat);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caveat_set_operations() {
        let mut set = Caveats::NONE;
        assert!(set.is_empty());
        assert_eq!(set.to_string(), "none");
        set.insert(Caveat::DistanceOutOfRange);
        let set = set.with(Caveat::FrequencyOutOfRange);
        assert_eq!(set.len(), 2);
        assert!(set.contains(Caveat::DistanceOutOfRange));
        assert!(!set.contains(Caveat::NoTerrainProfile));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Caveat::FrequencyOutOfRange, Caveat::DistanceOutOfRange]
        );
        assert_eq!(
            set.to_string(),
            "frequency out of range, distance out of range"
        );
        let all: Caveats = Caveat::ALL.into_iter().collect();
        assert_eq!(all.len(), Caveat::ALL.len());
        assert_eq!(set.union(all), all);
    }
}
