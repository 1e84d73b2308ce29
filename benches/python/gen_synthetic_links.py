#!/usr/bin/env python3
"""Write a SYNTHETIC generic link table CSV for hexcover's ingest benchmark.

THE DATA THIS SCRIPT WRITES IS SYNTHETIC: random numbers shaped like a LoRaWAN
network, not measurements. It exists only to give the ingest benchmark (and
its Python baseline, ingest_baseline.py) a large input of a realistic shape;
the real data in ../shared/data is far too small for that. Never use its
output as evidence about radio coverage.

Shape of the data:
- ~2,000 receivers ("synth-gw-0001" ...) scattered uniformly over a 60 km x
  60 km square centred on 48.4 N, 10.0 E;
- ~50,000 transmitters ("synth-dev-00001" ...), 30 % parked, the rest driving
  round a circular route (radius 0.2-5 km, period 1-12 h) about a home point;
- each link: a transmitter at its position at the link's time, heard by a
  receiver picked near a point at most ~15 km away (log-normal distance,
  median ~3 km); RSSI from a log-distance model (exponent 3) plus 8 dB
  shadowing, clipped to [-140, -40] dBm, one decimal; SNR follows RSSI, one
  decimal in [-20, 12]; frequency one of the 8 EU868 channels; spreading
  factor 7..12, higher for weaker links (ADR-like); times spread over two
  weeks of June 2021 and ascending through the file, like a log;
- about 0.5 % deliberately bad rows, spread through the file: a 0/0
  transmitter position, rssi +5, an empty rssi, "abc" in a numeric field
  (tx_lat, rx_lon, rssi_dbm or snr_db), snr 55.

Rows are generated with numpy in chunks of 1M and appended to the file with
polars' write_csv, so memory stays small (~0.5 GB) and 10M rows take well
under a minute.

With an OUT ending in .parquet (the scale benchmark, benches/scale.sh) the
same rows go to a Parquet file instead, one row group per 1M-row chunk, zstd,
numeric columns typed (a CSV of 100M rows would be ~10 GB; the Parquet file
is a fraction of that). Parquet cannot hold "abc" in a float column, so its
bad rows are numeric: a 0/0 transmitter, rssi +5, an empty rssi, snr 55, a
latitude of 91, a longitude of 181, rssi -200, and a receiver moved 150 km
away. --transmitters and --moving-share set the device population (the scale
benchmark uses many parked sensors and a few moving trackers, as LoRaWAN
networks carry mostly fixed sensors).

Usage: gen_synthetic_links.py OUT.csv|OUT.parquet [--rows 10000000] [--seed 1]
       [--transmitters 50000] [--moving-share 0.7]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
import polars as pl

HEADER = [
    "tx_lat", "tx_lon", "rx_lat", "rx_lon", "rssi_dbm", "snr_db", "freq_mhz",
    "spreading_factor", "time_unix_ms", "tx_id", "rx_id",
]

CENTRE_LAT, CENTRE_LON = 48.4, 10.0
HALF_SIDE_KM = 30.0
KM_PER_DEG_LAT = 111.32
KM_PER_DEG_LON = KM_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))
N_RECEIVERS = 2_000
N_TRANSMITTERS = 50_000
MAX_LINK_KM = 15.0
EU868_MHZ = np.array([868.1, 868.3, 868.5, 867.1, 867.3, 867.5, 867.7, 867.9])
T0_MS = 1_622_937_600_000  # 2021-06-06T00:00:00Z
SPAN_MS = 14 * 24 * 3600 * 1000  # two weeks
CHUNK_ROWS = 1_000_000
BAD_FRACTION = 0.005
BUCKET_KM = 5.0  # receiver lookup grid


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Write a SYNTHETIC generic link table CSV (random data shaped like a "
        "LoRaWAN network around Ulm, with ~0.5% deliberately bad rows) for hexcover's "
        "ingest benchmark. Not real measurements.",
    )
    p.add_argument("out", help="output CSV path")
    p.add_argument("--rows", type=int, default=10_000_000, help="rows to write (default 10M)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--transmitters", type=int, default=N_TRANSMITTERS,
                   help=f"transmitters (default {N_TRANSMITTERS})")
    p.add_argument("--moving-share", type=float, default=0.7,
                   help="share of transmitters that move (default 0.7)")
    return p.parse_args(argv)


def to_lat_lon(x_km: np.ndarray, y_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local east/north km around the centre -> lat/lon degrees."""
    return CENTRE_LAT + y_km / KM_PER_DEG_LAT, CENTRE_LON + x_km / KM_PER_DEG_LON


class Network:
    """The fixed part: receivers, transmitter routes, a receiver lookup grid."""

    def __init__(self, rng: np.random.Generator, n_tx: int = N_TRANSMITTERS,
                 moving_share: float = 0.7) -> None:
        self.n_tx = n_tx
        self.rx_x = rng.uniform(-HALF_SIDE_KM, HALF_SIDE_KM, N_RECEIVERS)
        self.rx_y = rng.uniform(-HALF_SIDE_KM, HALF_SIDE_KM, N_RECEIVERS)
        self.rx_ids = pl.Series([f"synth-gw-{i + 1:04d}" for i in range(N_RECEIVERS)])

        self.tx_home_x = rng.uniform(-HALF_SIDE_KM, HALF_SIDE_KM, n_tx)
        self.tx_home_y = rng.uniform(-HALF_SIDE_KM, HALF_SIDE_KM, n_tx)
        moving = rng.random(n_tx) >= 1.0 - moving_share
        self.tx_radius_km = np.where(moving, rng.uniform(0.2, 5.0, n_tx), 0.0)
        self.tx_period_ms = rng.uniform(1.0, 12.0, n_tx) * 3_600_000
        self.tx_phase = rng.uniform(0, 2 * np.pi, n_tx)
        # Some devices send far more than others.
        weight = rng.pareto(1.5, n_tx) + 1.0
        self.tx_cdf = np.cumsum(weight) / weight.sum()
        self.tx_ids = pl.Series([f"synth-dev-{i + 1:05d}" for i in range(n_tx)])

        # Receivers bucketed on a coarse grid (CSR layout) to pick one near a point.
        self.n_buckets_side = int(math.ceil(2 * HALF_SIDE_KM / BUCKET_KM))
        bucket = self._bucket(self.rx_x, self.rx_y)
        self.bucket_order = np.argsort(bucket, kind="stable")
        counts = np.bincount(bucket, minlength=self.n_buckets_side**2)
        self.bucket_count = counts
        self.bucket_start = np.concatenate(([0], np.cumsum(counts)[:-1]))

    def _bucket(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        n = self.n_buckets_side
        i = np.clip(((x + HALF_SIDE_KM) / BUCKET_KM).astype(np.int64), 0, n - 1)
        j = np.clip(((y + HALF_SIDE_KM) / BUCKET_KM).astype(np.int64), 0, n - 1)
        return j * n + i

    def tx_position(self, dev: np.ndarray, t_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        angle = self.tx_phase[dev] + 2 * np.pi * (t_ms - T0_MS) / self.tx_period_ms[dev]
        r = self.tx_radius_km[dev]
        x = np.clip(self.tx_home_x[dev] + r * np.cos(angle), -HALF_SIDE_KM, HALF_SIDE_KM)
        y = np.clip(self.tx_home_y[dev] + r * np.sin(angle), -HALF_SIDE_KM, HALF_SIDE_KM)
        return x, y

    def pick_receiver(self, rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """A receiver in the grid bucket of a point at most MAX_LINK_KM from (x, y)."""
        n = len(x)
        dist = np.minimum(rng.lognormal(math.log(3.0), 0.8, n), MAX_LINK_KM - BUCKET_KM)
        bearing = rng.uniform(0, 2 * np.pi, n)
        bucket = self._bucket(x + dist * np.cos(bearing), y + dist * np.sin(bearing))
        count = self.bucket_count[bucket]
        pos = self.bucket_start[bucket] + (rng.random(n) * np.maximum(count, 1)).astype(np.int64)
        pos = np.minimum(pos, N_RECEIVERS - 1)
        rx = self.bucket_order[pos]
        # An empty bucket (rare): any receiver; the link is still well under 100 km.
        empty = count == 0
        rx[empty] = rng.integers(0, N_RECEIVERS, int(empty.sum()))
        return rx


def make_chunk(net: Network, rng: np.random.Generator, start_row: int, n: int,
               total_rows: int, numeric: bool = False) -> pl.DataFrame:
    # Times ascend through the file: chunk k covers its share of the two weeks.
    t_lo = T0_MS + SPAN_MS * start_row // total_rows
    t_hi = T0_MS + SPAN_MS * (start_row + n) // total_rows
    t_ms = np.sort(rng.integers(t_lo, max(t_hi, t_lo + 1), n))

    dev = np.minimum(np.searchsorted(net.tx_cdf, rng.random(n)), net.n_tx - 1)
    tx_x, tx_y = net.tx_position(dev, t_ms)
    rx = net.pick_receiver(rng, tx_x, tx_y)
    rx_x, rx_y = net.rx_x[rx], net.rx_y[rx]

    d_km = np.maximum(np.hypot(tx_x - rx_x, tx_y - rx_y), 0.02)
    # Log-distance path loss: 14 dBm ERP, ~-77 dBm at 1 km, exponent 3, 8 dB shadowing.
    rssi = -77.0 - 30.0 * np.log10(d_km) + rng.normal(0.0, 8.0, n)
    rssi = np.round(np.clip(rssi, -140.0, -40.0), 1)
    # SNR: RSSI over a ~-117 dBm noise floor (125 kHz), saturating near +9 dB.
    snr = rssi + 117.0
    snr = np.where(snr > 6.0, 6.0 + 3.0 * np.tanh((snr - 6.0) / 3.0), snr)
    snr = np.round(np.clip(snr + rng.normal(0.0, 1.5, n), -20.0, 12.0), 1)
    # ADR-like: weaker links use higher spreading factors.
    sf = np.clip(7 + ((-rssi - 95.0) / 6.0).astype(np.int64) + rng.integers(-1, 2, n), 7, 12)
    freq = EU868_MHZ[rng.integers(0, len(EU868_MHZ), n)]

    tx_lat, tx_lon = to_lat_lon(tx_x, tx_y)
    rx_lat, rx_lon = to_lat_lon(rx_x, rx_y)
    df = pl.DataFrame({
        "tx_lat": np.round(tx_lat, 6),
        "tx_lon": np.round(tx_lon, 6),
        "rx_lat": np.round(rx_lat, 6),
        "rx_lon": np.round(rx_lon, 6),
        "rssi_dbm": rssi,
        "snr_db": snr,
        "freq_mhz": freq,
        "spreading_factor": sf.astype(np.int8),
        "time_unix_ms": t_ms,
        "tx_id": net.tx_ids.gather(dev),
        "rx_id": net.rx_ids.gather(rx),
    })
    return spoil_numeric(df, rng) if numeric else spoil(df, rng)


def spoil_numeric(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Parquet: make ~0.5 % of the rows bad, in one of eight numeric ways."""
    n = df.height
    kind = np.where(rng.random(n) < BAD_FRACTION, rng.integers(1, 9, n), 0)
    k = pl.Series("k", kind)
    far_deg = 150.0 / KM_PER_DEG_LAT
    return df.with_columns(
        # 1: no GPS fix; 5: latitude 91.
        tx_lat=pl.when(k == 1).then(0.0).when(k == 5).then(91.0).otherwise(pl.col("tx_lat")),
        tx_lon=pl.when(k == 1).then(0.0).otherwise(pl.col("tx_lon")),
        # 6: longitude 181; 8: the receiver 150 km north (over the 100 km limit).
        rx_lon=pl.when(k == 6).then(181.0).otherwise(pl.col("rx_lon")),
        rx_lat=pl.when(k == 8).then(pl.col("rx_lat") + far_deg).otherwise(pl.col("rx_lat")),
        # 2: rssi +5; 3: rssi empty; 7: rssi -200.
        rssi_dbm=pl.when(k == 2).then(5.0).when(k == 3).then(None).when(k == 7).then(-200.0)
        .otherwise(pl.col("rssi_dbm")),
        # 4: snr 55.
        snr_db=pl.when(k == 4).then(55.0).otherwise(pl.col("snr_db")),
    ).select(HEADER)


def spoil(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Make ~0.5 % of the rows bad, in one of eight ways, spread through the chunk."""
    n = df.height
    kind = np.where(rng.random(n) < BAD_FRACTION, rng.integers(1, 9, n), 0)
    k = pl.Series("k", kind)
    # Numeric columns that may get text are written from strings; Float64 -> String
    # keeps polars' shortest round-trip formatting, the same as write_csv would use.
    return df.with_columns(
        # 1: no GPS fix (0/0 transmitter position).
        tx_lat=pl.when(k == 1).then(pl.lit("0.0")).when(k == 5).then(pl.lit("abc"))
        .otherwise(pl.col("tx_lat").cast(pl.String)),
        tx_lon=pl.when(k == 1).then(pl.lit(0.0)).otherwise(pl.col("tx_lon")),
        # 6: "abc" in rx_lon.
        rx_lon=pl.when(k == 6).then(pl.lit("abc")).otherwise(pl.col("rx_lon").cast(pl.String)),
        # 2: rssi +5; 3: rssi empty; 7: "abc" in rssi.
        rssi_dbm=pl.when(k == 2).then(pl.lit("5.0")).when(k == 3).then(pl.lit(None, pl.String))
        .when(k == 7).then(pl.lit("abc")).otherwise(pl.col("rssi_dbm").cast(pl.String)),
        # 4: snr 55; 8: "abc" in snr.
        snr_db=pl.when(k == 4).then(pl.lit("55.0")).when(k == 8).then(pl.lit("abc"))
        .otherwise(pl.col("snr_db").cast(pl.String)),
    ).select(HEADER)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.rows < 0:
        print("--rows must be >= 0", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    net = Network(rng, args.transmitters, args.moving_share)
    if args.out.endswith(".parquet"):
        write_parquet(args, net, rng)
    else:
        write_csv(args, net, rng)
    size = os.path.getsize(args.out)
    print(f"{args.out} {size} bytes ({args.rows} rows, SYNTHETIC, "
          f"{time.perf_counter() - started:.1f} s)")
    return 0


def write_parquet(args: argparse.Namespace, net: Network, rng: np.random.Generator) -> None:
    import pyarrow.parquet as pq

    # Written to a temporary name and renamed: an interrupted run leaves no
    # truncated file that a later run would take for a finished one.
    tmp = args.out + ".partial"
    writer = None
    try:
        for start in range(0, max(args.rows, 1), CHUNK_ROWS):
            n = min(CHUNK_ROWS, args.rows - start)
            table = make_chunk(net, rng, start, n, args.rows, numeric=True).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=CHUNK_ROWS)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, args.out)


def write_csv(args: argparse.Namespace, net: Network, rng: np.random.Generator) -> None:
    with open(args.out, "wb") as f:
        if args.rows == 0:
            f.write((",".join(HEADER) + "\n").encode())
        for start in range(0, args.rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, args.rows - start)
            make_chunk(net, rng, start, n, args.rows).write_csv(f, include_header=start == 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
