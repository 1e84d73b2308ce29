//! `hexcover optimize`: planar placement (classic MCLP instances and any
//! projected demand/candidate tables) with a fixed coverage radius.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hexcover_optimizer::{
    Bound, Constraints, Objective, OptimizeParams, Problem, SiteSpec, Solution, SuggestedSite,
    optimize, radius_coverage,
};

use crate::args::OptimizeArgs;
use crate::csv_table::CsvTable;

/// Rows of an id,x,y[,value] table.
struct Points {
    ids: Vec<String>,
    xy: Vec<[f64; 2]>,
    values: Vec<f64>,
}

/// Reads `id,x,y` and the optional `value_column` (default `default_value`);
/// other columns are ignored. Errors name the file, line and column.
fn read_points(path: &Path, value_column: Option<&str>, default_value: f64) -> Result<Points> {
    let mut table = CsvTable::open(path)?;
    let needs = "id,x,y in projected metres";
    let (id_col, x_col, y_col) = (
        table.required("id", needs)?,
        table.required("x", needs)?,
        table.required("y", needs)?,
    );
    let value_col = value_column.and_then(|c| table.column(c));
    let field = value_column.unwrap_or("value");
    let mut points = Points {
        ids: Vec::new(),
        xy: Vec::new(),
        values: Vec::new(),
    };
    for row in table.rows()? {
        points
            .xy
            .push([row.number(x_col, "x")?, row.number(y_col, "y")?]);
        points
            .values
            .push(row.number_or(value_col, field, default_value)?);
        points.ids.push(row.non_empty(id_col, "id")?);
    }
    Ok(points)
}

/// The objective the flags ask for.
pub fn objective(args: &OptimizeArgs) -> Objective {
    match args.k {
        Some(k) => Objective::KCoverage {
            k,
            min_probability: 1.0,
        },
        None => Objective::ExpectedCoverage,
    }
}

pub fn run(args: &OptimizeArgs) -> Result<()> {
    if let Some(study) = &args.study {
        return crate::optimize_geo::run(args, study);
    }
    let started = Instant::now();
    let (Some(demand_path), Some(candidates_path), Some(radius_m)) =
        (&args.demand, &args.candidates, args.radius_m)
    else {
        bail!(
            "planar mode needs --demand, --candidates and --radius-m (or --study and --dem for geographic mode)"
        );
    };
    if args.dem.is_some() || args.model.is_some() || args.hex_density {
        bail!("--dem, --model and --hex-density are for geographic mode, which needs --study");
    }
    let demand = read_points(demand_path, Some("weight"), 1.0)?;
    let candidates = read_points(candidates_path, Some("cost"), 1.0)?;
    let existing = args
        .existing
        .as_deref()
        .map(|p| read_points(p, None, 0.0))
        .transpose()?;
    for id in &args.lock {
        if !candidates.ids.contains(id) {
            bail!(
                "--lock: `{id}` is not a candidate id in {}",
                candidates_path.display()
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
    let coverage = radius_coverage(&demand.xy, &site_xy, radius_m)?;
    let t_read = started.elapsed().as_secs_f64();
    let problem = Problem::new(demand.ids, demand.values, sites, coverage)
        .with_context(|| format!("{} / {}", demand_path.display(), candidates_path.display()))?;

    let objective = objective(args);
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
    write_json(&summary_path, &summary)?;
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
    let header = [
        "id",
        "rank",
        "x",
        "y",
        "marginal_gain",
        "removal_loss",
        "demand_added",
        "bound_by",
    ];
    let rows = solution.sites.iter().map(|site| {
        let spec = &problem.sites()[site.site];
        vec![
            spec.id.clone(),
            site.rank.to_string(),
            spec.x_m.to_string(),
            spec.y_m.to_string(),
            format!("{:.6}", site.marginal_gain),
            format!("{:.6}", site.removal_loss),
            site.demand_added.len().to_string(),
            bound_by(site),
        ]
    });
    write_csv(path, &header, rows)
}

/// The rules that bound a site, `;`-separated (the CSV column).
pub fn bound_by(site: &SuggestedSite) -> String {
    let names: Vec<&str> = site.bound_by.iter().map(|k| k.name()).collect();
    names.join(";")
}

/// Writes `header` and `rows` as CSV, atomically.
pub fn write_csv(
    path: &Path,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<()> {
    hexcover_export::write_atomically(path, |tmp| {
        let io = |e: csv::Error| hexcover_export::Error::io(tmp, std::io::Error::other(e));
        let mut writer = csv::Writer::from_path(tmp).map_err(io)?;
        writer.write_record(header).map_err(io)?;
        for row in rows {
            writer.write_record(&row).map_err(io)?;
        }
        writer
            .flush()
            .map_err(|e| hexcover_export::Error::io(tmp, e))
    })?;
    Ok(())
}

/// Writes a summary as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    hexcover_export::write_atomically(path, |tmp| {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        std::fs::write(tmp, text + "\n").map_err(|e| hexcover_export::Error::io(tmp, e))
    })?;
    Ok(())
}

/// Each chosen site with its explanation: what it adds, the demand points
/// (ids) it adds them at, its reward scale and the rules that bound it.
pub fn sites_json(problem: &Problem, solution: &Solution) -> serde_json::Value {
    solution
        .sites
        .iter()
        .map(|site| {
            serde_json::json!({
                "id": problem.sites()[site.site].id,
                "rank": site.rank,
                "marginal_gain": site.marginal_gain,
                "removal_loss": site.removal_loss,
                "reward_scale": site.reward_scale,
                "bound_by": site.bound_by.iter().map(|k| k.name()).collect::<Vec<_>>(),
                "demand_added": site
                    .demand_added
                    .iter()
                    .map(|&i| &problem.demand_ids()[i as usize])
                    .collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The bound as the summaries write it.
pub fn bound_json(bound: &Bound) -> serde_json::Value {
    match bound {
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
    }
}

fn summary_json(
    args: &OptimizeArgs,
    problem: &Problem,
    solution: &Solution,
    t_read_s: f64,
    t_total_s: f64,
) -> serde_json::Value {
    let bound = bound_json(&solution.bound);
    serde_json::json!({
        "mode": "planar",
        "demand": args.demand.as_ref().map(|p| p.display().to_string()),
        "candidates": args.candidates.as_ref().map(|p| p.display().to_string()),
        "n_demand": problem.weights().len(),
        "n_sites": problem.sites().len(),
        "coverage_nnz": problem.coverage().nnz(),
        "total_weight": problem.total_weight(),
        "radius_m": args.radius_m,
        "sites_requested": args.sites,
        "locked": args.lock,
        "sites_chosen": solution.sites.iter().map(|s| &problem.sites()[s.site].id).collect::<Vec<_>>(),
        "sites": sites_json(problem, solution),
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
