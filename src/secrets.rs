//! Secrets kept in the data dir (title token, local store keys, link secret):
//! written atomically with mode 0600, made once, read on every start.

use std::io::Write;
use std::path::Path;

/// Writes `content` to `path` with mode 0600, through a temp file and a rename.
pub fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The content of `path`, made with `make` and written there on first use.
pub fn read_or_create(
    path: &Path,
    make: impl FnOnce() -> std::io::Result<String>,
) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let content = make()?;
            write_private(path, &content)?;
            log::info!("created {}", path.display());
            Ok(content)
        }
        Err(e) => Err(e),
    }
}

/// `n` random characters of `alphabet`.
pub fn random_chars(n: usize, alphabet: &[u8]) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let a = read_or_create(&path, || Ok("first".into())).unwrap();
        let b = read_or_create(&path, || Ok("second".into())).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("first", "first"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(random_chars(12, b"ab").unwrap().len(), 12);
    }
}
