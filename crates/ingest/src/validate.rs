//! The checks every link passes, whatever its source.

use hexcover_core::{Link, MAX_LINK_DISTANCE_M, RSSI_RANGE_DBM, SNR_RANGE_DB, lat_lon_problem};

use crate::{RejectReason, Rejection};

/// Check a parsed link; `Err` says why it must be rejected.
///
/// # Errors
/// The first failed check, in the order: positions, RSSI, SNR, distance.
pub fn check_link(link: &Link) -> Result<(), Rejection> {
    check_position("tx", link.tx_lat, link.tx_lon)?;
    check_position("rx", link.rx_lat, link.rx_lon)?;
    let numbers = [
        ("rssi_dbm", link.rssi_dbm),
        ("snr_db", link.snr_db),
        ("freq_mhz", link.freq_mhz),
        ("tx_eirp_dbm", link.tx_eirp_dbm),
        ("tx_height_agl_m", link.tx_height_agl_m),
        ("rx_height_agl_m", link.rx_height_agl_m),
        ("tx_gain_dbi", link.tx_gain_dbi),
        ("rx_gain_dbi", link.rx_gain_dbi),
    ];
    if let Some((name, Some(v))) = numbers
        .iter()
        .find(|(_, v)| v.is_some_and(|v| !v.is_finite()))
    {
        return Err(Rejection::new(
            RejectReason::NonNumeric,
            format!("{name} = {v} is not a finite number"),
        ));
    }
    if let Some(sf) = link.spreading_factor
        && !(5..=12).contains(&sf)
    {
        return Err(Rejection::new(
            RejectReason::ValueOutOfRange,
            format!("spreading_factor = {sf} is not a LoRa spreading factor (5..=12)"),
        ));
    }
    match link.rssi_dbm {
        Some(rssi) if !(RSSI_RANGE_DBM.0..=RSSI_RANGE_DBM.1).contains(&rssi) => {
            return Err(Rejection::new(
                RejectReason::RssiOutOfRange,
                format!("rssi_dbm = {rssi} is outside [-150, 0] dBm"),
            ));
        }
        None if link.heard => {
            return Err(Rejection::new(
                RejectReason::MissingField,
                "rssi_dbm is missing on a heard link",
            ));
        }
        _ => {}
    }
    if let Some(snr) = link.snr_db
        && !(SNR_RANGE_DB.0..=SNR_RANGE_DB.1).contains(&snr)
    {
        return Err(Rejection::new(
            RejectReason::SnrOutOfRange,
            format!("snr_db = {snr} is outside [-40, 40] dB"),
        ));
    }
    if surely_shorter_than(link, MAX_LINK_DISTANCE_M) {
        return Ok(());
    }
    let distance_m = link.distance_m();
    if distance_m > MAX_LINK_DISTANCE_M {
        return Err(Rejection::new(
            RejectReason::DistanceOver100Km,
            format!(
                "transmitter and receiver are {:.1} km apart",
                distance_m / 1000.0
            ),
        ));
    }
    Ok(())
}

/// True when the link is certainly shorter than `limit_m`, by a bound that
/// needs no trigonometry: the great circle is no longer than the path along
/// the transmitter's parallel and then the receiver's meridian,
/// R·(|Δλ|·cos φ + |Δφ|) ≤ R·(|Δλ| + |Δφ|), with R rounded up from the
/// 6,371,007.2 m that `Link::distance_m` (h3o's haversine) uses. Most links
/// are a few km long, and the haversine was 3.6 % of a CSV ingest's work.
fn surely_shorter_than(link: &Link, limit_m: f64) -> bool {
    const RADIUS_ABOVE_M: f64 = 6_371_100.0;
    let dlat = (link.tx_lat - link.rx_lat).abs();
    let dlon = (link.tx_lon - link.rx_lon).abs();
    // Across the antimeridian the short way round is 360° − Δλ.
    let dlon = dlon.min(360.0 - dlon);
    RADIUS_ABOVE_M * (dlat + dlon).to_radians() < limit_m
}

/// Check one end's position; `end` is `tx` or `rx`.
///
/// # Errors
/// `NoGpsFix` for exactly 0/0, the end's out-of-range reason otherwise.
pub fn check_position(end: &str, lat: f64, lon: f64) -> Result<(), Rejection> {
    let Some(problem) = lat_lon_problem(lat, lon) else {
        return Ok(());
    };
    let reason = if lat == 0.0 && lon == 0.0 {
        RejectReason::NoGpsFix
    } else if end == "tx" {
        RejectReason::TxPositionOutOfRange
    } else {
        RejectReason::RxPositionOutOfRange
    };
    Err(Rejection::new(
        reason,
        format!("{end}_lat/{end}_lon = {lat}/{lon}: {problem}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_quick_distance_bound_never_lets_a_long_link_through(
            tx_lat in -89.9_f64..89.9, tx_lon in -180.0_f64..180.0,
            dlat in -1.5_f64..1.5,
            // Along a meridian the bound is tight: a radius too small shows there.
            dlon in proptest::prop_oneof![proptest::strategy::Just(0.0_f64), -3.0_f64..3.0],
            limit_km in proptest::prop_oneof![proptest::strategy::Just(100.0_f64), 1.0_f64..300.0],
        ) {
            let rx_lon = tx_lon + dlon;
            let rx_lon = if rx_lon > 180.0 { rx_lon - 360.0 } else if rx_lon < -180.0 { rx_lon + 360.0 } else { rx_lon };
            let link = Link::heard(tx_lat, tx_lon, (tx_lat + dlat).clamp(-90.0, 90.0), rx_lon, -90.0);
            let limit_m = limit_km * 1000.0;
            if surely_shorter_than(&link, limit_m) {
                proptest::prop_assert!(link.distance_m() < limit_m, "{link:?}");
            }
        }
    }

    fn ok_link() -> Link {
        Link::heard(48.4166, 10.0269, 48.4309, 10.0183, -89.0)
    }

    #[test]
    fn a_good_link_passes() {
        assert_eq!(check_link(&ok_link()), Ok(()));
    }

    #[test]
    fn each_rule_rejects_with_its_reason() {
        let cases = [
            (
                Link {
                    tx_lat: 0.0,
                    tx_lon: 0.0,
                    ..ok_link()
                },
                RejectReason::NoGpsFix,
            ),
            (
                Link {
                    tx_lat: 91.0,
                    ..ok_link()
                },
                RejectReason::TxPositionOutOfRange,
            ),
            (
                Link {
                    rx_lon: 190.0,
                    ..ok_link()
                },
                RejectReason::RxPositionOutOfRange,
            ),
            (
                Link {
                    rssi_dbm: Some(3.0),
                    ..ok_link()
                },
                RejectReason::RssiOutOfRange,
            ),
            (
                Link {
                    rssi_dbm: Some(-151.0),
                    ..ok_link()
                },
                RejectReason::RssiOutOfRange,
            ),
            (
                Link {
                    rssi_dbm: None,
                    ..ok_link()
                },
                RejectReason::MissingField,
            ),
            (
                Link {
                    snr_db: Some(41.0),
                    ..ok_link()
                },
                RejectReason::SnrOutOfRange,
            ),
            (
                Link {
                    rx_lat: 49.5,
                    ..ok_link()
                },
                RejectReason::DistanceOver100Km,
            ),
        ];
        for (link, reason) in cases {
            assert_eq!(
                check_link(&link).map_err(|r| r.reason),
                Err(reason),
                "{link:?}"
            );
        }
    }

    #[test]
    fn a_non_reception_needs_no_rssi() {
        let link = Link {
            rssi_dbm: None,
            heard: false,
            ..ok_link()
        };
        assert_eq!(check_link(&link), Ok(()));
    }

    #[test]
    fn range_edges_are_inside() {
        let link = Link {
            rssi_dbm: Some(-150.0),
            snr_db: Some(40.0),
            ..ok_link()
        };
        assert_eq!(check_link(&link), Ok(()));
        let link = Link {
            rssi_dbm: Some(0.0),
            snr_db: Some(-40.0),
            ..ok_link()
        };
        assert_eq!(check_link(&link), Ok(()));
    }
}
