//! `hexcover evaluate`: every physics model and the learned model on
//! spatially blocked cross-validation and leave-one-receiver-out.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use hexcover_propagation::{
    EvalSample, Evaluation, HEX_WEIGHT_RES, LearnedParams, blocked_folds, cross_validate,
    receiver_folds,
};

use crate::args::EvaluateArgs;
use crate::links_input::{
    Radio, ingest_links, learned_params, measured, open_dem, rejects_path, write_rejects,
};
use crate::progress::Bar;

pub fn run(args: &EvaluateArgs) -> Result<()> {
    let radio = Radio::from_args(&args.radio, Radio::DEFAULT)?;
    let params = learned_params(&args.gbm, args.block_res)?;
    if !(2..=50).contains(&args.folds) {
        bail!("--folds = {}: expected 2 to 50", args.folds);
    }
    if args.extra_seeds.len() > 20 {
        bail!(
            "--extra-seeds: {} seeds, expected at most 20",
            args.extra_seeds.len()
        );
    }
    let res = h3o::Resolution::try_from(args.block_res)
        .map_err(|_| anyhow::anyhow!("--block-res = {}: expected 0 to 15", args.block_res))?;
    let out_kind = match &args.out {
        None => None,
        Some(p) => match p.extension().and_then(|e| e.to_str()) {
            Some("md") => Some(false),
            Some("json") => Some(true),
            _ => bail!("--out {}: expected a .md or .json file", p.display()),
        },
    };
    let bar = Bar::new(args.quiet);
    let ingested = ingest_links(&args.input, &bar)?;
    let rejects = match &args.out {
        Some(out) => rejects_path(&args.input, out),
        None => args
            .input
            .rejects
            .clone()
            .unwrap_or_else(|| "evaluate.rejects.csv".into()),
    };
    write_rejects(&ingested, &rejects)?;
    let dem = open_dem(&args.radio.dem)?;
    let data = measured(&ingested, &dem, &radio, &bar);
    if data.samples.len() < 2 {
        bail!("fewer than two links with an RSSI and a terrain path to evaluate on");
    }
    let devices: Vec<_> = data.samples.iter().map(|s| s.link.device).collect();
    let (fold, blocks) = blocked_folds(&devices, res, args.folds)?;
    let used_folds = fold.iter().max().map_or(0, |m| m + 1);
    if used_folds < 2 {
        bail!(
            "the links fall in one res-{} block: no spatial folds",
            args.block_res
        );
    }
    let scheme = format!(
        "blocked CV: {used_folds} folds of H3 res-{} blocks ({blocks} blocks)",
        args.block_res
    );
    bar.stage(&scheme);
    let mut evaluations: Vec<Evaluation> = vec![with_seeds(
        &data.samples,
        &fold,
        &scheme,
        &params,
        &args.extra_seeds,
    )?];
    if !args.no_loro {
        let names: Vec<&str> = data
            .samples
            .iter()
            .map(|s| s.link.receiver.as_str())
            .collect();
        let (fold, ids) = receiver_folds(&names);
        if ids.len() >= 2 {
            let scheme = format!(
                "leave-one-receiver-out: {} receivers (folds in this order: {})",
                ids.len(),
                ids.join(", ")
            );
            bar.stage(&scheme);
            evaluations.push(with_seeds(
                &data.samples,
                &fold,
                &scheme,
                &params,
                &args.extra_seeds,
            )?);
        }
    }
    bar.done();
    let header = format!(
        "rows read {}, rejected by ingest {} (→ {}), without RSSI {}, without terrain path {}, evaluated {}; \
         radio: device {} m, receiver {} m, {} MHz where the links say nothing; profile step {} m",
        ingested.summary.rows_read,
        ingested.summary.rejected,
        rejects.display(),
        data.without_rssi,
        data.without_path,
        data.samples.len(),
        radio.device_height_m,
        radio.rx_height_m,
        radio.freq_mhz,
        radio.profile_step_m
    );
    let table = markdown(&evaluations, &header);
    match (&args.out, out_kind) {
        (Some(path), Some(json)) => {
            let text = if json {
                serde_json::to_string_pretty(&serde_json::json!({
                    "summary": header,
                    "evaluations": evaluations,
                }))? + "\n"
            } else {
                table.clone()
            };
            hexcover_export::write_atomically(path, |tmp| {
                std::fs::write(tmp, &text).map_err(|e| hexcover_export::Error::Io {
                    path: tmp.to_owned(),
                    source: e,
                })
            })?;
            if !args.quiet {
                print!("{table}");
                println!("wrote {}", path.display());
            }
        }
        _ => print!("{table}"),
    }
    Ok(())
}

/// One scheme's evaluation, with a learned-model row for each of
/// `extra_seeds` after the one of `params` (the physics models do not
/// depend on the seed).
fn with_seeds(
    samples: &[EvalSample],
    fold_of: &[usize],
    scheme: &str,
    params: &LearnedParams,
    extra_seeds: &[u64],
) -> Result<Evaluation> {
    let mut evaluation = cross_validate(samples, fold_of, scheme, params, |_, _| {})?;
    if !extra_seeds.is_empty()
        && let (Some(score), Ok(gbm)) = (
            evaluation.scores.last_mut(),
            hexcover_propagation::linfa::ParamGuard::check_ref(&params.gbm),
        )
    {
        score.model = format!("{}, seed {}", score.model, gbm.seed);
    }
    for &seed in extra_seeds {
        let reseeded = params.gbm(params.gbm.seed(seed));
        let other = cross_validate(samples, fold_of, scheme, &reseeded, |_, _| {})?;
        if let (Some(mut score), Some(heldout)) =
            (other.scores.last().cloned(), other.heldout.last().cloned())
        {
            score.model = format!("{}, seed {seed}", score.model);
            evaluation.scores.push(score);
            evaluation.heldout.push(heldout);
        }
    }
    Ok(evaluation)
}

/// The evaluations as Markdown tables.
pub fn markdown(evaluations: &[Evaluation], header: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{header}\n");
    for e in evaluations {
        let sizes: Vec<String> = e.fold_rows.iter().map(usize::to_string).collect();
        let _ = writeln!(s, "### {}\n", e.scheme);
        let _ = writeln!(s, "Held-out rows per fold: {}\n", sizes.join(", "));
        if e.learned_candidate.iter().any(Option::is_some) {
            let chosen: Vec<String> = e
                .learned_candidate
                .iter()
                .map(|c| c.map_or_else(|| "–".to_owned(), |c| c.to_string()))
                .collect();
            let legend: Vec<String> = e
                .candidates
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{i}: {c}"))
                .collect();
            let _ = writeln!(
                s,
                "Learned model's candidate per fold, chosen by its inner CV on the training rows \
                 ({}): {}\n",
                legend.join("; "),
                chosen.join(" / ")
            );
        }
        let res = u8::from(HEX_WEIGHT_RES);
        let _ = writeln!(
            s,
            "| model | RMSE dB | RMSE dB, res-{res} hex-weighted | MAE dB | bias dB | inside 80 % interval (rows) | inside 80 % interval (res-{res} hexes) | rows in validity range | RMSE dB per fold |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for sc in &e.scores {
            let folds: Vec<String> = sc.fold_rmse_db.iter().map(|v| format!("{v:.1}")).collect();
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.2} | {:.2} | {:+.2} | {:.1} % | {:.1} % | {:.0} % | {} |",
                sc.model,
                sc.rmse_db,
                sc.rmse_hex_db,
                sc.mae_db,
                sc.bias_db,
                100.0 * sc.interval_80_share,
                100.0 * sc.interval_80_share_hex,
                100.0 * sc.in_validity_share,
                folds.join(" / ")
            );
        }
        let _ = writeln!(s);
    }
    s
}
