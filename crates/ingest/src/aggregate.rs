//! Per-hex statistics of links, counted in the hex of each link's
//! transmitter (coverage means uplink: a device there is heard).

use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::{HexStats, IdPool, LinkTable};
use polars::prelude::*;
use rayon::prelude::*;

use crate::{Error, Result};

/// The transmitter cell of every link at `res` (links were validated, so
/// every position is a valid coordinate).
#[must_use]
pub fn transmitter_cells(links: &LinkTable, res: Resolution) -> Vec<u64> {
    links
        .tx_lat
        .par_iter()
        .zip(links.tx_lon.par_iter())
        .map(|(&lat, &lon)| cell_of(lat, lon, res))
        .collect()
}

fn cell_of(lat: f64, lon: f64, res: Resolution) -> u64 {
    LatLng::new(lat, lon).map_or(0, |ll| u64::from(ll.to_cell(res)))
}

/// Each transmitter's first position and its cells, so that a device heard
/// again from exactly there skips the H3 conversion — the costliest step
/// per link (≈ 3,700 instructions). Most LoRaWAN devices are fixed sensors
/// that send from one place for years. A moving device simply misses. The
/// cell is a function of the position alone, so a hit gives exactly the
/// cell the conversion would.
pub(crate) struct CellCache {
    resolutions: Vec<Resolution>,
    /// Per transmitter code: (lat, lon) first seen; NaN while unseen.
    positions: Vec<(f64, f64)>,
    /// Per transmitter code, its cell at each resolution (stride: the
    /// number of resolutions).
    cells: Vec<u64>,
}

impl CellCache {
    pub(crate) fn new(resolutions: &[Resolution]) -> Self {
        Self {
            resolutions: resolutions.to_vec(),
            positions: Vec::new(),
            cells: Vec::new(),
        }
    }

    /// The transmitter cells of `links` at each resolution, as
    /// [`transmitter_cells`] gives them; `tx_codes` maps the table's
    /// transmitter codes to the codes this cache is indexed by.
    pub(crate) fn cells(&mut self, links: &LinkTable, tx_codes: &[u32]) -> Vec<Vec<u64>> {
        let n = links.len();
        let stride = self.resolutions.len();
        let code = |i: usize| {
            links
                .tx_id
                .get(i)
                .and_then(|c| tx_codes.get(c as usize))
                .map(|&c| c as usize)
        };
        let (positions, cached) = (&self.positions, &self.cells);
        // The cache slot of a row whose position is the one cached.
        let hit = |i: usize| {
            let c = code(i)?;
            let &(lat, lon) = positions.get(c)?;
            (lat.to_bits() == links.tx_lat[i].to_bits()
                && lon.to_bits() == links.tx_lon[i].to_bits())
            .then_some(c * stride)
        };
        let out: Vec<Vec<u64>> = self
            .resolutions
            .iter()
            .enumerate()
            .map(|(k, &res)| {
                (0..n)
                    .into_par_iter()
                    .map(|i| match hit(i) {
                        Some(slot) => cached[slot + k],
                        None => cell_of(links.tx_lat[i], links.tx_lon[i], res),
                    })
                    .collect()
            })
            .collect();
        // Remember transmitters seen for the first time (in row order, so
        // the cache does not depend on the thread count).
        for i in 0..n {
            let Some(c) = code(i) else { continue };
            if c >= self.positions.len() {
                self.positions.resize(c + 1, (f64::NAN, f64::NAN));
                self.cells.resize((c + 1) * stride, 0);
            }
            if self.positions[c].0.is_nan() {
                self.positions[c] = (links.tx_lat[i], links.tx_lon[i]);
                for (k, cells) in out.iter().enumerate() {
                    self.cells[c * stride + k] = cells[i];
                }
            }
        }
        out
    }
}

/// Aggregate `links` into one [`HexStats`] per transmitter cell at each of
/// `resolutions`, each straight from the links (never from finer statistics:
/// distinct counts do not add and a median of medians is not a median).
/// Hexes come sorted by cell.
///
/// # Errors
/// [`Error::Polars`] if the aggregation fails.
pub fn aggregate(links: &LinkTable, resolutions: &[Resolution]) -> Result<Vec<Vec<HexStats>>> {
    let identity: Vec<u32> = (0..links.tx_ids.len())
        .map(|c| u32::try_from(c).unwrap_or(u32::MAX))
        .collect();
    let ranks = links.rx_ids.lexicographic_ranks();
    let base = link_frame(links, &identity, &ranks).map_err(polars_error)?;
    let names = ReceiverNames::new(&links.rx_ids);
    // No `CellCache` here: it fills only after a table's cells are computed,
    // so within one table it would find nothing.
    resolutions
        .iter()
        .map(|&res| {
            let mut df = base.clone();
            df.with_column(Column::new("cell".into(), transmitter_cells(links, res)))
                .map_err(polars_error)?;
            let stats = hex_frame(df).map_err(polars_error)?;
            hex_rows(&stats, &names).map_err(polars_error)
        })
        .collect()
}

pub(crate) fn polars_error(source: PolarsError) -> Error {
    Error::Polars {
        path: "(aggregation)".into(),
        source,
    }
}

/// The link columns the statistics need, with the table's transmitter and
/// receiver codes replaced through `tx_codes` and `rx_codes` (indexed by
/// code). The in-memory path maps receivers to their lexicographic rank so
/// that "smallest code" means "smallest id"; the streaming path maps both to
/// codes of its global pools and ranks the receivers when it aggregates.
pub(crate) fn link_frame(
    links: &LinkTable,
    tx_codes: &[u32],
    rx_codes: &[u32],
) -> PolarsResult<DataFrame> {
    let n = links.len();
    // Each link's id code, mapped through `codes` (null where it has none).
    let recode = |ids: &hexcover_core::OptColumn<u32>, codes: &[u32]| -> UInt32Chunked {
        (0..n)
            .map(|i| ids.get(i).and_then(|c| codes.get(c as usize).copied()))
            .collect()
    };
    let rx = recode(&links.rx_id, rx_codes);
    let tx = recode(&links.tx_id, tx_codes);
    // Signal statistics use heard links that the source does not mark invalid.
    let usable = |i: usize| links.heard[i] && links.valid[i];
    let rssi: Float64Chunked = (0..n)
        .map(|i| links.rssi_dbm.get(i).filter(|_| usable(i)))
        .collect();
    let snr: Float64Chunked = (0..n)
        .map(|i| links.snr_db.get(i).filter(|_| usable(i)))
        .collect();
    let time: Int64Chunked = (0..n).map(|i| links.time_unix_ms.get(i)).collect();
    DataFrame::new(
        n,
        vec![
            Column::new("heard".into(), links.heard.as_slice()),
            Column::new("valid".into(), links.valid.as_slice()),
            rssi.with_name("rssi".into()).into_column(),
            snr.with_name("snr".into()).into_column(),
            tx.with_name("tx".into()).into_column(),
            rx.with_name("rx".into()).into_column(),
            time.with_name("time".into()).into_column(),
        ],
    )
}

/// Receiver ids by lexicographic rank, to name the best receiver of a hex.
pub(crate) struct ReceiverNames<'p> {
    pool: &'p IdPool,
    code_by_rank: Vec<u32>,
}

impl<'p> ReceiverNames<'p> {
    pub(crate) fn new(pool: &'p IdPool) -> Self {
        let mut code_by_rank: Vec<u32> = vec![0; pool.len()];
        for (code, rank) in pool.lexicographic_ranks().into_iter().enumerate() {
            code_by_rank[rank as usize] = u32::try_from(code).unwrap_or(u32::MAX);
        }
        Self { pool, code_by_rank }
    }

    fn name(&self, rank: u64) -> Option<String> {
        let code = self.code_by_rank.get(usize::try_from(rank).ok()?)?;
        Some(self.pool.name(*code).to_owned())
    }
}

pub(crate) fn hex_frame(df: DataFrame) -> PolarsResult<DataFrame> {
    // Heard, valid links with a receiver id (every heard link has an RSSI,
    // and `link_frame` nulled the RSSI of the others).
    let rated = col("rssi").is_not_null().and(col("rx").is_not_null());
    let heard_rx = col("rx").filter(rated.clone());
    df.lazy()
        .group_by([col("cell")])
        .agg([
            len().alias("n_links"),
            col("heard").sum().alias("n_heard"),
            col("valid").not().sum().alias("n_invalid"),
            col("tx").drop_nulls().n_unique().alias("n_tx"),
            col("tx").count().alias("n_tx_known"),
            heard_rx.clone().n_unique().alias("n_rx"),
            heard_rx.count().alias("n_rx_known"),
            col("rssi").mean().alias("rssi_mean"),
            col("rssi").median().alias("rssi_median"),
            col("rssi")
                .quantile(lit(0.1), QuantileMethod::Linear)
                .alias("rssi_p10"),
            col("rssi")
                .quantile(lit(0.9), QuantileMethod::Linear)
                .alias("rssi_p90"),
            col("rssi").max().alias("rssi_max"),
            col("snr").mean().alias("snr_mean"),
            // The strongest receiver, ties to the smallest id (rank): the
            // smallest rank among the rated links at the hex's best RSSI.
            col("rx")
                .filter(
                    rated
                        .clone()
                        .and(col("rssi").eq(col("rssi").filter(rated).max())),
                )
                .min()
                .alias("best_rx"),
            col("time").min().alias("first_seen"),
            col("time").max().alias("last_seen"),
        ])
        .sort(["cell"], SortMultipleOptions::default())
        .collect()
}

pub(crate) fn hex_rows(df: &DataFrame, names: &ReceiverNames<'_>) -> PolarsResult<Vec<HexStats>> {
    let u64s = |name: &str| -> PolarsResult<Vec<Option<u64>>> {
        Ok(df
            .column(name)?
            .cast(&DataType::UInt64)?
            .u64()?
            .iter()
            .collect())
    };
    let f64s = |name: &str| -> PolarsResult<Vec<Option<f64>>> {
        Ok(df
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let i64s = |name: &str| -> PolarsResult<Vec<Option<i64>>> {
        Ok(df
            .column(name)?
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .collect())
    };
    let (cell, n_links, n_heard) = (u64s("cell")?, u64s("n_links")?, u64s("n_heard")?);
    let n_invalid = u64s("n_invalid")?;
    let (n_tx, n_tx_known, n_rx, n_rx_known) = (
        u64s("n_tx")?,
        u64s("n_tx_known")?,
        u64s("n_rx")?,
        u64s("n_rx_known")?,
    );
    let (mean, median, p10, p90, max, snr) = (
        f64s("rssi_mean")?,
        f64s("rssi_median")?,
        f64s("rssi_p10")?,
        f64s("rssi_p90")?,
        f64s("rssi_max")?,
        f64s("snr_mean")?,
    );
    let best = u64s("best_rx")?;
    let (first, last) = (i64s("first_seen")?, i64s("last_seen")?);
    let known = |n: Option<u64>, k: Option<u64>| n.filter(|_| k.unwrap_or(0) > 0);
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let Some(cell) = cell[i].and_then(|c| CellIndex::try_from(c).ok()) else {
            continue;
        };
        rows.push(HexStats {
            cell,
            n_links: n_links[i].unwrap_or(0),
            n_heard: n_heard[i].unwrap_or(0),
            n_invalid: n_invalid[i].unwrap_or(0),
            n_transmitters: known(n_tx[i], n_tx_known[i]),
            n_receivers: known(n_rx[i], n_rx_known[i]),
            rssi_mean_dbm: mean[i],
            rssi_median_dbm: median[i],
            rssi_p10_dbm: p10[i],
            rssi_p90_dbm: p90[i],
            rssi_max_dbm: max[i],
            snr_mean_db: snr[i],
            best_rx_id: best[i].and_then(|rank| names.name(rank)),
            first_seen_unix_ms: first[i],
            last_seen_unix_ms: last[i],
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hexcover_core::Link;

    fn table(links: &[(f64, f64, Option<f64>, &str)]) -> LinkTable {
        let mut t = LinkTable::default();
        t.add_input("test");
        for (i, &(lat, lon, rssi, rx)) in links.iter().enumerate() {
            let link = Link {
                rssi_dbm: rssi,
                heard: rssi.is_some(),
                rx_id: Some(rx.to_owned()),
                ..Link::heard(lat, lon, 48.43, 10.02, 0.0)
            };
            t.push(&link, i as u64 + 2);
        }
        t
    }

    #[test]
    fn cached_cells_are_the_converted_cells() {
        // Devices a, b parked; c moves; d sits on a cell edge's far side of
        // a's cell by a hair; the last link has no transmitter id.
        let rows: [(&str, f64, f64); 8] = [
            ("a", 48.4166, 10.0269),
            ("c", 48.40, 9.99),
            ("b", 48.3985, 9.9918),
            ("a", 48.4166, 10.0269),
            ("c", 48.41, 9.98),
            ("d", 48.4166, 10.026_900_000_001),
            ("b", 48.3985, 9.9918),
            ("", 48.42, 10.03),
        ];
        let mut t = LinkTable::default();
        t.add_input("test");
        for (i, &(tx, lat, lon)) in rows.iter().enumerate() {
            let link = Link {
                tx_id: (!tx.is_empty()).then(|| tx.to_owned()),
                ..Link::heard(lat, lon, 48.43, 10.02, -90.0)
            };
            t.push(&link, i as u64 + 2);
        }
        let resolutions = [Resolution::Eight, Resolution::Twelve];
        let want: Vec<Vec<u64>> = resolutions
            .iter()
            .map(|&r| transmitter_cells(&t, r))
            .collect();
        let mut cache = CellCache::new(&resolutions);
        let identity: Vec<u32> = (0..4).collect();
        // First chunk: nothing cached yet; then the same rows again, and
        // with the codes mapped elsewhere (as chunks of a stream are).
        assert_eq!(cache.cells(&t, &identity), want);
        assert_eq!(cache.cells(&t, &identity), want);
        assert_eq!(cache.cells(&t, &[7, 3, 9, 1]), want);
        // A cached position was used: a's slot holds a's cells.
        let a = 0;
        assert_eq!(cache.positions[a], (48.4166, 10.0269));
        assert_eq!(cache.cells[a * 2..a * 2 + 2], [want[0][0], want[1][0]]);
    }

    #[test]
    fn statistics_of_one_hex_match_hand_computation() {
        // Four heard links and one non-reception in one res-9 cell.
        let t = table(&[
            (48.4166, 10.0269, Some(-100.0), "b"),
            (48.4166, 10.0269, Some(-80.0), "c"),
            (48.4166, 10.0269, Some(-90.0), "a"),
            (48.4166, 10.0269, Some(-80.0), "a"),
            (48.4166, 10.0269, None, "d"),
        ]);
        let hexes = aggregate(&t, &[Resolution::Nine]).unwrap();
        assert_eq!(hexes.len(), 1);
        let h = &hexes[0][0];
        assert_eq!((h.n_links, h.n_heard), (5, 4));
        assert_eq!(h.n_receivers, Some(3), "d did not hear");
        assert_eq!(h.n_transmitters, None, "no transmitter ids");
        assert_eq!(h.rssi_mean_dbm, Some(-87.5));
        assert_eq!(h.rssi_median_dbm, Some(-85.0));
        // numpy/pandas linear: sorted [-100,-90,-80,-80], p10 at 0.3 → -97.
        assert!((h.rssi_p10_dbm.unwrap() + 97.0).abs() < 1e-9);
        assert!((h.rssi_p90_dbm.unwrap() + 80.0).abs() < 1e-9);
        assert_eq!(h.rssi_max_dbm, Some(-80.0));
        assert_eq!(
            h.best_rx_id.as_deref(),
            Some("a"),
            "tie at -80 dBm goes to the smallest id"
        );
        assert_eq!(h.snr_mean_db, None);
    }

    #[test]
    fn non_receptions_and_invalid_links_stay_out_of_the_signal_statistics() {
        let mut t = table(&[(48.4166, 10.0269, Some(-120.0), "a")]);
        let base = Link::heard(48.4166, 10.0269, 48.43, 10.02, -60.0);
        // Not heard, yet carrying an RSSI; and a source-invalid witness.
        t.push(
            &Link {
                heard: false,
                rx_id: Some("x".into()),
                ..base.clone()
            },
            3,
        );
        t.push(
            &Link {
                valid: false,
                rssi_dbm: Some(-40.0),
                rx_id: Some("s".into()),
                ..base
            },
            4,
        );
        let h = &aggregate(&t, &[Resolution::Nine]).unwrap()[0][0];
        assert_eq!((h.n_links, h.n_heard, h.n_invalid), (3, 2, 1));
        assert_eq!(h.rssi_max_dbm, Some(-120.0));
        assert_eq!(h.rssi_mean_dbm, Some(-120.0));
        assert_eq!(h.best_rx_id.as_deref(), Some("a"));
        assert_eq!(h.n_receivers, Some(1));
    }

    #[test]
    fn hexes_without_receiver_ids_have_no_best_receiver() {
        let mut t = table(&[(48.4166, 10.0269, Some(-100.0), "a")]);
        // A second hex whose only link has no receiver id.
        t.push(&Link::heard(48.38, 10.01, 48.43, 10.02, -90.0), 3);
        let hexes = aggregate(&t, &[Resolution::Nine]).unwrap();
        let by_best: Vec<Option<&str>> = hexes[0].iter().map(|h| h.best_rx_id.as_deref()).collect();
        assert_eq!(hexes[0].len(), 2);
        assert!(
            by_best.contains(&Some("a")) && by_best.contains(&None),
            "{by_best:?}"
        );
        let without = hexes[0].iter().find(|h| h.best_rx_id.is_none()).unwrap();
        assert_eq!(without.n_receivers, None);
        assert_eq!(without.rssi_max_dbm, Some(-90.0));
    }

    #[test]
    fn each_resolution_counts_every_link_once() {
        let t = table(&[
            (48.4166, 10.0269, Some(-100.0), "a"),
            (48.40, 9.99, Some(-110.0), "a"),
            (48.38, 10.01, Some(-120.0), "b"),
        ]);
        let res = [Resolution::Seven, Resolution::Nine, Resolution::Twelve];
        for hexes in aggregate(&t, &res).unwrap() {
            assert_eq!(hexes.iter().map(|h| h.n_links).sum::<u64>(), 3);
            assert!(hexes.windows(2).all(|w| w[0].cell < w[1].cell));
        }
    }
}
