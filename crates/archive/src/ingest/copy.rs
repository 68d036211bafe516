//! The manifest's copy to its scratch file, walked for its shape in the same pass.

use carnac_seda::manifest;
use std::io::{BufReader, Read, Write};

/// Why [`copy_walking`] could not copy: the source, or the scratch file.
pub(super) enum CopyFailure {
    Read(std::io::Error),
    Write(std::io::Error),
}

impl CopyFailure {
    pub(super) fn into_inner(self) -> std::io::Error {
        match self {
            CopyFailure::Read(e) | CopyFailure::Write(e) => e,
        }
    }
}

/// Copies a manifest to its scratch file while walking its shape
/// ([`manifest::check_structure`]) in the same pass, and stops where the walk refuses it: a
/// 4 MB zip holding a 300 MB description is refused having expanded a mebibyte of it, not
/// after writing 300 MB to disk. Returns the bytes copied and the walk's verdict.
pub(super) fn copy_walking(
    source: impl Read,
    out: &mut impl Write,
    limits: &manifest::ReadLimits<'_>,
) -> Result<(u64, Result<(), manifest::ManifestError>), CopyFailure> {
    struct Tee<R, W> {
        source: R,
        out: W,
        copied: u64,
        failure: Option<CopyFailure>,
    }
    impl<R: Read, W: Write> Read for Tee<R, W> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // The walk fails on the error it gets; the copy keeps the cause to report it.
            let n = match self.source.read(buf) {
                Ok(n) => n,
                Err(e) => {
                    self.failure = Some(CopyFailure::Read(e));
                    return Err(std::io::Error::other("the copy failed"));
                }
            };
            if let Err(e) = self.out.write_all(&buf[..n]) {
                self.failure = Some(CopyFailure::Write(e));
                return Err(std::io::Error::other("the copy failed"));
            }
            self.copied += n as u64;
            Ok(n)
        }
    }
    let mut tee = BufReader::with_capacity(
        64 * 1024,
        Tee {
            source,
            out,
            copied: 0,
            failure: None,
        },
    );
    let walked = manifest::check_structure(&mut tee, limits);
    let tee = tee.into_inner();
    match tee.failure {
        Some(failure) => Err(failure),
        None => Ok((tee.copied, walked)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy stops where the walk refuses: a 300 MB text is not written out whole.
    #[test]
    fn the_copy_of_a_manifest_stops_where_its_walk_refuses_it() {
        let head: &[u8] = b"<ArchiveTransfer><Description>";
        let source = head.chain(std::io::repeat(b'x').take(300 << 20));
        let mut out = Vec::new();
        let (copied, walked) = copy_walking(source, &mut out, &manifest::ReadLimits::default())
            .unwrap_or_else(|_| panic!("the copy failed"));
        assert!(matches!(
            walked,
            Err(manifest::ManifestError::TextTooLong(..))
        ));
        assert_eq!(copied, out.len() as u64);
        assert!(copied < 3 << 20, "{copied} bytes copied");

        // A manifest the walk accepts is copied whole, byte for byte.
        let xml = format!(
            "<ArchiveTransfer>{}</ArchiveTransfer>\n",
            "<a>text</a><!-- c -->\n".repeat(10_000)
        )
        .into_bytes();
        let mut out = Vec::new();
        let (copied, walked) = copy_walking(&xml[..], &mut out, &manifest::ReadLimits::default())
            .unwrap_or_else(|_| panic!("the copy failed"));
        assert!(walked.is_ok(), "{walked:?}");
        assert_eq!(copied, xml.len() as u64);
        assert_eq!(out, xml);

        // A failing source is reported as such, not as a malformed manifest.
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk gone"))
            }
        }
        assert!(matches!(
            copy_walking(Failing, &mut Vec::new(), &manifest::ReadLimits::default()),
            Err(CopyFailure::Read(_))
        ));
    }
}
