//! `hexcover ingest`: inputs → validated links and sites → hex statistics →
//! a study directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use h3o::Resolution;
use hexcover_core::{HexStats, parse_resolutions};
use hexcover_ingest::{
    DevicePositions, Format, IngestOptions, aggregate, ingest, read_device_positions,
};

use crate::args::IngestArgs;
use crate::export_cmd::{HexFormat, parse_hex_formats, write_hexes};
use crate::progress::Bar;

/// The validated settings of one ingest.
struct Settings {
    inputs: Vec<PathBuf>,
    out: PathBuf,
    options: IngestOptions,
    resolutions: Vec<Resolution>,
    formats: Vec<HexFormat>,
    quiet: bool,
}

fn settings(args: &IngestArgs) -> Result<Settings> {
    let format = args.format.as_deref().map(Format::from_name).transpose()?;
    let resolutions = parse_resolutions(&args.res)?;
    let mut formats = vec![HexFormat::GeoParquet];
    for f in parse_hex_formats(&args.export)? {
        if !formats.contains(&f) {
            formats.push(f);
        }
    }
    let fixed = match &args.device_positions {
        Some(path) => read_device_positions(path)?,
        None => Default::default(),
    };
    Ok(Settings {
        inputs: args.inputs.clone(),
        out: args.out.clone(),
        options: IngestOptions {
            format,
            gateways: args.gateways.clone(),
            devices: DevicePositions {
                lat_field: args.device_lat_field.clone(),
                lon_field: args.device_lon_field.clone(),
                fixed,
            },
            parallel: !args.single_thread,
            find_duplicates: true,
        },
        resolutions,
        formats,
        quiet: args.quiet,
    })
}

pub fn run(args: &IngestArgs) -> Result<()> {
    let s = settings(args)?;
    std::fs::create_dir_all(&s.out).with_context(|| format!("creating {}", s.out.display()))?;
    let bar = Bar::new(s.quiet);
    let started = std::time::Instant::now();
    let ingested = ingest(&s.inputs, &s.options, &bar)?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        links = ingested.links.len(),
        "read and validated"
    );
    remove_previous_outputs(&s.out)?;
    let mut outputs: Vec<PathBuf> = Vec::new();

    let rejects = s.out.join("rejects.csv");
    hexcover_export::write_atomically(&rejects, |tmp| {
        hexcover_ingest::write_rejects_csv(tmp, &ingested.rejects).map_err(|e| {
            hexcover_export::Error::Io {
                path: tmp.to_owned(),
                source: std::io::Error::other(e),
            }
        })
    })?;
    outputs.push(rejects);
    bar.stage("writing links.parquet");
    let links = s.out.join("links.parquet");
    hexcover_export::write_links_parquet(&links, &ingested.links)?;
    outputs.push(links);
    if !ingested.sites.is_empty() {
        let sites = s.out.join("sites.parquet");
        hexcover_export::write_sites_geoparquet(&sites, &ingested.sites)?;
        outputs.push(sites);
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "wrote rejects, links and sites"
    );
    bar.stage("aggregating per H3 hex");
    let hexes = aggregate(&ingested.links, &s.resolutions)?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "aggregated");
    bar.stage("writing hexes");
    for (res, stats) in s.resolutions.iter().zip(&hexes) {
        outputs.extend(write_hexes(&s.out, *res, stats, &s.formats)?);
    }

    bar.done();
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "wrote hexes");
    let summary_path = s.out.join("summary.json");
    let summary = summary_json(
        &ingested.summary,
        &s.resolutions,
        &hexes,
        &outputs,
        &summary_path,
    )?;
    hexcover_export::write_atomically(&summary_path, |tmp| {
        std::fs::write(tmp, &summary).map_err(|e| hexcover_export::Error::Io {
            path: tmp.to_owned(),
            source: e,
        })
    })?;
    if !s.quiet {
        print_summary(
            &ingested.summary,
            &s.resolutions,
            &hexes,
            &outputs,
            &summary_path,
        );
    }
    Ok(())
}

/// Remove what an earlier ingest wrote into `dir`, so that no stale hexes or
/// sites of another run sit beside the new links. Other files are left alone.
fn remove_previous_outputs(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let ours = matches!(
            name.as_str(),
            "summary.json" | "rejects.csv" | "links.parquet" | "sites.parquet"
        ) || (name.starts_with("hexes_res")
            && [".parquet", ".geojson", ".csv"]
                .iter()
                .any(|ext| name.ends_with(ext)));
        if ours {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

fn summary_json(
    summary: &hexcover_ingest::IngestSummary,
    resolutions: &[Resolution],
    hexes: &[Vec<HexStats>],
    outputs: &[PathBuf],
    summary_path: &Path,
) -> Result<String> {
    let mut value = serde_json::to_value(summary)?;
    let per_res: serde_json::Map<String, serde_json::Value> = resolutions
        .iter()
        .zip(hexes)
        .map(|(r, h)| (u8::from(*r).to_string(), h.len().into()))
        .collect();
    value["hexes"] = per_res.into();
    let mut paths: Vec<String> = outputs.iter().map(|p| p.display().to_string()).collect();
    paths.push(summary_path.display().to_string());
    value["outputs"] = paths.into();
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

fn print_summary(
    summary: &hexcover_ingest::IngestSummary,
    resolutions: &[Resolution],
    hexes: &[Vec<HexStats>],
    outputs: &[PathBuf],
    summary_path: &Path,
) {
    println!("hexcover ingest");
    if let Some(g) = &summary.gateways {
        println!(
            "  gateways {}: {} rows read, {} accepted, {} rejected",
            g.input, g.rows_read, g.accepted, g.rejected
        );
    }
    for input in &summary.inputs {
        println!(
            "  {} ({}): {} rows read, {} accepted, {} rejected",
            input.input,
            input.format.name(),
            input.rows_read,
            input.accepted,
            input.rejected
        );
    }
    println!(
        "rows read {}  accepted {}  rejected {}  (accepted + rejected = rows read: {})",
        summary.rows_read,
        summary.accepted,
        summary.rejected,
        if summary.balanced { "yes" } else { "NO" }
    );
    for (reason, n) in &summary.rejected_by_reason {
        println!("  rejected {reason}: {n}");
    }
    println!(
        "links {} ({} flagged invalid by the source), sites {}",
        summary.links, summary.links_flagged_invalid, summary.sites
    );
    for (res, h) in resolutions.iter().zip(hexes) {
        println!("hexes at res {}: {}", u8::from(*res), h.len());
    }
    println!("wrote:");
    for p in outputs
        .iter()
        .chain(std::iter::once(&summary_path.to_path_buf()))
    {
        println!("  {}", p.display());
    }
}
