//! `--links` for the model commands (`train`, `evaluate`, `predict`): every
//! input `hexcover ingest` reads, with the same `--format` and `--gateways`,
//! and the terrain and radio assumptions that turn a link into a path.
//!
//! Rows ingest rejects are counted and written to a rejects file, never
//! predicted. Accepted links that cannot become a path (the DEM has no
//! elevation along it, or device and receiver coincide) are counted too.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hexcover_core::{LatLon, Link};
use hexcover_ingest::{DevicePositions, Format, IngestOptions, Ingested, ingest};
use hexcover_propagation::{LearnedModel, PathFeatures, PhysicsLosses, RadioPath};
use hexcover_terrain::Dem;

use crate::args::{LinkInputArgs, RadioArgs};
use crate::progress::Bar;

/// The validated radio assumptions of a model command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Radio {
    pub device_height_m: f64,
    pub rx_height_m: f64,
    pub freq_mhz: f64,
    pub profile_step_m: f64,
}

impl Radio {
    /// DESIGN.md's defaults: device 1.5 m, receiver 10 m, 868.3 MHz, and a
    /// 30 m profile step.
    pub const DEFAULT: Self = Self {
        device_height_m: 1.5,
        rx_height_m: 10.0,
        freq_mhz: 868.3,
        profile_step_m: hexcover_propagation::DEFAULT_PROFILE_STEP_M,
    };

    /// The flags, `defaults` where a flag is absent, checked.
    pub fn from_args(args: &RadioArgs, defaults: Self) -> Result<Self> {
        let radio = Self {
            device_height_m: args.device_height_m.unwrap_or(defaults.device_height_m),
            rx_height_m: args.rx_height_m.unwrap_or(defaults.rx_height_m),
            freq_mhz: args.freq_mhz.unwrap_or(defaults.freq_mhz),
            profile_step_m: args.profile_step_m.unwrap_or(defaults.profile_step_m),
        };
        radio.check()?;
        Ok(radio)
    }

    /// The assumptions a model file records (its metadata), `None` when one
    /// is missing or unreadable.
    pub fn from_metadata(m: &std::collections::BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| m.get(k)?.parse::<f64>().ok();
        Some(Self {
            device_height_m: get("device_height_m")?,
            rx_height_m: get("rx_height_m")?,
            freq_mhz: get("freq_mhz")?,
            profile_step_m: get("profile_step_m")?,
        })
    }

    pub fn check(&self) -> Result<()> {
        for (name, value, min) in [
            ("--device-height-m", self.device_height_m, 0.0),
            ("--rx-height-m", self.rx_height_m, 0.0),
        ] {
            if !(value.is_finite() && value >= min && value <= 500.0) {
                bail!("{name} = {value}: expected a height from 0 to 500 m");
            }
        }
        if !(self.freq_mhz.is_finite() && (30.0..=6_000.0).contains(&self.freq_mhz)) {
            bail!(
                "--freq-mhz = {}: expected a frequency from 30 to 6000 MHz",
                self.freq_mhz
            );
        }
        if !(self.profile_step_m.is_finite() && (1.0..=1_000.0).contains(&self.profile_step_m)) {
            bail!(
                "--profile-step-m = {}: expected 1 to 1000 m",
                self.profile_step_m
            );
        }
        Ok(())
    }

    /// As `key=value` pairs for a model file's metadata.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        vec![
            ("device_height_m", self.device_height_m.to_string()),
            ("rx_height_m", self.rx_height_m.to_string()),
            ("freq_mhz", self.freq_mhz.to_string()),
            ("profile_step_m", self.profile_step_m.to_string()),
        ]
    }
}

/// Ingest options from the link flags (the same as `hexcover ingest` builds).
pub fn ingest_links(args: &LinkInputArgs, bar: &Bar) -> Result<Ingested> {
    let format = args.format.as_deref().map(Format::from_name).transpose()?;
    for path in &args.links {
        if !path.exists() {
            bail!("--links {}: no such file", path.display());
        }
    }
    let options = IngestOptions {
        format,
        gateways: args.gateways.clone(),
        devices: DevicePositions::default(),
        parallel: true,
        find_duplicates: true,
    };
    Ok(ingest(&args.links, &options, bar)?)
}

/// Writes the rejected rows (always, with a header) and says where.
pub fn write_rejects(ingested: &Ingested, path: &Path) -> Result<()> {
    hexcover_export::write_atomically(path, |tmp| {
        hexcover_ingest::write_rejects_csv(tmp, &ingested.rejects).map_err(|e| {
            hexcover_export::Error::Io {
                path: tmp.to_owned(),
                source: std::io::Error::other(e),
            }
        })
    })?;
    Ok(())
}

/// `<out>.rejects.csv` beside an output file, unless `--rejects` names one.
pub fn rejects_path(args: &LinkInputArgs, out: &Path) -> PathBuf {
    args.rejects.clone().unwrap_or_else(|| {
        let mut name = out.file_stem().unwrap_or_default().to_os_string();
        name.push(".rejects.csv");
        out.with_file_name(name)
    })
}

/// Opens the DEM with the file in the error.
pub fn open_dem(path: &Path) -> Result<Dem> {
    // Checked here so GDAL does not print its own error line first.
    if !path.exists() {
        bail!("--dem {}: no such file or directory", path.display());
    }
    Dem::open(path).with_context(|| format!("--dem {}", path.display()))
}

/// Reads and checks a model written by `hexcover train`; errors name the file.
pub fn load_model(path: &Path) -> Result<LearnedModel> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--model {}", path.display()))?;
    let model: LearnedModel = serde_json::from_str(&text)
        .with_context(|| format!("--model {}: not a hexcover model file", path.display()))?;
    model
        .check()
        .with_context(|| format!("--model {}", path.display()))?;
    Ok(model)
}

/// The receiver id of a link: its id, else its position.
pub fn receiver_id(link: &Link) -> String {
    link.rx_id
        .clone()
        .unwrap_or_else(|| format!("rx@{:.6},{:.6}", link.rx_lat, link.rx_lon))
}

/// The path of a link over the DEM with the radio defaults where the link
/// says nothing; `None` when the DEM has no elevation along it or the ends
/// coincide.
pub fn link_path(dem: &Dem, link: &Link, radio: &Radio) -> Option<RadioPath> {
    RadioPath::between(
        dem,
        LatLon::new(link.tx_lat, link.tx_lon),
        LatLon::new(link.rx_lat, link.rx_lon),
        link.tx_height_agl_m.unwrap_or(radio.device_height_m),
        link.rx_height_agl_m.unwrap_or(radio.rx_height_m),
        link.freq_mhz.unwrap_or(radio.freq_mhz),
        radio.profile_step_m,
    )
    .ok()
}

/// Features (and, when asked, the physics losses) of a link's path.
pub fn link_features(
    dem: &Dem,
    link: &Link,
    radio: &Radio,
    physics: bool,
) -> Option<(PathFeatures, Option<PhysicsLosses>)> {
    let path = link_path(dem, link, radio)?;
    let features = PathFeatures::of(&path).ok()?;
    let losses = if physics {
        Some(PhysicsLosses::of(&path).ok()?)
    } else {
        None
    };
    Some((features, losses))
}

/// The measured links of an ingest as evaluation rows, with what was left out.
pub struct Measured {
    pub samples: Vec<hexcover_propagation::EvalSample>,
    /// Accepted links without an RSSI or marked invalid by the source.
    pub without_rssi: usize,
    /// Accepted links without a path over the DEM (no elevation, zero length).
    pub without_path: usize,
}

/// Every heard, valid link with an RSSI and a path over the DEM.
pub fn measured(ingested: &Ingested, dem: &Dem, radio: &Radio, bar: &Bar) -> Measured {
    bar.stage("terrain profiles and features");
    let links = &ingested.links;
    let (mut samples, mut without_rssi, mut without_path) = (Vec::new(), 0, 0);
    for i in 0..links.len() {
        let link = links.get(i);
        let Some(rssi_dbm) = link.rssi_dbm.filter(|_| link.heard && link.valid) else {
            without_rssi += 1;
            continue;
        };
        let Some((features, Some(physics))) = link_features(dem, &link, radio, true) else {
            without_path += 1;
            continue;
        };
        samples.push(hexcover_propagation::EvalSample {
            link: hexcover_propagation::LinkSample {
                device: LatLon::new(link.tx_lat, link.tx_lon),
                receiver: receiver_id(&link),
                features,
                rssi_dbm,
            },
            physics,
        });
    }
    Measured {
        samples,
        without_rssi,
        without_path,
    }
}

/// The learned-model parameters from the shared flags.
pub fn learned_params(
    gbm: &crate::args::GbmArgs,
    block_res: u8,
) -> Result<hexcover_propagation::LearnedParams> {
    let defaults = hexcover_propagation::LearnedParams::new();
    let params = defaults
        .gbm(
            defaults
                .gbm
                .n_trees(gbm.trees)
                .max_depth(gbm.depth)
                .learning_rate(gbm.learning_rate)
                .seed(gbm.seed),
        )
        .physics_monotone(!gbm.no_physics_constraints)
        .block_res(block_res);
    params.check().map_err(|e| match e {
        hexcover_propagation::Error::InvalidParameter {
            name,
            value,
            expected,
        } => {
            anyhow::anyhow!("{} = {value}: expected {expected}", flag_of(name))
        }
        other => other.into(),
    })?;
    Ok(params)
}

fn flag_of(name: &str) -> &str {
    match name {
        "n_trees" => "--trees",
        "max_depth" => "--depth",
        "learning_rate" => "--learning-rate",
        "block_res" => "--block-res",
        other => other,
    }
}
