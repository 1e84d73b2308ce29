//! `hexcover run study.toml`: the whole pipeline (ingest → train → coverage
//! → optimize → export) over one study config, unattended.
//!
//! Each stage writes into `DIR/.staging/<stage>/`; only when it succeeded
//! are its outputs moved into DIR (a rename per file: a reader never sees a
//! half-written file) and its manifest written (`DIR/manifests/<stage>.json`:
//! parameters, input and output hashes, metrics). The manifest is removed
//! before the stage starts, so a run killed mid-stage reruns that stage and
//! skips those before it. A stage whose parameters, inputs and outputs match
//! its manifest is skipped (the same hexcover executable included: a rebuilt
//! binary reruns every stage). The run ends with `report.md` and `report.json`.

mod config;
mod lock;
mod manifest;
mod promote;
mod report;
mod stages;

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::RunArgs;
use config::StudyConfig;
use manifest::Manifest;
use report::{StageRun, Status};
use stages::{STAGES, Stage};

pub fn run(args: &RunArgs) -> Result<()> {
    let config = StudyConfig::load(&args.config, args.dir.as_deref())?;
    let dir = config.study.dir.clone();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = lock::StudyLock::take(&dir)?;
    let started = Instant::now();
    let mut runs = Vec::new();
    // Once a stage ran, every later one checks its inputs afresh (they are
    // hashed when the stage comes up, after the stages before it).
    for (i, stage) in STAGES.iter().enumerate() {
        let progress = StageProgress::start(*stage, i, args.quiet);
        let outcome = run_stage(*stage, &config, args.force);
        let run = match outcome {
            Ok(run) => run,
            Err(err) => {
                progress.failed();
                tracing::error!(stage = stage.name(), error = %err, "stage failed");
                return Err(err.context(format!("stage {} failed", stage.name())));
            }
        };
        progress.done(&run);
        runs.push(run);
    }
    promote::remove_empty_staging(&dir)?;
    let report = report::Report::new(&config, &args.config, &runs, started.elapsed());
    let paths = report.write(&dir)?;
    if !args.quiet {
        print!("{}", report.summary_text());
        for p in paths {
            println!("report: {}", p.display());
        }
    }
    Ok(())
}

/// Skip the stage when up to date, else run it into staging, promote its
/// outputs and write its manifest.
fn run_stage(stage: Stage, config: &StudyConfig, force: bool) -> Result<StageRun> {
    let dir = &config.study.dir;
    let name = stage.name();
    let previous = manifest::read(dir, name);
    if !stage.enabled(config) {
        if let Some(old) = &previous {
            promote::remove_outputs(dir, &old.outputs, &[])?;
        }
        manifest::remove(dir, name)?;
        return Ok(StageRun::new(stage, Status::Off, 0.0, None));
    }
    let parameters = stage.parameters(config);
    let inputs = manifest::hash_all(&stage.inputs(config), dir)?;
    if !force
        && let Some(old) = &previous
        && old.is_current(&parameters, &inputs, dir)?
    {
        return Ok(StageRun::new(
            stage,
            Status::Skipped,
            0.0,
            Some(old.clone()),
        ));
    }
    manifest::remove(dir, name)?;
    let staging = promote::fresh_staging(dir, name)?;
    let started = Instant::now();
    stage.run(config, &staging)?;
    let written = promote::promote(&staging, dir)?;
    let outputs = manifest::hash_all(&written, dir)?;
    if let Some(old) = &previous {
        promote::remove_outputs(dir, &old.outputs, &outputs)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let manifest = Manifest {
        stage: name.to_owned(),
        hexcover_version: env!("CARGO_PKG_VERSION").to_owned(),
        hexcover_build: manifest::build_id()?,
        parameters,
        inputs,
        outputs,
        metrics: stage.metrics(config)?,
        finished_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        seconds,
    };
    manifest::write(dir, &manifest)?;
    Ok(StageRun::new(stage, Status::Ran, seconds, Some(manifest)))
}

/// A spinner per stage on a terminal; structured log lines otherwise.
struct StageProgress {
    stage: Stage,
    bar: Option<ProgressBar>,
    label: String,
}

impl StageProgress {
    fn start(stage: Stage, index: usize, quiet: bool) -> Self {
        let label = format!("[{}/{}] {}", index + 1, STAGES.len(), stage.name());
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} — {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(label.clone());
            bar.set_message(stage.doing());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            tracing::info!(stage = stage.name(), "stage started");
        }
        Self { stage, bar, label }
    }

    fn done(&self, run: &StageRun) {
        let status = run.status.word();
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                eprintln!("{} {status} ({:.1} s)", self.label, run.seconds);
            }
            None => tracing::info!(
                stage = self.stage.name(),
                status,
                seconds = run.seconds,
                "stage finished"
            ),
        }
    }

    fn failed(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon_with_message("failed");
        }
    }
}
