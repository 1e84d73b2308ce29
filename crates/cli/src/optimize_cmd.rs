//! `hexcover optimize`: planar placement (classic MCLP instances and any
//! projected demand/candidate tables) with a fixed coverage radius.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hexcover_optimizer::{
    Bound, Constraints, Objective, OptimizeParams, Problem, SiteSpec, Solution, optimize,
    radius_coverage,
};

use crate::args::OptimizeArgs;

/// Rows of an id,x,y[,value] table.
struct Points {
    ids: Vec<String>,
    xy: Vec<[f64; 2]>,
    values: Vec<f64>,
}

/// Reads `id,x,y` and the optional `value_column` (default `default_value`);
/// other columns are ignored. Errors name the file, line and column.
fn read_points(path: &Path, value_column: Option<&str>, default_value: f64) -> Result<Points> {
    let name = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("{name}: cannot open"))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{name}: cannot read the header"))?
        .clone();
    let column = |wanted: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(wanted));
    let required = |wanted: &str| {
        column(wanted).with_context(|| {
            format!(
                "{name}: no `{wanted}` column (found: {})",
                headers.iter().collect::<Vec<_>>().join(",")
            )
        })
    };
    let (id_col, x_col, y_col) = (required("id")?, required("x")?, required("y")?);
    let value_col = value_column.and_then(column);
    let mut points = Points {
        ids: Vec::new(),
        xy: Vec::new(),
        values: Vec::new(),
    };
    for record in reader.records() {
        let record = record.with_context(|| format!("{name}: malformed CSV"))?;
        let line = record.position().map_or(0, csv::Position::line);
        let number = |col: usize, field: &str| -> Result<f64> {
            let text = record.get(col).unwrap_or("");
            let value: f64 = text.parse().map_err(|_| {
                anyhow::anyhow!("{name}:{line}: field `{field}`: `{text}` is not a number")
            })?;
            if !value.is_finite() {
                bail!("{name}:{line}: field `{field}`: `{text}` is not a finite number");
            }
            Ok(value)
        };
        let id = record.get(id_col).unwrap_or("").to_string();
        if id.is_empty() {
            bail!("{name}:{line}: field `id` is empty");
        }
        points.xy.push([number(x_col, "x")?, number(y_col, "y")?]);
        let value = match (value_col, value_column) {
            (Some(col), Some(field)) if !record.get(col).unwrap_or("").is_empty() => {
                number(col, field)?
            }
            _ => default_value,
        };
        points.values.push(value);
        points.ids.push(id);
    }
    if points.ids.is_empty() {
        bail!("{name}: no rows");
    }
    Ok(points)
}

pub fn run(args: &OptimizeArgs) -> Result<()> {
    let started = Instant::now();
    let demand = read_points(&args.demand, Some("weight"), 1.0)?;
    let candidates = read_points(&args.candidates, Some("cost"), 1.0)?;
    let existing = args
        .existing
        .as_deref()
        .map(|p| read_points(p, None, 0.0))
        .transpose()?;
    for id in &args.lock {
        if !candidates.ids.contains(id) {
            bail!(
                "--lock: `{id}` is not a candidate id in {}",
                args.candidates.display()
            );
        }
    }

    let mut sites: Vec<SiteSpec> = candidates
        .ids
        .iter()
        .zip(&candidates.xy)
        .zip(&candidates.values)
        .map(|((id, &[x, y]), &cost)| {
            let mut site = SiteSpec::candidate(id.clone(), x, y);
            site.cost = cost;
            if args.lock.contains(id) {
                site.locked = true;
                site.cost = 0.0;
            }
            site
        })
        .collect();
    let mut site_xy = candidates.xy.clone();
    if let Some(existing) = &existing {
        for (id, &[x, y]) in existing.ids.iter().zip(&existing.xy) {
            sites.push(SiteSpec::existing(id.clone(), x, y));
            site_xy.push([x, y]);
        }
    }
    let coverage = radius_coverage(&demand.xy, &site_xy, args.radius_m)?;
    let t_read = started.elapsed().as_secs_f64();
    let problem = Problem::new(demand.ids, demand.values, sites, coverage)
        .with_context(|| format!("{} / {}", args.demand.display(), args.candidates.display()))?;

    let objective = match args.k {
        Some(k) => Objective::KCoverage {
            k,
            min_probability: 1.0,
        },
        None => Objective::ExpectedCoverage,
    };
    let constraints = Constraints {
        budget: args.budget,
        min_spacing_m: args.min_spacing_m,
        max_distance_to_existing_m: args.max_distance_m,
        ..Constraints::default()
    };
    if args.max_distance_m.is_some() && existing.is_none() {
        bail!("--max-distance-m needs --existing (the distance is to the nearest existing site)");
    }
    let params = OptimizeParams::new(args.sites)
        .objective(objective)
        .constraints(constraints)
        .seed(args.seed)
        .anneal_iterations(args.anneal_iterations)
        .bound_iterations(args.bound_iterations);
    let solution = optimize(&problem, &params)?;

    write_selection(&args.out, &problem, &solution)?;
    let summary_path = args.out.with_extension("summary.json");
    let summary = summary_json(
        args,
        &problem,
        &solution,
        t_read,
        started.elapsed().as_secs_f64(),
    );
    hexcover_export::write_atomically(&summary_path, |tmp| {
        let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
        std::fs::write(tmp, text + "\n").map_err(|e| hexcover_export::Error::io(tmp, e))
    })?;
    if !args.quiet {
        eprintln!(
            "{} sites chosen; objective {:.4} of {:.4} total weight{}",
            solution.sites.len(),
            solution.objective,
            problem.total_weight(),
            match &solution.bound {
                Bound::Proven { upper, gap, .. } =>
                    format!("; upper bound {upper:.4}, gap {:.3} %", gap * 100.0),
                Bound::None { reason } => format!("; no proven bound ({reason})"),
            }
        );
        if let Some(shortfall) = &solution.shortfall {
            eprintln!("fewer sites than asked: {shortfall}");
        }
        eprintln!(
            "wrote {} and {}",
            args.out.display(),
            summary_path.display()
        );
    }
    Ok(())
}

fn write_selection(path: &Path, problem: &Problem, solution: &Solution) -> Result<()> {
    hexcover_export::write_atomically(path, |tmp| {
        let io = |e: csv::Error| hexcover_export::Error::io(tmp, std::io::Error::other(e));
        let mut writer = csv::Writer::from_path(tmp).map_err(io)?;
        writer
            .write_record([
                "id",
                "rank",
                "x",
                "y",
                "marginal_gain",
                "removal_loss",
                "demand_added",
                "bound_by",
            ])
            .map_err(io)?;
        for site in &solution.sites {
            let spec = &problem.sites()[site.site];
            let bound_by: Vec<&str> = site.bound_by.iter().map(|k| k.name()).collect();
            writer
                .write_record([
                    spec.id.clone(),
                    site.rank.to_string(),
                    spec.x_m.to_string(),
                    spec.y_m.to_string(),
                    format!("{:.6}", site.marginal_gain),
                    format!("{:.6}", site.removal_loss),
                    site.demand_added.len().to_string(),
                    bound_by.join(";"),
                ])
                .map_err(io)?;
        }
        writer
            .flush()
            .map_err(|e| hexcover_export::Error::io(tmp, e))
    })?;
    Ok(())
}

fn summary_json(
    args: &OptimizeArgs,
    problem: &Problem,
    solution: &Solution,
    t_read_s: f64,
    t_total_s: f64,
) -> serde_json::Value {
    let bound = match &solution.bound {
        Bound::Proven {
            upper,
            gap,
            method,
            online,
            lagrangian,
            iterations,
            relaxes,
        } => serde_json::json!({
            "proven": true,
            "upper": upper,
            "gap": gap,
            "method": method,
            "online": online,
            "lagrangian": lagrangian,
            "iterations": iterations,
            "relaxes": relaxes.iter().map(|k| k.name()).collect::<Vec<_>>(),
        }),
        Bound::None { reason } => serde_json::json!({ "proven": false, "reason": reason }),
    };
    serde_json::json!({
        "demand": args.demand.display().to_string(),
        "candidates": args.candidates.display().to_string(),
        "n_demand": problem.weights().len(),
        "n_sites": problem.sites().len(),
        "coverage_nnz": problem.coverage().nnz(),
        "total_weight": problem.total_weight(),
        "radius_m": args.radius_m,
        "sites_requested": args.sites,
        "sites_chosen": solution.sites.iter().map(|s| &problem.sites()[s.site].id).collect::<Vec<_>>(),
        "objective": solution.objective,
        "base_objective": solution.base_objective,
        "greedy_objective": solution.greedy_objective,
        "bound": bound,
        "shortfall": solution.shortfall,
        "seed": args.seed,
        "local_search_moves": solution.local_search_moves,
        "gain_evaluations": solution.evaluations,
        "timings_s": {
            "read_and_coverage": t_read_s,
            "greedy": solution.timings.greedy_s,
            "local_search": solution.timings.local_search_s,
            "anneal": solution.timings.anneal_s,
            "bound": solution.timings.bound_s,
            "total": t_total_s,
        },
    })
}
