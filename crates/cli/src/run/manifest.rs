//! Stage manifests: what a stage read (content hashes), with which
//! parameters, and what it wrote. A stage is up to date when its manifest
//! matches the current parameters and inputs and its outputs are still the
//! files it wrote.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// One file a stage read or wrote: path (relative to the study directory
/// when inside it), size and BLAKE3 hash of its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub path: String,
    pub bytes: u64,
    pub blake3: String,
}

/// What one stage did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub stage: String,
    pub hexcover_version: String,
    /// BLAKE3 of the `hexcover` executable that ran the stage: a rebuilt
    /// binary may compute differently, so its stages are not up to date.
    #[serde(default)]
    pub hexcover_build: String,
    pub parameters: serde_json::Value,
    pub inputs: Vec<FileHash>,
    pub outputs: Vec<FileHash>,
    pub metrics: serde_json::Value,
    pub finished_unix_s: u64,
    pub seconds: f64,
}

impl Manifest {
    /// Up to date: same parameters, same inputs, and every output still as
    /// written.
    pub fn is_current(
        &self,
        parameters: &serde_json::Value,
        inputs: &[FileHash],
        dir: &Path,
    ) -> Result<bool> {
        if self.hexcover_version != env!("CARGO_PKG_VERSION")
            || self.hexcover_build != build_id()?
            || &self.parameters != parameters
            || self.inputs != inputs
        {
            return Ok(false);
        }
        for output in &self.outputs {
            let path = dir.join(&output.path);
            if !path.is_file() || hash_file(&path, dir)? != *output {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The BLAKE3 of the running executable (hashed once per process).
pub fn build_id() -> Result<String> {
    static BUILD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(id) = BUILD.get() {
        return Ok(id.clone());
    }
    let exe = std::env::current_exe().context("finding the hexcover executable")?;
    let id = hash_file(&exe, Path::new("/"))?.blake3;
    Ok(BUILD.get_or_init(|| id).clone())
}

/// The manifest of `stage` in `dir`, if a finished run left one that parses.
pub fn read(dir: &Path, stage: &str) -> Option<Manifest> {
    let text = std::fs::read_to_string(path(dir, stage)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn path(dir: &Path, stage: &str) -> PathBuf {
    dir.join("manifests").join(format!("{stage}.json"))
}

/// Write atomically: a manifest is either the whole old one or the new one.
pub fn write(dir: &Path, manifest: &Manifest) -> Result<()> {
    let path = path(dir, &manifest.stage);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let json = serde_json::to_string_pretty(manifest)? + "\n";
    hexcover_export::write_atomically(&path, |tmp| {
        std::fs::write(tmp, &json).map_err(|e| hexcover_export::Error::Io {
            path: tmp.to_owned(),
            source: e,
        })
    })?;
    Ok(())
}

/// Remove the manifest of `stage` before the stage starts, so that a run
/// killed in the middle of it never counts the stage as done.
pub fn remove(dir: &Path, stage: &str) -> Result<()> {
    let path = path(dir, stage);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Hashes of `paths` (files, or folders: every file below them, sorted).
pub fn hash_all(paths: &[PathBuf], dir: &Path) -> Result<Vec<FileHash>> {
    let mut files = Vec::new();
    for path in paths {
        collect_files(path, &mut files)?;
    }
    files.iter().map(|f| hash_file(f, dir)).collect()
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("reading {}", path.display()))?;
        entries.sort();
        for entry in entries {
            collect_files(&entry, files)?;
        }
    } else {
        files.push(path.to_owned());
    }
    Ok(())
}

/// Size and BLAKE3 of one file, its path relative to `dir` when inside it.
pub fn hash_file(path: &Path, dir: &Path) -> Result<FileHash> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileHash {
        path: relative(path, dir),
        bytes,
        blake3: hasher.finalize().to_hex().to_string(),
    })
}

/// `path` relative to `dir` when below it, else as given.
pub fn relative(path: &Path, dir: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_input_or_output_makes_the_manifest_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("in.csv"), "a,b\n1,2\n").unwrap();
        std::fs::write(dir.join("out.json"), "{}").unwrap();
        let inputs = hash_all(&[dir.join("in.csv")], dir).unwrap();
        assert_eq!(inputs[0].path, "in.csv");
        assert_eq!(inputs[0].bytes, 8);
        let params = serde_json::json!({"k": 1});
        let manifest = Manifest {
            stage: "s".into(),
            hexcover_version: env!("CARGO_PKG_VERSION").into(),
            hexcover_build: build_id().unwrap(),
            parameters: params.clone(),
            inputs: inputs.clone(),
            outputs: hash_all(&[dir.join("out.json")], dir).unwrap(),
            metrics: serde_json::Value::Null,
            finished_unix_s: 0,
            seconds: 0.0,
        };
        write(dir, &manifest).unwrap();
        let back = read(dir, "s").unwrap();
        assert!(back.is_current(&params, &inputs, dir).unwrap());
        // Written by another build of hexcover: not current.
        let other_build = Manifest {
            hexcover_build: "another executable".into(),
            ..back.clone()
        };
        assert!(!other_build.is_current(&params, &inputs, dir).unwrap());
        assert!(
            !back
                .is_current(&serde_json::json!({"k": 2}), &inputs, dir)
                .unwrap()
        );
        std::fs::write(dir.join("in.csv"), "a,b\n1,3\n").unwrap();
        let changed = hash_all(&[dir.join("in.csv")], dir).unwrap();
        assert!(!back.is_current(&params, &changed, dir).unwrap());
        std::fs::write(dir.join("out.json"), "{ }").unwrap();
        assert!(!back.is_current(&params, &inputs, dir).unwrap());
        remove(dir, "s").unwrap();
        assert!(read(dir, "s").is_none());
    }
}
