//! The broken-input corpus: every case of `tests/data/broken/cases.csv` run
//! through `hexcover ingest`.
//!
//! A case either must fail as a whole (`error`: a non-zero exit and one line
//! `hexcover: error: ...` naming the file and, where known, line and field)
//! or must succeed with exactly the accepted rows and rejects per reason it
//! lists (`rejects`), the summary balanced and `rejects.csv` holding every
//! rejected row. All cases run; the failures are reported together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The reason codes a reject may carry (`RejectReason::code`).
const REASONS: [&str; 16] = [
    "missing_field",
    "non_numeric",
    "wrong_field_count",
    "malformed_record",
    "value_out_of_range",
    "tx_position_out_of_range",
    "rx_position_out_of_range",
    "no_gps_fix",
    "rssi_out_of_range",
    "snr_out_of_range",
    "tx_without_position",
    "rx_without_position",
    "distance_over_100km",
    "duplicate_witness",
    "duplicate_frame",
    "site_without_position",
];

const ERROR_PREFIX: &str = "hexcover: error: ";
const CORPUS: &str = "tests/data/broken";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What a case must give.
enum Expect {
    /// Substrings that must all appear in the one error line.
    Error(Vec<String>),
    /// The exact accepted count and rejects per reason.
    Rejects {
        accepted: u64,
        by_reason: BTreeMap<String, u64>,
    },
}

struct Case {
    /// Line in cases.csv.
    line: usize,
    name: String,
    args: Vec<String>,
    expect: Expect,
}

/// Parse the manifest: `name,args,expect,want`, no quoting (args are
/// space-separated and hold no commas).
fn read_cases(text: &str) -> Result<Vec<Case>, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim() == "name,args,expect,want" => {}
        other => return Err(format!("cases.csv: bad header {other:?}")),
    }
    let mut cases = Vec::new();
    let mut names = BTreeSet::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.trim_end().split(',').collect();
        let [name, args, expect, want] = fields[..] else {
            return Err(format!(
                "cases.csv:{line_no}: {} fields, need name,args,expect,want",
                fields.len()
            ));
        };
        if !names.insert(name.to_owned()) {
            return Err(format!("cases.csv:{line_no}: case name {name} used twice"));
        }
        let expect = match expect {
            "error" => {
                let wants: Vec<String> = want
                    .split('|')
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect();
                if wants.is_empty() {
                    return Err(format!("cases.csv:{line_no}: an error case needs a want"));
                }
                Expect::Error(wants)
            }
            "rejects" => {
                parse_rejects_want(want).map_err(|e| format!("cases.csv:{line_no}: {e}"))?
            }
            other => {
                return Err(format!(
                    "cases.csv:{line_no}: expect is {other:?}, not error or rejects"
                ));
            }
        };
        cases.push(Case {
            line: line_no,
            name: name.to_owned(),
            args: args.split_whitespace().map(str::to_owned).collect(),
            expect,
        });
    }
    Ok(cases)
}

/// `accepted=N;reason=N;...` with every reason a known code.
fn parse_rejects_want(want: &str) -> Result<Expect, String> {
    let mut accepted = None;
    let mut by_reason = BTreeMap::new();
    for item in want.split(';').filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("{item:?} is not key=N"));
        };
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{item:?}: {value:?} is not a count"))?;
        if key == "accepted" {
            accepted = Some(n);
        } else if !REASONS.contains(&key) {
            return Err(format!("{key:?} is not a reject reason code"));
        } else if by_reason.insert(key.to_owned(), n).is_some() {
            return Err(format!("{key} listed twice"));
        } else if n == 0 {
            return Err(format!("{key}=0: list only reasons that occur"));
        }
    }
    let accepted = accepted.ok_or("accepted=N missing")?;
    Ok(Expect::Rejects {
        accepted,
        by_reason,
    })
}

/// Split CSV text into records of fields, honouring quotes (a quoted field
/// may hold commas, doubled quotes and line ends).
fn csv_records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err("unclosed quote at the end".to_owned());
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// An error line's causes, each joined by `: `, must not repeat: a cause
/// printed twice (`X: Y: X: Y`) means an error displays its source and the
/// chain prints the source again.
fn repeated_cause(message: &str) -> Option<String> {
    let parts: Vec<&str> = message.split(": ").collect();
    for len in 1..=parts.len() / 2 {
        for start in 0..=parts.len() - 2 * len {
            if parts[start..start + len] == parts[start + len..start + 2 * len] {
                return Some(parts[start..start + len].join(": "));
            }
        }
    }
    None
}

fn u64_at(value: &serde_json::Value, key: &str) -> Result<u64, String> {
    value[key]
        .as_u64()
        .ok_or_else(|| format!("summary.json: `{key}` is not a count: {}", value[key]))
}

fn reasons_at(value: &serde_json::Value) -> Result<BTreeMap<String, u64>, String> {
    let Some(map) = value["rejected_by_reason"].as_object() else {
        return Err(format!(
            "summary.json: `rejected_by_reason` is not an object: {}",
            value["rejected_by_reason"]
        ));
    };
    map.iter()
        .map(|(k, v)| {
            v.as_u64()
                .map(|n| (k.clone(), n))
                .ok_or_else(|| format!("summary.json: rejected_by_reason.{k} = {v}"))
        })
        .collect()
}

fn check_error(output: &Output, wants: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    if output.status.success() {
        problems.push("exit status 0, expected a failure".to_owned());
    } else if output.status.code().is_none() {
        problems.push(format!("killed by a signal ({})", output.status));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    match lines[..] {
        [line] if line.starts_with(ERROR_PREFIX) && line.len() > ERROR_PREFIX.len() => {
            for want in wants {
                if !line.contains(want.as_str()) {
                    problems.push(format!("stderr lacks {want:?}"));
                }
            }
            if let Some(cause) = repeated_cause(&line[ERROR_PREFIX.len()..]) {
                problems.push(format!("stderr repeats the cause {cause:?}"));
            }
        }
        _ => problems.push(format!(
            "stderr is {} line(s), expected exactly one starting {ERROR_PREFIX:?}",
            lines.len()
        )),
    }
    problems
}

fn check_rejects(
    output: &Output,
    out: &Path,
    accepted: u64,
    by_reason: &BTreeMap<String, u64>,
) -> Result<(), String> {
    if !output.status.success() {
        return Err(format!("{}, expected success", output.status));
    }
    let text = std::fs::read_to_string(out.join("summary.json"))
        .map_err(|e| format!("summary.json: {e}"))?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("summary.json: {e}"))?;
    let mut problems = Vec::new();
    let rows_read = u64_at(&summary, "rows_read")?;
    let got_accepted = u64_at(&summary, "accepted")?;
    let rejected = u64_at(&summary, "rejected")?;
    let got_reasons = reasons_at(&summary)?;
    if rows_read != got_accepted + rejected {
        problems.push(format!(
            "rows_read {rows_read} != accepted {got_accepted} + rejected {rejected}"
        ));
    }
    if summary["balanced"] != serde_json::Value::Bool(true) {
        problems.push(format!("balanced is {}", summary["balanced"]));
    }
    if got_accepted != accepted {
        problems.push(format!("accepted {got_accepted}, want {accepted}"));
    }
    if got_reasons != *by_reason {
        problems.push(format!(
            "rejected_by_reason {got_reasons:?}, want {by_reason:?}"
        ));
    }
    if got_reasons.values().sum::<u64>() != rejected {
        problems.push(format!(
            "rejected {rejected} != sum of rejected_by_reason {got_reasons:?}"
        ));
    }

    // rejects.csv holds the inputs' rejects and those of the --gateways list
    // (which the summary accounts for separately).
    let mut file_reasons = got_reasons;
    let mut file_rejected = rejected;
    if !summary["gateways"].is_null() {
        file_rejected += u64_at(&summary["gateways"], "rejected")?;
        for (reason, n) in reasons_at(&summary["gateways"])? {
            *file_reasons.entry(reason).or_default() += n;
        }
    }
    let text = std::fs::read_to_string(out.join("rejects.csv"))
        .map_err(|e| format!("rejects.csv: {e}"))?;
    let records = csv_records(&text).map_err(|e| format!("rejects.csv: {e}"))?;
    let header = ["input", "row", "reason", "detail", "original"];
    match records.split_first() {
        Some((head, rows)) if head.as_slice() == header => {
            if rows.len() as u64 != file_rejected {
                problems.push(format!(
                    "rejects.csv has {} rows, the summary {file_rejected} rejects",
                    rows.len()
                ));
            }
            let mut counted: BTreeMap<String, u64> = BTreeMap::new();
            for (i, row) in rows.iter().enumerate() {
                if row.len() != header.len() {
                    problems.push(format!("rejects.csv record {}: {row:?}", i + 1));
                } else {
                    *counted.entry(row[2].clone()).or_default() += 1;
                }
            }
            if counted != file_reasons {
                problems.push(format!(
                    "rejects.csv reasons {counted:?}, the summary's {file_reasons:?}"
                ));
            }
        }
        other => problems.push(format!("rejects.csv header is {:?}", other.map(|o| o.0))),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Files of the corpus that no case uses (README.md, cases.csv and dotfiles aside).
fn unused_files(cases: &[Case]) -> Result<Vec<String>, String> {
    let used: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.args.iter())
        .filter_map(|a| a.strip_prefix(CORPUS)?.strip_prefix('/'))
        .collect();
    let dir = root().join(CORPUS);
    let mut unused = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let documentation = name == "README.md" || name == "cases.csv" || name.starts_with('.');
        if !documentation && !used.contains(name.as_str()) {
            unused.push(name);
        }
    }
    unused.sort();
    Ok(unused)
}

#[test]
fn every_broken_input_gives_its_error_or_rejects() {
    let manifest = root().join(CORPUS).join("cases.csv");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let cases = read_cases(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(!cases.is_empty(), "cases.csv lists no case");

    let mut failures = Vec::new();
    match unused_files(&cases) {
        Ok(unused) if unused.is_empty() => {}
        Ok(unused) => failures.push(format!(
            "files in {CORPUS} that no case uses (add a case or remove them): {unused:?}"
        )),
        Err(e) => failures.push(e),
    }
    for case in &cases {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let out = dir.path().join("study");
        let output = Command::new(env!("CARGO_BIN_EXE_hexcover"))
            .arg("ingest")
            .args(&case.args)
            .arg("--out")
            .arg(&out)
            .current_dir(root())
            // Log lines on stderr would break the one-line check.
            .env_remove("HEXCOVER_LOG")
            .output()
            .unwrap_or_else(|e| panic!("running hexcover: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut problems = Vec::new();
        if stdout.contains("panicked") || stderr.contains("panicked") {
            problems.push("hexcover panicked".to_owned());
        }
        match &case.expect {
            Expect::Error(wants) => problems.extend(check_error(&output, wants)),
            Expect::Rejects {
                accepted,
                by_reason,
            } => {
                if let Err(e) = check_rejects(&output, &out, *accepted, by_reason) {
                    problems.push(e);
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} (cases.csv:{}): {}\n    hexcover ingest {} --out DIR\n    stderr: {}",
                case.name,
                case.line,
                problems.join("; "),
                case.args.join(" "),
                stderr.trim_end().replace('\n', "\n            "),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} broken-input cases failed:\n\n{}\n",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_helpers_read_what_they_should() {
    let records = csv_records("a,b\r\n\"x, \"\"y\"\"\nz\",2\n").unwrap_or_default();
    assert_eq!(
        records,
        vec![
            vec!["a".to_owned(), "b".to_owned()],
            vec!["x, \"y\"\nz".to_owned(), "2".to_owned()],
        ]
    );
    assert_eq!(
        repeated_cause("f.csv: No such file (os error 2): No such file (os error 2)").as_deref(),
        Some("No such file (os error 2)")
    );
    assert_eq!(
        repeated_cause("f.csv:3: field `rx_id`: not valid UTF-8"),
        None
    );
    assert!(parse_rejects_want("accepted=1;nonsense=2").is_err());
    assert!(parse_rejects_want("missing_field=2").is_err());
}
