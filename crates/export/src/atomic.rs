use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Write `path` through `write` on a temporary sibling, then rename it into
/// place: readers and resumed runs never see a partial file.
///
/// # Errors
/// Whatever `write` returns, or the rename's I/O error.
pub fn write_atomically<T>(path: &Path, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let tmp = temporary_sibling(path);
    match write(&tmp) {
        Ok(value) => {
            std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
            Ok(value)
        }
        Err(e) => {
            // The temporary file is garbage now; failing to remove it changes nothing.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The temporary sibling through which `path` is written.
#[must_use]
pub fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_writes_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.txt");
        let result: Result<()> = write_atomically(&target, |tmp| {
            std::fs::write(tmp, "partial").unwrap();
            Err(Error::io(tmp, std::io::Error::other("boom")))
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomically(&target, |tmp| {
            std::fs::write(tmp, "done").map_err(|e| Error::io(tmp, e))
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "done");
    }
}
