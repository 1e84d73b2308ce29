//! `hexcover predict`: a trained model's RSSI, 80 % interval and p_covered
//! for every accepted input link.

use anyhow::{Context, Result, bail};

use crate::args::PredictArgs;
use crate::links_input::{
    Radio, ingest_links, link_features, open_dem, receiver_id, rejects_path, write_rejects,
};
use crate::progress::Bar;

pub fn run(args: &PredictArgs) -> Result<()> {
    if !(args.sensitivity_dbm.is_finite() && (-200.0..=0.0).contains(&args.sensitivity_dbm)) {
        bail!(
            "--sensitivity-dbm = {}: expected -200 to 0 dBm",
            args.sensitivity_dbm
        );
    }
    let model = crate::links_input::load_model(&args.model)?;
    // The radio assumptions the model was trained with, unless overridden.
    let defaults = Radio::from_metadata(&model.metadata).unwrap_or(Radio::DEFAULT);
    let radio = Radio::from_args(&args.radio, defaults)?;
    let bar = Bar::new(args.quiet);
    let ingested = ingest_links(&args.input, &bar)?;
    let rejects = rejects_path(&args.input, &args.out);
    write_rejects(&ingested, &rejects)?;
    let dem = open_dem(&args.radio.dem)?;
    bar.stage("predicting");
    let links = &ingested.links;
    let mut unpredictable = 0usize;
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "input",
        "input_row",
        "receiver",
        "rssi_dbm",
        "rssi_pred_dbm",
        "rssi_p10_dbm",
        "rssi_p90_dbm",
        "p_covered",
        "problem",
    ])?;
    let fmt = |v: f64| format!("{v:.2}");
    for i in 0..links.len() {
        let link = links.get(i);
        let input = &links.inputs[usize::from(links.input_index[i])];
        let row = links.input_row[i].to_string();
        let receiver = receiver_id(&link);
        let measured = link.rssi_dbm.map(fmt).unwrap_or_default();
        match link_features(&dem, &link, &radio, false) {
            Some((features, _)) => {
                let p = model.predict_link(&features, Some(&receiver));
                out.write_record([
                    input.as_str(),
                    &row,
                    &receiver,
                    &measured,
                    &fmt(p.mean_dbm),
                    &fmt(p.p10_dbm),
                    &fmt(p.p90_dbm),
                    &format!("{:.4}", p.p_at_least(args.sensitivity_dbm)),
                    "",
                ])?;
            }
            None => {
                unpredictable += 1;
                out.write_record([
                    input.as_str(),
                    &row,
                    &receiver,
                    &measured,
                    "",
                    "",
                    "",
                    "",
                    "no terrain path (DEM has no elevation along it, or device and receiver coincide)",
                ])?;
            }
        }
    }
    let bytes = out.into_inner().context("writing the predictions")?;
    hexcover_export::write_atomically(&args.out, |tmp| {
        std::fs::write(tmp, &bytes).map_err(|e| hexcover_export::Error::Io {
            path: tmp.to_owned(),
            source: e,
        })
    })?;
    bar.done();
    if !args.quiet {
        println!("hexcover predict");
        println!(
            "rows read {}  rejected by ingest {} (→ {})  predicted {}  without terrain path {}",
            ingested.summary.rows_read,
            ingested.summary.rejected,
            rejects.display(),
            links.len() - unpredictable,
            unpredictable
        );
        println!("wrote {}", args.out.display());
    }
    Ok(())
}
