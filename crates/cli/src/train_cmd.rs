//! `hexcover train`: measured links → features over the DEM → the learned
//! model (JSON), with its blocked-CV metrics recorded.

use anyhow::{Context, Result, bail};
use hexcover_propagation::{LearnedModel, LinkSample, blocked_folds, cross_validate};

use crate::args::TrainArgs;
use crate::links_input::{
    Radio, ingest_links, learned_params, measured, open_dem, rejects_path, write_rejects,
};
use crate::progress::Bar;

pub fn run(args: &TrainArgs) -> Result<()> {
    // Settings first: every flag is checked before any file is read.
    let radio = Radio::from_args(&args.radio, Radio::DEFAULT)?;
    let params = learned_params(
        args.gbm.trees,
        args.gbm.depth,
        args.gbm.learning_rate,
        args.gbm.seed,
        args.block_res,
    )?;
    if args.cv_folds == 1 || args.cv_folds > 50 {
        bail!(
            "--cv-folds = {}: expected 0 (skip) or 2 to 50",
            args.cv_folds
        );
    }
    let bar = Bar::new(args.quiet);
    let ingested = ingest_links(&args.input, &bar)?;
    let rejects = rejects_path(&args.input, &args.out);
    write_rejects(&ingested, &rejects)?;
    let dem = open_dem(&args.radio.dem)?;
    let data = measured(&ingested, &dem, &radio, &bar);
    if data.samples.is_empty() {
        bail!("no link with an RSSI and a terrain path to train on");
    }
    let links: Vec<LinkSample> = data.samples.iter().map(|s| s.link.clone()).collect();
    bar.stage("training");
    let mut model: LearnedModel = params.fit(&links).context("training the model")?;

    let mut cv_line = String::new();
    if args.cv_folds > 0 {
        bar.stage("blocked cross-validation");
        let devices: Vec<_> = links.iter().map(|l| l.device).collect();
        let res = h3o::Resolution::try_from(args.block_res)?;
        let (fold, blocks) = blocked_folds(&devices, res, args.cv_folds)?;
        let scheme = format!(
            "blocked CV, {} folds of res-{} blocks ({blocks} blocks)",
            args.cv_folds, args.block_res
        );
        let eval = cross_validate(&data.samples, &fold, &scheme, &params, |_, _| {})?;
        if let Some(learned) = eval.scores.last() {
            cv_line = format!(
                "blocked CV: RMSE {:.2} dB (hex-weighted {:.2}), MAE {:.2}, bias {:+.2}, inside 80 % interval {:.1} %",
                learned.rmse_db,
                learned.rmse_hex_db,
                learned.mae_db,
                learned.bias_db,
                100.0 * learned.interval_80_share
            );
        }
        model
            .metadata
            .insert("cv".into(), serde_json::to_string(&eval)?);
    }
    for (k, v) in radio.metadata() {
        model.metadata.insert(k.into(), v);
    }
    let inputs: Vec<String> = args
        .input
        .links
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    model.metadata.insert("inputs".into(), inputs.join(" "));
    if let Some(g) = &args.input.gateways {
        model
            .metadata
            .insert("gateways".into(), g.display().to_string());
    }
    model
        .metadata
        .insert("dem".into(), args.radio.dem.display().to_string());
    model.metadata.insert(
        "rows".into(),
        format!(
            "{} read, {} rejected by ingest, {} without RSSI, {} without a terrain path, {} trained on",
            ingested.summary.rows_read,
            ingested.summary.rejected,
            data.without_rssi,
            data.without_path,
            links.len()
        ),
    );
    let json = serde_json::to_string_pretty(&model)? + "\n";
    hexcover_export::write_atomically(&args.out, |tmp| {
        std::fs::write(tmp, &json).map_err(|e| hexcover_export::Error::Io {
            path: tmp.to_owned(),
            source: e,
        })
    })?;
    bar.done();
    if !args.quiet {
        println!("hexcover train");
        println!(
            "rows read {}  rejected by ingest {} (→ {})  without RSSI {}  without terrain path {}  trained on {}",
            ingested.summary.rows_read,
            ingested.summary.rejected,
            rejects.display(),
            data.without_rssi,
            data.without_path,
            links.len()
        );
        println!(
            "receivers {}  trees {} × depth {}  data hash {}",
            model.receiver_offsets_db.len(),
            model.gbm.n_trees(),
            model.gbm.depth,
            model.training_data_fnv1a64
        );
        if !cv_line.is_empty() {
            println!("{cv_line}");
        }
        println!("wrote {}", args.out.display());
    }
    Ok(())
}
