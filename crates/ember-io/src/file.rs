//! Files: reading them whole, writing them under a temporary name, telling formats apart.
use ember_core::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file format, told by the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// `.csv`, `.tsv`, `.txt` (a `.tsv` is tab-separated).
    Csv,
    /// `.parquet`, `.pq`
    Parquet,
}

impl FileFormat {
    /// The format of `path` by its extension (a directory is a Parquet dataset).
    pub fn from_path(path: impl AsRef<Path>) -> Result<FileFormat> {
        let path = path.as_ref();
        if path.is_dir() {
            return Ok(FileFormat::Parquet);
        }
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv" | "tsv" | "txt") => Ok(FileFormat::Csv),
            Some("parquet" | "pq") => Ok(FileFormat::Parquet),
            _ => Err(Error::InvalidArgument(format!(
                "{}: unknown file format (expected a .csv, .tsv, .txt, .parquet or .pq file name)",
                path.display()
            ))),
        }
    }
}

/// Bytes of memory the system can still give this process: `MemAvailable` plus `SwapFree` from
/// `/proc/meminfo`; `None` where that cannot be read (other systems: no limit is applied).
pub(crate) fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |key: &str| -> Option<usize> {
        let line = info.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse::<usize>().ok()
    };
    Some(kib("MemAvailable:")?.saturating_add(kib("SwapFree:").unwrap_or(0)).saturating_mul(1024))
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.display().to_string(), source }
}

/// The whole file. (Reading beats memory-mapping here: the CSV decoder touches every byte
/// anyway, and a mapped file that shrinks under us would be a SIGBUS rather than an error.)
pub(crate) fn read_all(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// Writes `path` by calling `write` on a buffered temporary file beside it, then renaming it
/// over `path`: an interrupted or failed write never leaves a truncated file under the real
/// name (a rename within one directory is atomic on POSIX file systems).
pub fn write_atomically(path: impl AsRef<Path>, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let path = path.as_ref();
    let tmp = temp_name(path);
    let file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let done = write(&mut out).and_then(|()| {
        let file = out.into_inner().map_err(|e| io_error(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| io_error(&tmp, e))
    });
    match done {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| io_error(path, e)),
        Err(e) => {
            // Best effort: the write already failed, and that error is the one to report.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Flushes a buffered writer, naming the file on failure.
pub(crate) fn flush(out: &mut impl Write, path: &Path) -> Result<()> {
    out.flush().map_err(|e| io_error(path, e))
}
