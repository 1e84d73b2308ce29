//! Single knife-edge diffraction (ITU-R P.526 §4.1) and the Fresnel geometry
//! it rests on.

use std::f64::consts::{FRAC_PI_2, PI};

use crate::error::{Result, finite, positive};
use crate::path::wavelength_m;

/// ν below which ITU-R P.526 takes the knife-edge loss as 0 dB (the
/// approximation of [`knife_edge_loss_db`] holds for ν > −0.78).
pub const KNIFE_EDGE_NU_MIN: f64 = -0.78;

/// Knife-edge diffraction loss J(ν) in dB, ITU-R P.526 §4.1 (the approximation for ν > −0.78):
///
/// J(ν) = 6.9 + 20·log10(√((ν − 0.1)² + 1) + ν − 0.1) for ν > −0.78, else 0.
///
/// Non-decreasing in ν; J(0) ≈ 6.03 dB. NaN in, NaN out. This is the form
/// every terrain method here uses; [`knife_edge_loss_exact_db`] is the
/// Fresnel-integral form it approximates.
#[must_use]
pub fn knife_edge_loss_db(nu: f64) -> f64 {
    if nu.is_nan() {
        return f64::NAN;
    }
    if nu <= KNIFE_EDGE_NU_MIN {
        return 0.0;
    }
    let x = nu - 0.1;
    // 20·log10(y) as (20 / ln 10)·ln(y): glibc's log10 is its log and more
    // (the terrain methods take up to five of these per path).
    if x > 1.0e8 {
        // √(x² + 1) + x = 2x to within 1/(2x); x² would overflow near f64::MAX.
        return 6.9 + DB_PER_NEPER * (std::f64::consts::LN_2 + x.ln());
    }
    6.9 + DB_PER_NEPER * ((x * x + 1.0).sqrt() + x).ln()
}

/// 20 / ln 10: decibels of an amplitude ratio per neper.
const DB_PER_NEPER: f64 = 20.0 / std::f64::consts::LN_10;

/// Knife-edge diffraction loss J(ν) in dB from the Fresnel integrals,
/// ITU-R P.526 §4.1:
///
/// J(ν) = −20·log10(√([1 − C(ν) − S(ν)]² + [C(ν) − S(ν)]²) / 2).
///
/// J(0) = 20·log10 2 = 6.02 dB; it oscillates about 0 for ν < −0.7 (down to
/// about −1.4 dB, the gain of the lit region's first Fresnel fringe). Above
/// ν = 10⁴ the asymptote 20·log10(π·√2·ν) is used (error < 1e-8 dB), so the
/// loss stays finite for any finite ν.
#[must_use]
pub fn knife_edge_loss_exact_db(nu: f64) -> f64 {
    if nu > 1.0e4 {
        return 20.0 * ((PI * std::f64::consts::SQRT_2).log10() + nu.log10());
    }
    let (c, s) = fresnel_integrals(nu);
    let (a, b) = (1.0 - c - s, c - s);
    -20.0 * ((a * a + b * b).sqrt() / 2.0).log10()
}

/// The Fresnel integrals (C(x), S(x)) = (∫₀ˣ cos(πt²/2) dt, ∫₀ˣ sin(πt²/2) dt),
/// to about 1e-15 for moderate x: the power series for |x| ≤ 1.5 and a
/// continued fraction of the complementary error function above (Numerical
/// Recipes' `frenel`, in f64); beyond |x| = 10¹⁰ the limits ±½ (error
/// < 1/(π|x|)). Odd in x. NaN in, NaN out.
#[must_use]
pub fn fresnel_integrals(x: f64) -> (f64, f64) {
    if x.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    let ax = x.abs();
    let (c, s) = if ax < 1e-150 {
        (ax, 0.0)
    } else if ax <= 1.5 {
        fresnel_series(ax)
    } else if ax > 1.0e10 {
        (0.5, 0.5)
    } else {
        fresnel_continued_fraction(ax)
    };
    if x < 0.0 { (-c, -s) } else { (c, s) }
}

/// Power series of C and S, summed together: term k carries (π/2·x²)^k / k!.
fn fresnel_series(ax: f64) -> (f64, f64) {
    const EPS: f64 = 1e-17;
    let fact = FRAC_PI_2 * ax * ax;
    let (mut sum_c, mut sum_s) = (ax, 0.0);
    let mut term = ax;
    let mut sign = 1.0;
    let mut odd = true;
    let mut n = 3.0;
    for k in 1..200 {
        term *= fact / f64::from(k);
        if odd {
            sum_s += sign * term / n;
            sign = -sign;
        } else {
            sum_c += sign * term / n;
        }
        if term < EPS * sum_c.abs().max(sum_s.abs()).max(1e-300) {
            break;
        }
        odd = !odd;
        n += 2.0;
    }
    (sum_c, sum_s)
}

/// Continued fraction (modified Lentz) for erfc of a complex argument, ax > 1.5.
fn fresnel_continued_fraction(ax: f64) -> (f64, f64) {
    const EPS: f64 = 1e-16;
    const TINY: f64 = 1e-300;
    let pix2 = PI * ax * ax;
    let mut b = Complex::new(1.0, -pix2);
    let mut cc = Complex::new(1.0 / TINY, 0.0);
    let mut d = Complex::ONE.div(b);
    let mut h = d;
    let mut n = -1.0;
    for _ in 2..300 {
        n += 2.0;
        let a = -n * (n + 1.0);
        b = b.add(Complex::new(4.0, 0.0));
        d = Complex::ONE.div(d.scale(a).add(b));
        cc = b.add(Complex::new(a, 0.0).div(cc));
        let del = cc.mul(d);
        h = h.mul(del);
        if (del.re - 1.0).abs() + del.im.abs() < EPS {
            break;
        }
    }
    h = Complex::new(ax, -ax).mul(h);
    let phase = Complex::new((0.5 * pix2).cos(), (0.5 * pix2).sin());
    let cs = Complex::new(0.5, 0.5).mul(Complex::ONE.sub(phase.mul(h)));
    (cs.re, cs.im)
}

#[derive(Debug, Clone, Copy)]
struct Complex {
    re: f64,
    im: f64,
}

impl Complex {
    const ONE: Self = Self { re: 1.0, im: 0.0 };

    const fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }

    fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }

    fn sub(self, o: Self) -> Self {
        Self::new(self.re - o.re, self.im - o.im)
    }

    fn mul(self, o: Self) -> Self {
        Self::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }

    fn scale(self, k: f64) -> Self {
        Self::new(self.re * k, self.im * k)
    }

    /// Smith's algorithm (no overflow for large parts).
    fn div(self, o: Self) -> Self {
        if o.re.abs() >= o.im.abs() {
            let r = o.im / o.re;
            let den = o.re + r * o.im;
            Self::new((self.re + r * self.im) / den, (self.im - r * self.re) / den)
        } else {
            let r = o.re / o.im;
            let den = o.im + r * o.re;
            Self::new((self.re * r + self.im) / den, (self.im * r - self.re) / den)
        }
    }
}

/// The Fresnel-Kirchhoff diffraction parameter of an edge, ITU-R P.526 §4.1:
///
/// ν = h·√(2/λ · (1/d1 + 1/d2))
///
/// with `height_m` the height of the edge above the straight line joining the
/// two ends (negative below it), `d1_m`/`d2_m` the distances from the ends.
/// Increasing in `height_m`.
///
/// # Errors
/// [`crate::Error::InvalidInput`] for a non-finite height or a distance or
/// frequency that is not a finite number > 0.
pub fn fresnel_nu(height_m: f64, d1_m: f64, d2_m: f64, freq_mhz: f64) -> Result<f64> {
    let h = finite("height_m", height_m)?;
    let d1 = positive("d1_m", d1_m)?;
    let d2 = positive("d2_m", d2_m)?;
    let lambda = wavelength_m(positive("freq_mhz", freq_mhz)?);
    Ok(nu_unchecked(h, d1, d2, lambda))
}

/// Radius of the first Fresnel zone, m, ITU-R P.526 §2.1:
/// R1 = √(λ·d1·d2 / (d1 + d2)).
///
/// # Errors
/// [`crate::Error::InvalidInput`] for a distance that is not a finite number
/// ≥ 0 or a frequency that is not a finite number > 0, or d1 + d2 = 0.
pub fn first_fresnel_radius_m(d1_m: f64, d2_m: f64, freq_mhz: f64) -> Result<f64> {
    let d1 = crate::error::non_negative("d1_m", d1_m)?;
    let d2 = crate::error::non_negative("d2_m", d2_m)?;
    positive("d1_m + d2_m", d1 + d2)?;
    let lambda = wavelength_m(positive("freq_mhz", freq_mhz)?);
    Ok((lambda * d1 * d2 / (d1 + d2)).sqrt())
}

/// ν = h·√(2·(d1 + d2) / (λ·d1·d2)), inputs already validated.
pub(crate) fn nu_unchecked(h: f64, d1: f64, d2: f64, lambda: f64) -> f64 {
    h * (2.0 * (d1 + d2) / (lambda * d1 * d2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    #[test]
    fn fresnel_integrals_match_abramowitz_stegun() {
        // Abramowitz & Stegun, Handbook of Mathematical Functions, Table 7.7
        // (C(x), S(x) with the π/2 normalisation), digits as mpmath 1.3's
        // fresnelc/fresnels print them:
        for (x, c, s) in [
            (0.5, 0.492_344_225_9, 0.064_732_432_9),
            (1.0, 0.779_893_400_4, 0.438_259_147_4),
            (1.5, 0.445_261_176_0, 0.697_504_960_1),
            (2.0, 0.488_253_406_1, 0.343_415_678_4),
            (2.5, 0.457_413_009_6, 0.619_181_755_8),
            (3.0, 0.605_720_789_3, 0.496_312_999_0),
            (4.5, 0.526_025_915_1, 0.434_272_975_0),
        ] {
            let (cc, ss) = fresnel_integrals(x);
            close(cc, c, 2e-9);
            close(ss, s, 2e-9);
            let (cn, sn) = fresnel_integrals(-x);
            assert_eq!((cn, sn), (-cc, -ss));
        }
        assert_eq!(fresnel_integrals(0.0), (0.0, 0.0));
        // Asymptotics: C(x) ≈ ½ + sin(πx²/2)/(πx), S(x) ≈ ½ − cos(πx²/2)/(πx).
        let x = 1.0e4;
        let (c, s) = fresnel_integrals(x);
        close(c, 0.5 + (FRAC_PI_2 * x * x).sin() / (PI * x), 1e-9);
        close(s, 0.5 - (FRAC_PI_2 * x * x).cos() / (PI * x), 1e-9);
        assert_eq!(fresnel_integrals(f64::INFINITY), (0.5, 0.5));
        for x in [1.0e9, 1.0e12, 1.0e200, f64::MAX] {
            let (c, s) = fresnel_integrals(x);
            close(c, 0.5, 1e-9);
            close(s, 0.5, 1e-9);
        }
        assert!(fresnel_integrals(f64::NAN).0.is_nan());
    }

    #[test]
    fn p526_knife_edge_reference_points() {
        // ITU-R P.526 §4.1 / Fig. 9: J(0) = 20·log10 2 = 6.02 dB exactly (C = S = 0),
        // and 6.9 + 20·log10(√1.01 − 0.1) = 6.9 − 0.8672 = 6.0328 by the approximation.
        close(knife_edge_loss_exact_db(0.0), 6.0206, 1e-4);
        close(knife_edge_loss_db(0.0), 6.0328, 1e-4);
        // ν = −0.78, the approximation's lower end: 6.9 + 20·log10(√(0.88² + 1) − 0.88)
        // = 6.9 + 20·log10(0.452066) = 6.9 − 6.8960 = 0.0040 ≈ 0; below it J = 0.
        close(KNIFE_EDGE_NU_MIN, -0.78, 0.0);
        assert_eq!(knife_edge_loss_db(-0.78), 0.0);
        close(knife_edge_loss_db(-0.779_999), 0.0040, 1e-4);
        assert_eq!(knife_edge_loss_db(-3.0), 0.0);
        // ν = 1: approximation 6.9 + 20·log10(√1.81 + 0.9) = 6.9 + 20·log10(2.245362)
        // = 13.926 dB; exact: C(1) = 0.779893, S(1) = 0.438259,
        // √((1 − 1.218153)² + 0.341634²)/2 = 0.202669 → 13.864 dB.
        close(knife_edge_loss_db(1.0), 13.926, 1e-3);
        close(knife_edge_loss_exact_db(1.0), 13.864, 1e-3);
        // Deep shadow: J → 20·log10(π·√2·ν) = 12.95 + 20·log10 ν (exact; mpmath 1.3
        // gives 32.9535 at ν = 10) and 6.9 + 20·log10(2·(ν − 0.1)) (approx.):
        // 6.9 + 20·log10(√(9.9² + 1) + 9.9) = 6.9 + 25.9554 = 32.8554 dB at ν = 10.
        close(knife_edge_loss_exact_db(10.0), 32.9535, 1e-3);
        close(knife_edge_loss_db(10.0), 32.8554, 1e-3);
        // The asymptote takes over smoothly above ν = 10⁴ and stays finite.
        let (below, above) = (
            knife_edge_loss_exact_db(1.0e4),
            knife_edge_loss_exact_db(1.000_001e4),
        );
        close(below, above, 1e-4);
        assert!(knife_edge_loss_exact_db(f64::MAX).is_finite());
        assert!(knife_edge_loss_db(f64::MAX).is_finite());
        close(
            knife_edge_loss_db(1.0e8),
            knife_edge_loss_db(1.000_001e8),
            1e-4,
        );
        // Deep in the lit region the exact loss tends to 0.
        close(knife_edge_loss_exact_db(-50.0), 0.0, 0.05);
        assert!(knife_edge_loss_db(f64::NAN).is_nan());
    }

    #[test]
    fn approximation_tracks_the_exact_form() {
        // P.526 presents the approximation as close to the Fresnel-integral form for ν > −0.78;
        // measured here: within 0.5 dB on −0.7..10 (largest near ν ≈ −0.7).
        let mut worst: f64 = 0.0;
        for i in 0..=1070 {
            let nu = -0.7 + f64::from(i) * 0.01;
            worst = worst.max((knife_edge_loss_db(nu) - knife_edge_loss_exact_db(nu)).abs());
        }
        assert!(worst < 0.5, "{worst}");
    }

    #[test]
    fn knife_edge_textbook_geometry() {
        // The knife-edge example of Rappaport, Wireless Communications (2nd ed., §4.7.1):
        // f = 900 MHz, transmitter 50 m at 0, receiver 25 m at 12 km, a 100 m edge 10 km
        // from the transmitter; the book finds ν ≈ 4.24 and, with Lee's approximation
        // 20·log10(0.225/ν), a 25.5 dB loss. By hand: line of sight at 10 km is
        // 50 − 25·10/12 = 29.1667 m, h = 70.8333 m, λ = 299.792458/900 = 0.333103 m,
        // ν = 70.8333·√(2·12000/(0.333103·10000·2000)) = 70.8333·0.0600208 = 4.25147;
        // P.526 approximation: 6.9 + 20·log10(√(4.15147² + 1) + 4.15147) = 6.9 + 18.5080 = 25.4080 dB.
        let nu = fresnel_nu(
            100.0 - (50.0 - 25.0 * 10.0 / 12.0),
            10_000.0,
            2_000.0,
            900.0,
        )
        .unwrap();
        close(nu, 4.25147, 1e-5);
        close(knife_edge_loss_db(nu), 25.4080, 1e-3);
        close(knife_edge_loss_db(nu), 25.5, 0.2);
        // The Fresnel-integral form gives 25.531 dB (mpmath 1.3: 25.530743).
        close(knife_edge_loss_exact_db(nu), 25.5307, 1e-3);
        // ν = 0 (edge on the line) gives the 6 dB of the book's part (b).
        close(fresnel_nu(0.0, 10_000.0, 2_000.0, 900.0).unwrap(), 0.0, 0.0);
    }

    #[test]
    fn fresnel_radius_and_nu_agree() {
        // ν = √2·h / R1: an edge touching the first Fresnel zone from below has ν = −√2.
        // 868 MHz, 5 km + 5 km: R1 = √(0.345383·5000·5000/10000) = 29.3846 m.
        let r1 = first_fresnel_radius_m(5_000.0, 5_000.0, 868.0).unwrap();
        close(r1, 29.3846, 1e-4);
        let nu = fresnel_nu(-r1, 5_000.0, 5_000.0, 868.0).unwrap();
        close(nu, -std::f64::consts::SQRT_2, 1e-12);
        assert_eq!(first_fresnel_radius_m(0.0, 5_000.0, 868.0).unwrap(), 0.0);
        assert!(first_fresnel_radius_m(0.0, 0.0, 868.0).is_err());
        assert!(fresnel_nu(f64::NAN, 1.0, 1.0, 868.0).is_err());
        assert!(fresnel_nu(1.0, 0.0, 1.0, 868.0).is_err());
        assert!(fresnel_nu(1.0, 1.0, 1.0, 0.0).is_err());
    }
}
