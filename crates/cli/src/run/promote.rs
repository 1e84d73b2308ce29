//! Moving a stage's outputs from its staging folder into the study: one
//! rename per file or folder, on the same file system, so a reader sees the
//! old file or the new one, never a part of one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::manifest::FileHash;

const STAGING: &str = ".staging";

/// An empty `DIR/.staging/<stage>/` (what a killed run left there goes).
pub fn fresh_staging(dir: &Path, stage: &str) -> Result<PathBuf> {
    let staging = dir.join(STAGING).join(stage);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    Ok(staging)
}

/// Move every entry of `staging` into `dir`; returns where they are now.
/// A file replaces its old self by rename; a folder (coverage/) is swapped:
/// the old one is renamed aside, the new one in, then the old one removed.
pub fn promote(staging: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(staging)
        .with_context(|| format!("reading {}", staging.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", staging.display()))?;
    entries.sort();
    let mut moved = Vec::with_capacity(entries.len());
    for entry in entries {
        let Some(name) = entry.file_name() else {
            continue;
        };
        let target = dir.join(name);
        if entry.is_dir() && target.exists() {
            let aside = staging.with_extension("old");
            if aside.exists() {
                std::fs::remove_dir_all(&aside)
                    .with_context(|| format!("removing {}", aside.display()))?;
            }
            rename(&target, &aside)?;
            rename(&entry, &target)?;
            std::fs::remove_dir_all(&aside)
                .with_context(|| format!("removing {}", aside.display()))?;
        } else {
            rename(&entry, &target)?;
        }
        moved.push(target);
    }
    std::fs::remove_dir(staging).with_context(|| format!("removing {}", staging.display()))?;
    Ok(moved)
}

/// Remove `DIR/.staging` once every stage is done (it is empty then).
pub fn remove_empty_staging(dir: &Path) -> Result<()> {
    let staging = dir.join(STAGING);
    match std::fs::remove_dir(&staging) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // Not empty: something of a failed stage is left for inspection.
        Err(_) if staging.is_dir() => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", staging.display())),
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("moving {} to {}", from.display(), to.display()))
}

/// Remove the files of an earlier run of a stage that its new run did not
/// write (a resolution dropped from the config, a site gone).
pub fn remove_outputs(dir: &Path, old: &[FileHash], new: &[FileHash]) -> Result<()> {
    for file in old {
        if new.iter().any(|n| n.path == file.path) {
            continue;
        }
        let path = dir.join(&file.path);
        // Only files inside the study, named relative to it.
        if Path::new(&file.path).is_absolute() || file.path.contains("..") {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promote_replaces_files_and_swaps_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("a.txt"), "old").unwrap();
        std::fs::create_dir_all(dir.join("cov")).unwrap();
        std::fs::write(dir.join("cov/gone.parquet"), "old").unwrap();
        let staging = fresh_staging(dir, "s").unwrap();
        std::fs::write(staging.join("a.txt"), "new").unwrap();
        std::fs::create_dir_all(staging.join("cov")).unwrap();
        std::fs::write(staging.join("cov/x.parquet"), "new").unwrap();
        let moved = promote(&staging, dir).unwrap();
        assert_eq!(moved, vec![dir.join("a.txt"), dir.join("cov")]);
        assert_eq!(std::fs::read_to_string(dir.join("a.txt")).unwrap(), "new");
        assert!(dir.join("cov/x.parquet").exists());
        assert!(!dir.join("cov/gone.parquet").exists());
        assert!(!staging.exists());
    }
}
