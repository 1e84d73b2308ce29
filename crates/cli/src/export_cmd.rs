//! `hexcover export`: a study's links → hexes in the requested formats.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use h3o::Resolution;
use hexcover_core::{HexStats, LinkTable, parse_resolutions};
use hexcover_ingest::{
    Format, IngestOptions, LinkSink, NoProgress, SinkError, StreamOptions, ingest, ingest_streaming,
};

use crate::args::ExportArgs;

/// A hex output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexFormat {
    GeoParquet,
    GeoJson,
    Csv,
}

pub fn parse_hex_formats(names: &[String]) -> Result<Vec<HexFormat>> {
    names
        .iter()
        .map(|n| match n.trim() {
            "geoparquet" | "parquet" => Ok(HexFormat::GeoParquet),
            "geojson" => Ok(HexFormat::GeoJson),
            "csv" => Ok(HexFormat::Csv),
            other => bail!("unknown export format `{other}`; known: geoparquet, geojson, csv"),
        })
        .collect()
}

/// Write one resolution's hexes in every format; returns the paths.
pub fn write_hexes(
    dir: &Path,
    res: Resolution,
    hexes: &[HexStats],
    formats: &[HexFormat],
) -> Result<Vec<PathBuf>> {
    let stem = format!("hexes_res{}", u8::from(res));
    let mut written = Vec::new();
    for format in formats {
        let path = match format {
            HexFormat::GeoParquet => {
                let p = dir.join(format!("{stem}.parquet"));
                hexcover_export::write_hexes_geoparquet(&p, hexes)?;
                p
            }
            HexFormat::GeoJson => {
                let p = dir.join(format!("{stem}.geojson"));
                hexcover_export::write_hexes_geojson(&p, hexes)?;
                p
            }
            HexFormat::Csv => {
                let p = dir.join(format!("{stem}.csv"));
                hexcover_export::write_hexes_csv(&p, hexes)?;
                p
            }
        };
        written.push(path);
    }
    Ok(written)
}

/// A study's `links.parquet` and the options that re-read it: links that
/// were accepted once, so no duplicate search.
fn study_links(study: &Path) -> Result<(PathBuf, IngestOptions)> {
    let links_path = study.join("links.parquet");
    if !links_path.exists() {
        bail!(
            "{}: no links.parquet in the study directory; run `hexcover ingest ... --out {}` first",
            links_path.display(),
            study.display()
        );
    }
    let options = IngestOptions {
        format: Some(Format::LinksParquet),
        find_duplicates: false,
        ..IngestOptions::default()
    };
    Ok((links_path, options))
}

/// The links of a study directory (`links.parquet`, written by `hexcover
/// ingest`), read back as they are: they were accepted once, so anything
/// that no longer validates is an error, not a silent drop that would make a
/// later stage disagree with ingest.
pub fn read_study_links(study: &Path) -> Result<LinkTable> {
    let (links_path, options) = study_links(study)?;
    let ingested = ingest(std::slice::from_ref(&links_path), &options, &NoProgress)?;
    if let Some(first) = ingested.rejects.first() {
        bail!(
            "{}: {} links do not validate (first: row {}, {}: {}); re-run `hexcover ingest`",
            links_path.display(),
            ingested.rejects.len(),
            first.row,
            first.reason.code(),
            first.detail
        );
    }
    Ok(ingested.links)
}

/// Counts the rejects of a re-read `links.parquet` and keeps the first; the
/// links themselves are not needed, only their hexes.
#[derive(Default)]
struct RejectCheck {
    count: usize,
    first: Option<hexcover_ingest::Reject>,
}

impl LinkSink for RejectCheck {
    fn start(&mut self, _inputs: &[String]) -> std::result::Result<(), SinkError> {
        Ok(())
    }

    fn links(&mut self, _links: &LinkTable) -> std::result::Result<(), SinkError> {
        Ok(())
    }

    fn rejects(
        &mut self,
        rejects: &[hexcover_ingest::Reject],
    ) -> std::result::Result<(), SinkError> {
        self.count += rejects.len();
        if self.first.is_none() {
            self.first = rejects.first().cloned();
        }
        Ok(())
    }
}

/// The hexes of a study's `links.parquet` at `resolutions`, by the streaming
/// ingest (a chunk of links in memory at a time, spill files in
/// `spill_parent`), so a study of any size can be exported again. As in
/// [`read_study_links`], a link that no longer validates is an error.
fn aggregate_study_links(
    study: &Path,
    resolutions: &[Resolution],
    spill_parent: &Path,
) -> Result<Vec<Vec<HexStats>>> {
    let (links_path, options) = study_links(study)?;
    let mut check = RejectCheck::default();
    let streamed = ingest_streaming(
        std::slice::from_ref(&links_path),
        &options,
        resolutions,
        &StreamOptions::new(spill_parent),
        &mut check,
        &NoProgress,
    )?;
    if let Some(first) = &check.first {
        bail!(
            "{}: {} links do not validate (first: row {}, {}: {}); re-run `hexcover ingest`",
            links_path.display(),
            check.count,
            first.row,
            first.reason.code(),
            first.detail
        );
    }
    Ok(streamed.hexes)
}

pub fn run(args: &ExportArgs) -> Result<()> {
    if let Some(path) = &args.pmtiles {
        return crate::pmtiles_cmd::run(args, path);
    }
    let resolutions = parse_resolutions(&args.res)?;
    let formats = parse_hex_formats(&args.to)?;
    let out = args.out.clone().unwrap_or_else(|| args.study.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let hexes = aggregate_study_links(&args.study, &resolutions, &out)?;
    for (res, stats) in resolutions.iter().zip(&hexes) {
        for path in write_hexes(&out, *res, stats, &formats)? {
            if !args.quiet {
                println!(
                    "{} hexes at res {} → {}",
                    stats.len(),
                    u8::from(*res),
                    path.display()
                );
            }
        }
    }
    Ok(())
}
