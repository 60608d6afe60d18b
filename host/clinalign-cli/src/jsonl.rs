//! JSONL in and out: numbered input lines read in batches, and output written to a
//! temporary file that replaces the destination only when the run completes.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

/// Reads a JSONL file line by line, keeping 1-based line numbers; blank lines are skipped.
pub struct JsonlReader {
    path: PathBuf,
    reader: BufReader<File>,
    line_no: usize,
    bytes_read: u64,
    total_bytes: u64,
}

/// One non-blank input line.
pub struct Line {
    pub number: usize,
    pub text: String,
}

impl JsonlReader {
    pub fn open(path: &Path) -> Result<JsonlReader> {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(JsonlReader {
            path: path.to_path_buf(),
            reader: BufReader::new(file),
            line_no: 0,
            bytes_read: 0,
            total_bytes,
        })
    }

    /// Up to `n` more non-blank lines; empty at the end of the file.
    pub fn next_batch(&mut self, n: usize) -> Result<Vec<Line>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let mut buf = String::new();
            let read = self.reader.read_line(&mut buf).with_context(|| {
                format!("{}:{}: cannot read (is it UTF-8 text?)", self.path.display(), self.line_no + 1)
            })?;
            if read == 0 {
                break;
            }
            self.line_no += 1;
            self.bytes_read += read as u64;
            if buf.trim().is_empty() {
                continue;
            }
            out.push(Line { number: self.line_no, text: buf });
        }
        Ok(out)
    }

    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }
}

/// Every row of a JSONL file with its line number; a line that is not a row is an error
/// naming the file and line.
pub fn read_rows(path: &Path) -> Result<Vec<(usize, clinalign::Row)>> {
    let mut reader = JsonlReader::open(path)?;
    let mut out = Vec::new();
    loop {
        let batch = reader.next_batch(256)?;
        if batch.is_empty() {
            return Ok(out);
        }
        for line in batch {
            let row = clinalign::Row::parse(&line.text)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), line.number))?;
            out.push((line.number, row));
        }
    }
}

/// Writes JSONL to a temporary file beside `dest`; [`AtomicJsonl::commit`] renames it into
/// place. Dropped without committing, it leaves `dest` as it was.
pub struct AtomicJsonl {
    dest: PathBuf,
    out: BufWriter<NamedTempFile>,
}

impl AtomicJsonl {
    pub fn create(dest: &Path) -> Result<AtomicJsonl> {
        let tmp = clinalign::files::temp_file_beside(dest)?;
        Ok(AtomicJsonl { dest: dest.to_path_buf(), out: BufWriter::new(tmp) })
    }

    pub fn write<T: serde::Serialize>(&mut self, row: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, row)?;
        self.out.write_all(b"\n").with_context(|| format!("{}: write failed", self.dest.display()))
    }

    pub fn commit(self) -> Result<()> {
        let dest = self.dest;
        let tmp = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("{}: write failed", dest.display()))?;
        tmp.as_file().sync_all().ok();
        tmp.persist(&dest).map_err(|e| e.error).with_context(|| format!("{}: cannot replace", dest.display()))?;
        Ok(())
    }
}

/// Writes a JSON value to `path` atomically, pretty-printed.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    clinalign::files::write_atomic(path, &bytes).map_err(anyhow::Error::from)
}

/// Writes text (an HTML report) to `path` atomically.
pub fn write_text_atomic(path: &Path, text: &str) -> Result<()> {
    clinalign::files::write_atomic(path, text.as_bytes()).map_err(anyhow::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any bytes at all: the reader returns lines or an error naming the file and line.
        #[test]
        fn any_file_is_read_or_refused_with_the_file_named(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("in.jsonl");
            std::fs::write(&path, &bytes).unwrap();
            let mut reader = JsonlReader::open(&path).unwrap();
            loop {
                match reader.next_batch(7) {
                    Ok(batch) if batch.is_empty() => break,
                    Ok(batch) => {
                        for line in batch {
                            prop_assert!(!line.text.trim().is_empty());
                            let _ = clinalign::Row::parse(&line.text);
                        }
                    }
                    Err(e) => {
                        let msg = format!("{e:#}");
                        prop_assert!(msg.starts_with(&format!("{}:", path.display())), "{msg}");
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = JsonlReader::open(Path::new("/no/such/in.jsonl")).err().unwrap();
        assert!(format!("{e:#}").starts_with("/no/such/in.jsonl: cannot open"), "{e:#}");
    }
}
