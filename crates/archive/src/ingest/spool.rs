//! A temporary file that holds each unit's metadata between reading the manifest and
//! committing the catalog, so that neither holds a large transfer in memory.

use carnac_seda::manifest::MetadataSink;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

pub struct Spool {
    writer: BufWriter<File>,
    end: u64,
    /// (offset, length) by unit index; units arrive in any order.
    slots: Vec<Option<(u64, u32)>>,
}

impl Spool {
    pub fn new(file: File) -> Spool {
        Spool {
            writer: BufWriter::with_capacity(256 * 1024, file),
            end: 0,
            slots: Vec::new(),
        }
    }

    /// Makes every record readable.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// The metadata of one unit; call [`Spool::flush`] after the last `put` first.
    pub fn get(&self, unit: usize) -> io::Result<Vec<u8>> {
        let Some(Some((offset, len))) = self.slots.get(unit) else {
            return Ok(Vec::new());
        };
        let mut buf = vec![0u8; *len as usize];
        self.writer.get_ref().read_exact_at(&mut buf, *offset)?;
        Ok(buf)
    }
}

impl MetadataSink for Spool {
    fn put(&mut self, unit: usize, xml: &[u8]) -> io::Result<()> {
        let len = u32::try_from(xml.len())
            .map_err(|_| io::Error::other("unit metadata larger than 4 GiB"))?;
        self.writer.write_all(xml)?;
        if self.slots.len() <= unit {
            self.slots.resize(unit + 1, None);
        }
        self.slots[unit] = Some((self.end, len));
        self.end += xml.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_any_order() {
        let mut s = Spool::new(tempfile::tempfile().unwrap());
        s.put(2, b"two").unwrap();
        s.put(0, b"zero").unwrap();
        s.flush().unwrap();
        assert_eq!(s.get(0).unwrap(), b"zero");
        assert_eq!(s.get(2).unwrap(), b"two");
        assert_eq!(s.get(1).unwrap(), b"");
        assert_eq!(s.get(9).unwrap(), b"");
    }
}
