//! `hexcover ingest`: inputs → validated links and sites → hex statistics →
//! a study directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use h3o::Resolution;
use hexcover_core::{HexStats, parse_resolutions};
use hexcover_ingest::{
    DevicePositions, Format, IngestOptions, LinkSink, RejectsCsvWriter, SinkError, StreamOptions,
    aggregate, ingest, ingest_streaming, read_device_positions,
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
    if streams(&s)? {
        return run_streaming(&s, &bar);
    }
    let started = std::time::Instant::now();
    let ingested = ingest(&s.inputs, &s.options, &bar)?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        links = ingested.links.len(),
        "read and validated"
    );
    remove_previous_outputs(&s.out)?;
    let mut outputs: Vec<PathBuf> = Vec::new();

    // Writing the links and aggregating them read the same table and are
    // each mostly sequential: side by side they keep both cores busy.
    bar.stage("writing links.parquet and aggregating per H3 hex");
    let (written, hexes) = rayon::join(
        || write_links_and_rejects(&s.out, &ingested),
        || aggregate(&ingested.links, &s.resolutions),
    );
    outputs.extend(written?);
    let hexes = hexes?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "wrote rejects and links, aggregated"
    );
    finish_study(
        &s,
        &bar,
        &ingested.summary,
        &ingested.sites,
        &hexes,
        outputs,
    )
}

/// `rejects.csv` and `links.parquet` of an in-memory ingest; their paths.
fn write_links_and_rejects(
    out: &Path,
    ingested: &hexcover_ingest::Ingested,
) -> Result<Vec<PathBuf>> {
    let rejects = out.join("rejects.csv");
    hexcover_export::write_atomically(&rejects, |tmp| {
        hexcover_ingest::write_rejects_csv(tmp, &ingested.rejects).map_err(|e| {
            hexcover_export::Error::Io {
                path: tmp.to_owned(),
                source: std::io::Error::other(e),
            }
        })
    })?;
    let links = out.join("links.parquet");
    hexcover_export::write_links_parquet(&links, &ingested.links)?;
    Ok(vec![rejects, links])
}

/// Whether this ingest streams: when every input is a link table (links CSV
/// or links Parquet), unless `HEXCOVER_INGEST=memory` asks for the in-memory
/// path (`stream` insists on streaming). Both give the same study; the
/// streaming path holds a chunk of links in memory instead of all of them.
fn streams(s: &Settings) -> Result<bool> {
    let link_tables = hexcover_ingest::link_table_formats(&s.inputs, &s.options)?.is_some();
    match std::env::var("HEXCOVER_INGEST").ok().as_deref() {
        None | Some("" | "auto") => Ok(link_tables),
        Some("memory") => Ok(false),
        Some("stream") if link_tables => Ok(true),
        Some("stream") => bail!(
            "HEXCOVER_INGEST=stream: only link tables (links CSV or links Parquet) can be streamed"
        ),
        Some(other) => bail!("HEXCOVER_INGEST={other}: expected auto, memory or stream"),
    }
}

/// Writes the links and rejects of a streaming ingest as they come, into
/// temporary siblings of `links.parquet` and `rejects.csv`.
struct StudySink {
    links_path: PathBuf,
    links: Option<hexcover_export::LinksParquetWriter>,
    rejects: Option<RejectsCsvWriter>,
}

impl LinkSink for StudySink {
    fn start(&mut self, inputs: &[String]) -> std::result::Result<(), SinkError> {
        self.links = Some(hexcover_export::LinksParquetWriter::create(
            &self.links_path,
            inputs,
        )?);
        Ok(())
    }

    fn links(&mut self, links: &hexcover_core::LinkTable) -> std::result::Result<(), SinkError> {
        if let Some(writer) = &mut self.links {
            writer.write(links)?;
        }
        Ok(())
    }

    fn rejects(
        &mut self,
        rejects: &[hexcover_ingest::Reject],
    ) -> std::result::Result<(), SinkError> {
        if let Some(writer) = &mut self.rejects {
            writer.write(rejects)?;
        }
        Ok(())
    }
}

/// The streaming ingest: links and rejects written chunk by chunk, hexes
/// aggregated through spill files in the study directory.
fn run_streaming(s: &Settings, bar: &Bar) -> Result<()> {
    let started = std::time::Instant::now();
    let rejects_path = s.out.join("rejects.csv");
    let rejects_tmp = hexcover_export::temporary_sibling(&rejects_path);
    let mut sink = StudySink {
        links_path: s.out.join("links.parquet"),
        links: None,
        rejects: Some(RejectsCsvWriter::create(&rejects_tmp)?),
    };
    let stream = StreamOptions::new(&s.out);
    let streamed = ingest_streaming(
        &s.inputs,
        &s.options,
        &s.resolutions,
        &stream,
        &mut sink,
        bar,
    );
    let written = streamed.map_err(anyhow::Error::from).and_then(|streamed| {
        if let Some(rejects) = sink.rejects.take() {
            rejects.finish()?;
        }
        Ok(streamed)
    });
    let streamed = match written {
        Ok(streamed) => streamed,
        Err(e) => {
            // Nothing of a failed run is kept; the links' temporary file goes
            // with the writer.
            let _ = std::fs::remove_file(&rejects_tmp);
            return Err(e);
        }
    };
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        links = streamed.summary.links,
        spilled = streamed.spilled,
        "read, validated, wrote links and rejects, aggregated (streaming)"
    );
    remove_previous_outputs(&s.out)?;
    std::fs::rename(&rejects_tmp, &rejects_path)
        .with_context(|| format!("writing {}", rejects_path.display()))?;
    let mut outputs = vec![rejects_path];
    if let Some(links) = sink.links.take() {
        links.finish()?;
    }
    outputs.push(sink.links_path.clone());
    finish_study(
        s,
        bar,
        &streamed.summary,
        &streamed.sites,
        &streamed.hexes,
        outputs,
    )
}

/// What both paths write after the links: sites, hexes, `summary.json`.
fn finish_study(
    s: &Settings,
    bar: &Bar,
    summary: &hexcover_ingest::IngestSummary,
    sites: &[hexcover_core::Site],
    hexes: &[Vec<HexStats>],
    mut outputs: Vec<PathBuf>,
) -> Result<()> {
    let started = std::time::Instant::now();
    if !sites.is_empty() {
        let path = s.out.join("sites.parquet");
        hexcover_export::write_sites_geoparquet(&path, sites)?;
        outputs.push(path);
    }
    bar.stage("writing hexes");
    for (res, stats) in s.resolutions.iter().zip(hexes) {
        outputs.extend(write_hexes(&s.out, *res, stats, &s.formats)?);
    }

    bar.done();
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "wrote sites and hexes"
    );
    let summary_path = s.out.join("summary.json");
    let summary_text = summary_json(summary, &s.resolutions, hexes, &outputs, &summary_path)?;
    hexcover_export::write_atomically(&summary_path, |tmp| {
        std::fs::write(tmp, &summary_text).map_err(|e| hexcover_export::Error::Io {
            path: tmp.to_owned(),
            source: e,
        })
    })?;
    if !s.quiet {
        print_summary(summary, &s.resolutions, hexes, &outputs, &summary_path);
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
