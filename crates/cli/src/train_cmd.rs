//! `hexcover train`: measured links → features over the DEM → the learned
//! model (JSON), with its blocked-CV metrics recorded.

use std::path::Path;

use anyhow::{Context, Result, bail};
use hexcover_propagation::{
    EvalSample, Evaluation, LEARNED_MODEL_SLUG, LearnedModel, LinkSample, PHYSICS_MODEL_SLUGS,
    blocked_folds, cross_validate,
};

use crate::args::TrainArgs;
use crate::links_input::{
    Radio, ingest_links, learned_params, measured, open_dem, rejects_path, write_rejects,
};
use crate::progress::Bar;

pub fn run(args: &TrainArgs) -> Result<()> {
    // Settings first: every flag is checked before any file is read.
    let radio = Radio::from_args(&args.radio, Radio::DEFAULT)?;
    let params = learned_params(&args.gbm, args.block_res)?;
    if args.cv_folds == 1 || args.cv_folds > 50 {
        bail!(
            "--cv-folds = {}: expected 0 (skip) or 2 to 50",
            args.cv_folds
        );
    }
    if args.cv_predictions.is_some() && args.cv_folds == 0 {
        bail!("--cv-predictions needs the cross-validation: --cv-folds 2 or more");
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
        if let Some(path) = &args.cv_predictions {
            write_cv_predictions(path, &data.samples, &fold, &eval)?;
        }
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
        println!("{}", choice_line(&model));
        if !cv_line.is_empty() {
            println!("{cv_line}");
        }
        println!("wrote {}", args.out.display());
    }
    Ok(())
}

/// Which candidate the inner CV chose, what its trees correct, and whether
/// the model is held to physics.
fn choice_line(model: &hexcover_propagation::LearnedModel) -> String {
    let held = if model.params.physics_monotone {
        "held to physics (monotone in distance, losses and clearances)"
    } else {
        "not held to physics (--no-physics-constraints)"
    };
    let sel = &model.selection;
    let choice = if sel.inner_rmse_db.is_empty() {
        "no candidate choice".to_owned()
    } else {
        let rmse: Vec<String> = sel
            .inner_rmse_db
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect();
        format!(
            "candidate {} of {} by inner CV (RMSE by place {} dB)",
            sel.chosen,
            rmse.len(),
            rmse.join(" / ")
        )
    };
    format!("{choice}: {}; {held}", model.params.describe())
}

/// The held-out predictions of every model, one row per training link:
/// device position, receiver, distance, measured RSSI, fold, then mean and
/// 80 % interval per model (`<slug>_pred_dbm`, `<slug>_p10_dbm`, `<slug>_p90_dbm`).
fn write_cv_predictions(
    path: &Path,
    samples: &[EvalSample],
    fold: &[usize],
    eval: &Evaluation,
) -> Result<()> {
    let slugs: Vec<&str> = PHYSICS_MODEL_SLUGS
        .iter()
        .copied()
        .chain(std::iter::once(LEARNED_MODEL_SLUG))
        .collect();
    if eval.heldout.len() != slugs.len() {
        bail!(
            "the evaluation has {} models, expected {}",
            eval.heldout.len(),
            slugs.len()
        );
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "device_lat",
        "device_lon",
        "receiver",
        "distance_m",
        "rssi_dbm",
        "fold",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for slug in &slugs {
        for column in ["pred", "p10", "p90"] {
            header.push(format!("{slug}_{column}_dbm"));
        }
    }
    out.write_record(&header)?;
    let dbm = |v: f64| format!("{v:.2}");
    for (i, (sample, f)) in samples.iter().zip(fold).enumerate() {
        let link = &sample.link;
        let mut row = vec![
            format!("{:.6}", link.device.lat),
            format!("{:.6}", link.device.lon),
            link.receiver.clone(),
            format!("{:.1}", link.features.distance_m()),
            dbm(link.rssi_dbm),
            f.to_string(),
        ];
        for model in &eval.heldout {
            let p = model.get(i).copied().unwrap_or_default();
            row.extend([dbm(p.mean_dbm), dbm(p.p10_dbm), dbm(p.p90_dbm)]);
        }
        out.write_record(&row)?;
    }
    let bytes = out.into_inner().context("writing the CV predictions")?;
    hexcover_export::write_atomically(path, |tmp| {
        std::fs::write(tmp, &bytes).map_err(|e| hexcover_export::Error::Io {
            path: tmp.to_owned(),
            source: e,
        })
    })?;
    Ok(())
}
