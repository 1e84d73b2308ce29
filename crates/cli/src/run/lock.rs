//! One run per study directory at a time: `DIR/.run.lock` holds the pid of
//! the run; a lock left by a run that no longer exists (killed) is taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub struct StudyLock {
    path: PathBuf,
}

impl StudyLock {
    pub fn take(dir: &Path) -> Result<Self> {
        let path = dir.join(".run.lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id())
                        .with_context(|| format!("writing {}", path.display()))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid = holder.trim().parse::<u32>().ok();
                    if let Some(pid) = pid.filter(|pid| alive(*pid)) {
                        bail!(
                            "{}: another `hexcover run` (pid {pid}) is working on this study; wait for it or stop it",
                            dir.display()
                        );
                    }
                    tracing::warn!(lock = %path.display(), "taking over the lock of a run that has stopped");
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing the stale {}", path.display()))?;
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            }
        }
        bail!("{}: could not take the run lock", path.display())
    }
}

/// Whether a process with this pid exists (Linux: /proc).
fn alive(pid: u32) -> bool {
    pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists()
}

impl Drop for StudyLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
