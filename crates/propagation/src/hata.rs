//! Okumura-Hata and COST-231-Hata.
//!
//! Both are empirical fits to Okumura's Tokyo measurements. They are evaluated
//! outside their validity ranges too — a LoRa gateway at 10 m is below Hata's
//! 30 m base-station height, and LoRa links are often shorter than 1 km or
//! longer than 20 km — and the result carries a [`Caveat`] for every range
//! left. A model set to `strict(true)` returns [`Error::OutsideValidity`]
//! instead.
//!
//! Path loss is reciprocal, so the base station is the *higher* antenna of the
//! path and the mobile the lower one, whichever end transmits.

use crate::error::{Error, Result};
use crate::model::{Caveat, flag_outside};
use crate::{Caveats, Estimate, PathLoss, RadioPath};

/// Okumura-Hata frequency range, MHz.
pub const HATA_FREQ_RANGE_MHZ: (f64, f64) = (150.0, 1500.0);
/// COST-231-Hata frequency range, MHz.
pub const COST231_FREQ_RANGE_MHZ: (f64, f64) = (1500.0, 2000.0);
/// Base-station antenna height range of both models, m.
pub const HATA_BASE_HEIGHT_RANGE_M: (f64, f64) = (30.0, 200.0);
/// Mobile antenna height range of both models, m.
pub const HATA_MOBILE_HEIGHT_RANGE_M: (f64, f64) = (1.0, 10.0);
/// Distance range of both models, m (1–20 km).
pub const HATA_DISTANCE_RANGE_M: (f64, f64) = (1_000.0, 20_000.0);

/// The environment class of Okumura-Hata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HataEnvironment {
    /// Built-up city.
    Urban,
    /// Suburban: L_urban − 2·[log10(f/28)]² − 5.4.
    Suburban,
    /// Open (rural) area: L_urban − 4.78·(log10 f)² + 18.33·log10 f − 40.94.
    Open,
}

/// The city size of Hata's mobile-antenna correction a(h_m).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CitySize {
    /// Small or medium city: a(h_m) = (1.1·log10 f − 0.7)·h_m − (1.56·log10 f − 0.8).
    SmallMedium,
    /// Large city: a(h_m) = 8.29·[log10(1.54·h_m)]² − 1.1 for f ≤ 200 MHz,
    /// 3.2·[log10(11.75·h_m)]² − 4.97 above (Hata gives the second for
    /// f ≥ 400 MHz; 200–400 MHz uses it too).
    Large,
}

/// Okumura-Hata (Hata 1980, IEEE Trans. Veh. Technol. VT-29(3)):
///
/// L_urban = 69.55 + 26.16·log10 f − 13.82·log10 h_b − a(h_m) + (44.9 − 6.55·log10 h_b)·log10 d_km
///
/// with the suburban and open corrections of [`HataEnvironment`] applied to
/// the urban loss with the configured [`CitySize`] correction. Valid for
/// 150–1500 MHz, h_b 30–200 m, h_m 1–10 m, d 1–20 km; outside, the value is
/// flagged (or an error with `strict(true)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hata {
    environment: HataEnvironment,
    city: CitySize,
    strict: bool,
}

impl Hata {
    /// Urban, small or medium city.
    #[must_use]
    pub const fn urban() -> Self {
        Self::new(HataEnvironment::Urban)
    }

    /// Urban, large city.
    #[must_use]
    pub const fn urban_large_city() -> Self {
        Self::new(HataEnvironment::Urban).city(CitySize::Large)
    }

    /// Suburban.
    #[must_use]
    pub const fn suburban() -> Self {
        Self::new(HataEnvironment::Suburban)
    }

    /// Open (rural) area.
    #[must_use]
    pub const fn open() -> Self {
        Self::new(HataEnvironment::Open)
    }

    /// An environment with the small/medium-city correction, flagging (not
    /// rejecting) inputs outside the validity range.
    #[must_use]
    pub const fn new(environment: HataEnvironment) -> Self {
        Self {
            environment,
            city: CitySize::SmallMedium,
            strict: false,
        }
    }

    /// Sets the city size of the mobile-antenna correction.
    #[must_use]
    pub const fn city(mut self, city: CitySize) -> Self {
        self.city = city;
        self
    }

    /// `true`: inputs outside the validity range are an error, not a caveat.
    #[must_use]
    pub const fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

impl PathLoss for Hata {
    fn estimate(&self, path: &RadioPath) -> Result<Estimate> {
        let inputs = HataInputs::of(path)?;
        let caveats = inputs.caveats(HATA_FREQ_RANGE_MHZ);
        if self.strict && !caveats.is_empty() {
            return Err(Error::OutsideValidity {
                model: "Okumura-Hata",
                caveats,
            });
        }
        let lf = inputs.freq_mhz.log10();
        let a_hm = match self.city {
            CitySize::SmallMedium => mobile_correction_small_medium(lf, inputs.mobile_m),
            CitySize::Large => mobile_correction_large(inputs.freq_mhz, inputs.mobile_m),
        };
        let urban = inputs.core(69.55, 26.16, a_hm);
        let loss_db = match self.environment {
            HataEnvironment::Urban => urban,
            HataEnvironment::Suburban => {
                urban - 2.0 * (inputs.freq_mhz / 28.0).log10().powi(2) - 5.4
            }
            HataEnvironment::Open => urban - 4.78 * lf * lf + 18.33 * lf - 40.94,
        };
        Ok(Estimate { loss_db, caveats })
    }
}

/// The city class of COST-231-Hata's constant C_m.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cost231City {
    /// Medium-sized city and suburban centres with moderate tree density: C_m = 0 dB.
    Medium,
    /// Metropolitan centres: C_m = 3 dB.
    Metropolitan,
}

/// COST-231-Hata (COST Action 231 final report, 1999, §4.4.1), the extension
/// of Hata to 1500–2000 MHz:
///
/// L = 46.3 + 33.9·log10 f − 13.82·log10 h_b − a(h_m) + (44.9 − 6.55·log10 h_b)·log10 d_km + C_m
///
/// with Hata's small/medium-city a(h_m). Same height and distance ranges as
/// Hata; at LoRa's 868/915 MHz it is outside its frequency range and flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cost231Hata {
    city: Cost231City,
    strict: bool,
}

impl Cost231Hata {
    /// Medium city / suburban (C_m = 0 dB).
    #[must_use]
    pub const fn medium_city() -> Self {
        Self {
            city: Cost231City::Medium,
            strict: false,
        }
    }

    /// Metropolitan centre (C_m = 3 dB).
    #[must_use]
    pub const fn metropolitan() -> Self {
        Self {
            city: Cost231City::Metropolitan,
            strict: false,
        }
    }

    /// `true`: inputs outside the validity range are an error, not a caveat.
    #[must_use]
    pub const fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

impl PathLoss for Cost231Hata {
    fn estimate(&self, path: &RadioPath) -> Result<Estimate> {
        let inputs = HataInputs::of(path)?;
        let caveats = inputs.caveats(COST231_FREQ_RANGE_MHZ);
        if self.strict && !caveats.is_empty() {
            return Err(Error::OutsideValidity {
                model: "COST-231-Hata",
                caveats,
            });
        }
        let a_hm = mobile_correction_small_medium(inputs.freq_mhz.log10(), inputs.mobile_m);
        let c_m = match self.city {
            Cost231City::Medium => 0.0,
            Cost231City::Metropolitan => 3.0,
        };
        Ok(Estimate {
            loss_db: inputs.core(46.3, 33.9, a_hm) + c_m,
            caveats,
        })
    }
}

/// The inputs of the Hata family, with the base station the higher antenna.
struct HataInputs {
    freq_mhz: f64,
    base_m: f64,
    mobile_m: f64,
    distance_m: f64,
}

impl HataInputs {
    fn of(path: &RadioPath) -> Result<Self> {
        let (tx, rx) = (path.tx_height_agl_m(), path.rx_height_agl_m());
        let (base_m, mobile_m) = if tx >= rx { (tx, rx) } else { (rx, tx) };
        if mobile_m <= 0.0 {
            return Err(Error::InvalidInput {
                name: "antenna height_agl_m (Hata)",
                value: mobile_m,
                expected: "both antenna heights > 0 (Hata takes their logarithms)",
            });
        }
        Ok(Self {
            freq_mhz: path.freq_mhz(),
            base_m,
            mobile_m,
            distance_m: path.distance_m(),
        })
    }

    fn caveats(&self, freq_range_mhz: (f64, f64)) -> Caveats {
        let mut caveats = Caveats::NONE;
        flag_outside(
            &mut caveats,
            Caveat::FrequencyOutOfRange,
            self.freq_mhz,
            freq_range_mhz,
        );
        flag_outside(
            &mut caveats,
            Caveat::BaseHeightOutOfRange,
            self.base_m,
            HATA_BASE_HEIGHT_RANGE_M,
        );
        flag_outside(
            &mut caveats,
            Caveat::MobileHeightOutOfRange,
            self.mobile_m,
            HATA_MOBILE_HEIGHT_RANGE_M,
        );
        flag_outside(
            &mut caveats,
            Caveat::DistanceOutOfRange,
            self.distance_m,
            HATA_DISTANCE_RANGE_M,
        );
        caveats
    }

    /// A + B·log10 f − 13.82·log10 h_b − a(h_m) + (44.9 − 6.55·log10 h_b)·log10 d_km.
    fn core(&self, a: f64, b: f64, a_hm: f64) -> f64 {
        let lhb = self.base_m.log10();
        a + b * self.freq_mhz.log10() - 13.82 * lhb - a_hm
            + (44.9 - 6.55 * lhb) * (self.distance_m / 1000.0).log10()
    }
}

/// a(h_m) for small and medium cities, `lf` = log10 f_MHz.
fn mobile_correction_small_medium(lf: f64, mobile_m: f64) -> f64 {
    (1.1 * lf - 0.7) * mobile_m - (1.56 * lf - 0.8)
}

/// a(h_m) for large cities.
fn mobile_correction_large(freq_mhz: f64, mobile_m: f64) -> f64 {
    if freq_mhz <= 200.0 {
        8.29 * (1.54 * mobile_m).log10().powi(2) - 1.1
    } else {
        3.2 * (11.75 * mobile_m).log10().powi(2) - 4.97
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(d_m: f64, f: f64, h_mobile: f64, h_base: f64) -> RadioPath {
        RadioPath::new(d_m, f, h_mobile, h_base).unwrap()
    }

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    /// ns-3's Okumura-Hata test suite
    /// (src/propagation/test/okumura-hata-test-suite.cc, reference values from
    /// the Octave scripts in src/propagation/test/reference/): f = 869 MHz,
    /// d = 2 km, h_b = 30 m, h_m = 1 m, tolerance 0.1 dB there.
    #[test]
    fn ns3_reference_values() {
        let p = path(2_000.0, 869.0, 1.0, 30.0);
        // By hand: log10 869 = 2.939020, log10 30 = 1.477121, log10 2 = 0.301030;
        // 69.55 + 26.16·2.939020 − 13.82·1.477121 + (44.9 − 6.55·1.477121)·0.301030
        //   = 69.55 + 76.8848 − 20.4138 + 10.6037 = 136.6247 before a(h_m).
        // Large city: a(1) = 3.2·log10(11.75)² − 4.97 = −1.30606 → 137.9307 (ns-3: 137.93).
        let e = Hata::urban_large_city().estimate(&p).unwrap();
        close(e.loss_db, 137.93, 0.005);
        assert!(e.is_valid(), "{}", e.caveats);
        // Small/medium city: a(1) = (1.1·2.939020 − 0.7) − (1.56·2.939020 − 0.8) = −1.25195
        // → 137.8766 (ns-3: 137.88).
        close(Hata::urban().path_loss_db(&p).unwrap(), 137.88, 0.005);
        // Suburban: 137.8766 − 2·log10(869/28)² − 5.4 = 137.8766 − 9.8513 = 128.0253 (ns-3: 128.03).
        close(Hata::suburban().path_loss_db(&p).unwrap(), 128.03, 0.005);
    }

    #[test]
    fn open_area_by_hand() {
        // Hata's open-area formula, same inputs as above (ns-3's published values for
        // this case changed between releases, so it is checked by hand only):
        // 4.78·2.939020² − 18.33·2.939020 + 40.94 = 41.2889 − 53.8723 + 40.94 = 28.3566;
        // 137.8766 − 28.3566 = 109.5200 dB.
        let l = Hata::open()
            .path_loss_db(&path(2_000.0, 869.0, 1.0, 30.0))
            .unwrap();
        close(l, 109.5200, 0.001);
    }

    #[test]
    fn large_city_textbook_example() {
        // The common classroom exercise for Hata's large-city formula (answer
        // 137.29 dB): f = 900 MHz, h_te = 100 m, h_re = 2 m, d = 4 km. By hand:
        // a(2) = 3.2·log10(23.5)² − 4.97 = 3.2·1.371068² − 4.97 = 1.04545;
        // L = 69.55 + 26.16·2.954243 − 13.82·2 − 1.04545 + (44.9 − 13.1)·0.602060
        //   = 69.55 + 77.2830 − 27.64 − 1.0454 + 19.1455 = 137.293 dB.
        let e = Hata::urban_large_city()
            .estimate(&path(4_000.0, 900.0, 2.0, 100.0))
            .unwrap();
        close(e.loss_db, 137.293, 0.001);
        assert!(e.is_valid());
        // Below 200 MHz the other large-city formula: a(1.5) = 8.29·log10(2.31)² − 1.1
        // = 8.29·0.363612² − 1.1 = −0.00395 dB.
        close(mobile_correction_large(150.0, 1.5), -0.00395, 1e-4);
    }

    #[test]
    fn cost231_reference_values() {
        // ns-3 (same suite), f = 2114 MHz, d = 2 km, h_b = 30 m, h_m = 1 m, "COST231 OH
        // Urban small city and suburban" = 150.64 dB. By hand: log10 2114 = 3.325105;
        // a(1) = (1.1·3.325105 − 0.7) − (1.56·3.325105 − 0.8) = −1.42955;
        // 46.3 + 112.7211 − 20.4138 + 1.42955 + 10.6037 = 150.6405 dB. 2114 MHz is above
        // COST-231's 2000 MHz: flagged, still computed.
        let p = path(2_000.0, 2_114.0, 1.0, 30.0);
        let e = Cost231Hata::medium_city().estimate(&p).unwrap();
        close(e.loss_db, 150.64, 0.005);
        assert_eq!(e.caveats, Caveats::NONE.with(Caveat::FrequencyOutOfRange));
        // Metropolitan adds C_m = 3 dB: 153.6405.
        close(
            Cost231Hata::metropolitan().path_loss_db(&p).unwrap(),
            153.6405,
            0.001,
        );
        // Inside the range, by hand: f = 1800 MHz, h_b = 50 m, h_m = 1.5 m, d = 5 km.
        // log10 1800 = 3.255273, log10 50 = 1.698970, log10 5 = 0.698970;
        // a(1.5) = (1.1·3.255273 − 0.7)·1.5 − (1.56·3.255273 − 0.8) = 0.042975;
        // 46.3 + 110.3537 − 23.4798 − 0.0430 + (44.9 − 11.1283)·0.698970 = 156.7364 dB.
        let e = Cost231Hata::medium_city()
            .estimate(&path(5_000.0, 1_800.0, 1.5, 50.0))
            .unwrap();
        close(e.loss_db, 156.7364, 0.001);
        assert!(e.is_valid());
    }

    #[test]
    fn lora_gateway_below_base_height_is_flagged_not_refused() {
        // EU868 device at 1.5 m, gateway at 10 m, 5 km. By hand:
        // a(1.5) = (1.1·2.938520 − 0.7)·1.5 − (1.56·2.938520 − 0.8) = 0.014467;
        // 69.55 + 76.8717 − 13.82 − 0.0145 + (44.9 − 6.55)·0.698970 = 159.3927 dB.
        let p = path(5_000.0, 868.0, 1.5, 10.0);
        let e = Hata::urban().estimate(&p).unwrap();
        close(e.loss_db, 159.3927, 0.001);
        assert_eq!(e.caveats, Caveats::NONE.with(Caveat::BaseHeightOutOfRange));
        assert!(!e.is_valid());
        // The same use is an error in strict mode.
        let err = Hata::urban().strict(true).estimate(&p).unwrap_err();
        assert!(matches!(err, Error::OutsideValidity { .. }), "{err}");
        assert!(err.to_string().contains("base-station"), "{err}");
        // Reciprocity: swapping the ends changes nothing.
        let swapped = Hata::urban()
            .path_loss_db(&path(5_000.0, 868.0, 10.0, 1.5))
            .unwrap();
        close(swapped, e.loss_db, 1e-12);
        // Every range at once.
        let e = Cost231Hata::medium_city()
            .estimate(&path(50_000.0, 868.0, 0.5, 300.0))
            .unwrap();
        assert_eq!(e.caveats.len(), 4);
        assert!(
            Cost231Hata::medium_city()
                .strict(true)
                .estimate(&path(5_000.0, 1_800.0, 1.5, 50.0))
                .is_ok()
        );
    }

    #[test]
    fn zero_heights_are_errors() {
        let err = Hata::urban()
            .estimate(&path(5_000.0, 868.0, 0.0, 10.0))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(
            Cost231Hata::metropolitan()
                .estimate(&path(5_000.0, 1_800.0, 0.0, 0.0))
                .is_err()
        );
    }
}
