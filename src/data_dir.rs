//! The data dir: created private (0700), and locked by the one `nexds serve` that
//! uses it, so that a second server on the same files refuses to start.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file in the data dir; it holds the pid of the server that locks it.
pub const LOCK_FILE: &str = "nexds.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another nexds{} is serving the data dir {dir}; stop it first, or give this one \
         another NEXDS_DATA_DIR",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Taken { dir: PathBuf, pid: Option<u32> },
    #[error("cannot lock the data dir {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
}

/// Creates `dir` (and its parents) if missing; a new data dir is 0700, since it
/// holds the database, tokens and keys. An existing one is left as the operator
/// made it.
pub fn create(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The exclusive lock of a data dir, held until dropped (or the process ends,
/// however it ends: the OS releases it).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock of `dir` (creating both if needed) and writes this process's
    /// pid into it; refuses if another process holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, LockError> {
        let io = |e| LockError::Io(dir.to_owned(), e);
        create(dir).map_err(io)?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(dir.join(LOCK_FILE)).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                // The holder may not have written its pid yet; then none is named.
                let pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                return Err(LockError::Taken {
                    dir: dir.to_owned(),
                    pid,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_data_dir_is_refused_until_its_lock_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let lock = DataDirLock::acquire(&data).unwrap();
        let refused = DataDirLock::acquire(&data).unwrap_err();
        assert!(
            matches!(&refused, LockError::Taken { pid: Some(pid), .. } if *pid == std::process::id()),
            "{refused}"
        );
        assert!(
            refused
                .to_string()
                .contains(&format!("(pid {})", std::process::id()))
        );
        drop(lock);
        DataDirLock::acquire(&data).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_new_data_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/data");
        create(&data).unwrap();
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
