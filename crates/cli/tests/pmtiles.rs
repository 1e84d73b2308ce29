//! `hexcover export --pmtiles` end to end on the real Ulm data: the archive is
//! read back with a reader written here from the PMTiles v3 spec (header,
//! gzip'ed directories, Hilbert tile ids), not with the crate that wrote
//! it, and a tile of the archive is compared byte for byte with the tiles a
//! live `hexcover serve` of the same study answers.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hexcover_export::TileId;

/// The Ulm Minster gateway (ulm-ttn-2021/gateways.csv).
const MINSTER: (f64, f64) = (48.398_508_118_966_1, 9.991_811_778_526_625);
const MINSTER_ID: &str = "eui-0000024b080e0d75";

/// A small Ulm study in `dir/ulm`: the drive test ingested, the predicted
/// coverage of the Minster gateway (2 km, physics baseline) and one
/// suggested site beside it.
fn ulm_study(dir: &Path) -> PathBuf {
    let ulm = shared().join("data/ulm-ttn-2021");
    let study = dir.join("ulm");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    ok(&hexcover(&[
        "ingest",
        &s(&ulm.join("measurements.csv")),
        "--gateways",
        &s(&ulm.join("gateways.csv")),
        "--out",
        &s(&study),
        "--quiet",
    ]));
    let coverage = study.join("coverage").join(format!("{MINSTER_ID}.parquet"));
    ok(&hexcover(&[
        "coverage",
        "--dem",
        &s(&shared().join("data/srtm3-ulm")),
        "--site",
        &format!("{},{},10", MINSTER.0, MINSTER.1),
        "--radius-km",
        "2",
        "--out",
        &s(&coverage),
        "--quiet",
    ]));
    std::fs::write(
        study.join("suggested.csv"),
        "id,rank,lat,lon,height_agl_m,marginal_gain,removal_loss,demand_added,reward_scale,bound_by\n\
         891f8c2a8a3ffff,1,48.3990,9.9940,10,12.5,0.1,40,1.0000,\n",
    )
    .unwrap();
    study
}

// ---- a PMTiles v3 reader from the spec ---------------------------------------

struct Header {
    root: (u64, u64),
    metadata: (u64, u64),
    leaves_offset: u64,
    data_offset: u64,
    addressed: u64,
    entries: u64,
    contents: u64,
    clustered: u8,
    internal_compression: u8,
    tile_compression: u8,
    tile_type: u8,
    zooms: (u8, u8),
    /// West, south, east, north, degrees.
    bounds: [f64; 4],
    center_zoom: u8,
}

fn header(bytes: &[u8]) -> Header {
    assert!(bytes.len() >= 127, "shorter than a header");
    assert_eq!(&bytes[..7], b"PMTiles", "magic");
    assert_eq!(bytes[7], 3, "spec version");
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let deg_at =
        |o: usize| f64::from(i32::from_le_bytes(bytes[o..o + 4].try_into().unwrap())) / 1e7;
    Header {
        root: (u64_at(8), u64_at(16)),
        metadata: (u64_at(24), u64_at(32)),
        leaves_offset: u64_at(40),
        data_offset: u64_at(56),
        addressed: u64_at(72),
        entries: u64_at(80),
        contents: u64_at(88),
        clustered: bytes[96],
        internal_compression: bytes[97],
        tile_compression: bytes[98],
        tile_type: bytes[99],
        zooms: (bytes[100], bytes[101]),
        bounds: [deg_at(102), deg_at(106), deg_at(110), deg_at(114)],
        center_zoom: bytes[118],
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn slice(bytes: &[u8], offset: u64, length: u64) -> &[u8] {
    let (o, l) = (
        usize::try_from(offset).unwrap(),
        usize::try_from(length).unwrap(),
    );
    &bytes[o..o + l]
}

/// (tile id, offset, length, run length) of a directory.
fn directory(bytes: &[u8]) -> Vec<(u64, u64, u64, u64)> {
    let mut pos = 0;
    let mut varint = || {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let b = bytes[pos];
            pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    };
    let n = usize::try_from(varint()).unwrap();
    let mut ids = Vec::with_capacity(n);
    let mut last = 0;
    for _ in 0..n {
        last += varint();
        ids.push(last);
    }
    let runs: Vec<u64> = (0..n).map(|_| varint()).collect();
    let lengths: Vec<u64> = (0..n).map(|_| varint()).collect();
    let mut entries: Vec<(u64, u64, u64, u64)> = Vec::with_capacity(n);
    for i in 0..n {
        let v = varint();
        let offset = if v == 0 && i > 0 {
            entries[i - 1].1 + entries[i - 1].2
        } else {
            v - 1
        };
        entries.push((ids[i], offset, lengths[i], runs[i]));
    }
    entries
}

/// The spec's tile id: tiles of all lower zooms, then the Hilbert index.
fn tile_id(z: u8, x: u32, y: u32) -> u64 {
    let base: u64 = (0..z).map(|i| 1u64 << (2 * u32::from(i))).sum();
    let n = 1u64 << z;
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    let mut d = 0;
    let mut s = n / 2;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    base + d
}

/// The (still compressed) tile z/x/y, if the archive has it.
fn find_tile(archive: &[u8], h: &Header, z: u8, x: u32, y: u32) -> Option<Vec<u8>> {
    let id = tile_id(z, x, y);
    let mut dir = directory(&gunzip(slice(archive, h.root.0, h.root.1)));
    for _ in 0..4 {
        let i = dir.partition_point(|e| e.0 <= id).checked_sub(1)?;
        let (first, offset, length, run) = dir[i];
        if run == 0 {
            dir = directory(&gunzip(slice(archive, h.leaves_offset + offset, length)));
        } else {
            return (id < first + run)
                .then(|| slice(archive, h.data_offset + offset, length).to_vec());
        }
    }
    None
}

// ---- MVT ----------------------------------------------------------------------

use hexcover_export::decoded as mvt_proto;

use common::{hexcover, ok, root, shared};

fn decode(bytes: &[u8]) -> mvt_proto::Tile {
    mvt_proto::decode(bytes).expect("an MVT")
}

// ---- a live server of the same study ------------------------------------------

/// `hexcover serve` on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(study: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hexcover"))
            .args([
                "serve",
                study.to_str().unwrap(),
                "--port",
                "0",
                "--no-web",
                "--quiet",
            ])
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hexcover serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .split("http://")
            .nth(1)
            .map(|a| a.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Self { child, address }
    }

    /// GET `path`: (status, body).
    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
        assert!(!head.contains("transfer-encoding: chunked"), "{head}");
        let status = head[9..12].parse().unwrap();
        (status, response[split + 4..].to_vec())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- tests --------------------------------------------------------------------

#[test]
fn the_archive_holds_every_layer_as_the_server_serves_it() {
    let dir = tempfile::tempdir().unwrap();
    let study = ulm_study(dir.path());
    let archive_path = dir.path().join("map").join("ulm.pmtiles");
    let stdout = ok(&hexcover(&[
        "export",
        study.to_str().unwrap(),
        "--pmtiles",
        archive_path.to_str().unwrap(),
        "--min-zoom",
        "12",
        "--max-zoom",
        "13",
    ]));
    assert!(
        stdout.contains("zoom 12:") && stdout.contains("zoom 13:"),
        "{stdout}"
    );
    // Written atomically: nothing but the archive in its folder.
    let names: Vec<String> = std::fs::read_dir(archive_path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ulm.pmtiles"]);

    let archive = std::fs::read(&archive_path).unwrap();
    let h = header(&archive);
    assert_eq!(h.root.0, 127, "the root directory follows the header");
    assert_eq!(h.tile_type, 1, "MVT");
    assert_eq!(h.tile_compression, 2, "gzip");
    assert_eq!(h.internal_compression, 2, "gzip");
    assert_eq!(h.clustered, 1);
    assert_eq!(h.zooms, (12, 13));
    assert_eq!(h.center_zoom, 12);
    let [w, s, e, n] = h.bounds;
    assert!(
        w < MINSTER.1 && MINSTER.1 < e && s < MINSTER.0 && MINSTER.0 < n,
        "{:?}",
        h.bounds
    );
    assert!(
        h.entries > 10 && h.entries <= h.addressed,
        "{} {}",
        h.entries,
        h.addressed
    );
    assert!(h.contents <= h.entries);

    // Metadata: TileJSON vector_layers with fields, in the server's order.
    let metadata: serde_json::Value =
        serde_json::from_slice(&gunzip(slice(&archive, h.metadata.0, h.metadata.1))).unwrap();
    let layers = metadata["vector_layers"].as_array().unwrap();
    let ids: Vec<&str> = layers.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["measured", "predicted", "gaps", "sites", "suggestions"]
    );
    assert_eq!(layers[0]["fields"]["rssi_median_dbm"], "Number");
    assert_eq!(layers[0]["fields"]["state"], "String");
    assert_eq!(layers[1]["fields"]["p_covered"], "Number");
    assert_eq!(layers[3]["fields"]["id"], "String");
    assert_eq!(layers[4]["fields"]["rank"], "Number");

    // The tile over the Minster at zoom 13: measured and predicted hexes,
    // the gateway and the suggested site.
    let t = TileId::containing(MINSTER.0, MINSTER.1, 13);
    let gz = find_tile(&archive, &h, t.z, t.x, t.y).expect("the Minster tile is in the archive");
    let mvt = gunzip(&gz);
    let tile = decode(&mvt);
    let names: Vec<&str> = tile.layers.iter().map(|l| l.name.as_str()).collect();
    for layer in ["measured", "predicted", "sites", "suggestions"] {
        assert!(names.contains(&layer), "{layer} missing: {names:?}");
    }
    for layer in &tile.layers {
        assert!(!layer.features.is_empty(), "{}", layer.name);
        assert_eq!(layer.extent, Some(4096));
    }
    // Far outside the data: no tile.
    let far = TileId::containing(47.0, 8.0, 13);
    assert!(find_tile(&archive, &h, far.z, far.x, far.y).is_none());

    // The same tile from a live server of the study, one layer at a time:
    // the archive's tile is exactly those layers, in order.
    let server = Server::start(&study);
    let mut served = Vec::new();
    for layer in ["measured", "predicted", "gaps", "sites", "suggestions"] {
        let (status, body) = server.get(&format!(
            "/api/v1/tiles/{layer}/{}/{}/{}.mvt",
            t.z, t.x, t.y
        ));
        assert_eq!(status, 200, "{layer}");
        served.extend_from_slice(&body);
    }
    assert_eq!(
        mvt, served,
        "archive tile = the server's tiles of the five layers"
    );

    // Every tile of the archive at zoom 12 holds the server's layers too.
    let mut checked = 0;
    let corner = TileId::containing(n, w, 12);
    let other = TileId::containing(s, e, 12);
    for x in corner.x..=other.x {
        for y in corner.y..=other.y {
            let mut served = Vec::new();
            for layer in ["measured", "predicted", "gaps", "sites", "suggestions"] {
                served.extend(
                    server
                        .get(&format!("/api/v1/tiles/{layer}/12/{x}/{y}.mvt"))
                        .1,
                );
            }
            match find_tile(&archive, &h, 12, x, y) {
                Some(gz) => {
                    assert_eq!(gunzip(&gz), served, "12/{x}/{y}");
                    checked += 1;
                }
                None => assert!(
                    served.is_empty(),
                    "12/{x}/{y} is served but not in the archive"
                ),
            }
        }
    }
    assert!(checked > 0);

    // Some layers only: the same tile holds exactly the server's tiles of those.
    let some = dir.path().join("some.pmtiles");
    ok(&hexcover(&[
        "export",
        study.to_str().unwrap(),
        "--pmtiles",
        some.to_str().unwrap(),
        "--min-zoom",
        "13",
        "--max-zoom",
        "13",
        "--layers",
        "sites,measured",
        "--quiet",
    ]));
    let archive = std::fs::read(&some).unwrap();
    let h = header(&archive);
    assert_eq!(h.zooms, (13, 13));
    let metadata: serde_json::Value =
        serde_json::from_slice(&gunzip(slice(&archive, h.metadata.0, h.metadata.1))).unwrap();
    let ids: Vec<&str> = metadata["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["measured", "sites"], "in the server's order");
    let gz = find_tile(&archive, &h, t.z, t.x, t.y).unwrap();
    let mut served = Vec::new();
    for layer in ["measured", "sites"] {
        served.extend(
            server
                .get(&format!(
                    "/api/v1/tiles/{layer}/{}/{}/{}.mvt",
                    t.z, t.x, t.y
                ))
                .1,
        );
    }
    assert_eq!(gunzip(&gz), served);
}

#[test]
fn hilbert_tile_ids_follow_the_spec() {
    // Values from the PMTiles v3 spec's examples.
    assert_eq!(tile_id(0, 0, 0), 0);
    assert_eq!(tile_id(1, 0, 0), 1);
    assert_eq!(tile_id(1, 0, 1), 2);
    assert_eq!(tile_id(1, 1, 1), 3);
    assert_eq!(tile_id(1, 1, 0), 4);
    assert_eq!(tile_id(2, 0, 0), 5);
}

#[test]
fn bad_pmtiles_options_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.pmtiles");
    let out = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--min-zoom", "14", "--max-zoom", "12"],
            "--min-zoom = 14 is above --max-zoom = 12",
        ),
        (vec!["--max-zoom", "21"], "--max-zoom = 21: at most 20"),
        (vec!["--gap-threshold", "1.5"], "--gap-threshold = 1.5"),
        (
            vec!["--layers", "measured,coverage"],
            "--layers: no layer `coverage`",
        ),
    ] {
        let mut all = vec!["export", "out/ulm", "--pmtiles", out];
        all.extend(args);
        let output = hexcover(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("hexcover: error: ") && stderr.contains(needle),
            "{stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    // Zoom flags without --pmtiles, and --pmtiles with hex-file flags, are usage errors.
    assert_eq!(
        hexcover(&["export", "out/ulm", "--max-zoom", "3"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        hexcover(&["export", "out/ulm", "--pmtiles", out, "--res", "9"])
            .status
            .code(),
        Some(2)
    );
    // A study directory without links says so.
    let output = hexcover(&["export", dir.path().to_str().unwrap(), "--pmtiles", out]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no links.parquet"), "{stderr}");
    assert!(!Path::new(out).exists());
}
