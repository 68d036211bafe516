//! ClamAV through `clamd`'s `INSTREAM` command: the bytes of each file are sent as they pass,
//! so the antivirus needs no copy of its own and the ingest keeps its single pass.
//!
//! `clamd` must allow streams as large as the largest file accepted (`StreamMaxLength` in
//! `clamd.conf`); a file over its limit is an error of the scanner, never a clean verdict.

use crate::ports::{ScanError, ScanSession, Verdict, VirusScanner};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

pub struct Clamd {
    socket: PathBuf,
    timeout: Duration,
}

impl Clamd {
    pub fn new(socket: impl Into<PathBuf>) -> Clamd {
        Clamd {
            socket: socket.into(),
            timeout: Duration::from_secs(300),
        }
    }

    /// Asks `clamd` whether it answers (`PING` → `PONG`).
    pub fn ping(&self) -> Result<(), ScanError> {
        let mut s = self.connect()?;
        s.write_all(b"zPING\0").map_err(io)?;
        let reply = read_reply(&mut s)?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ScanError(format!("clamd answered {reply:?} to PING")))
        }
    }

    fn connect(&self) -> Result<UnixStream, ScanError> {
        let s = UnixStream::connect(&self.socket).map_err(|e| {
            ScanError(format!(
                "connecting to clamd at {}: {e}",
                self.socket.display()
            ))
        })?;
        s.set_read_timeout(Some(self.timeout)).map_err(io)?;
        s.set_write_timeout(Some(self.timeout)).map_err(io)?;
        Ok(s)
    }
}

fn io(e: std::io::Error) -> ScanError {
    ScanError(format!("talking to clamd: {e}"))
}

fn read_reply(s: &mut UnixStream) -> Result<String, ScanError> {
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).map_err(io)?;
    Ok(String::from_utf8_lossy(&reply)
        .trim_end_matches(['\0', '\n'])
        .to_owned())
}

impl VirusScanner for Clamd {
    fn name(&self) -> &str {
        "clamd"
    }

    fn session(&self) -> Result<Box<dyn ScanSession>, ScanError> {
        let mut stream = self.connect()?;
        stream.write_all(b"zINSTREAM\0").map_err(io)?;
        Ok(Box::new(ClamdSession { stream }))
    }
}

struct ClamdSession {
    stream: UnixStream,
}

impl ScanSession for ClamdSession {
    fn update(&mut self, bytes: &[u8]) -> Result<(), ScanError> {
        for chunk in bytes.chunks(u32::MAX as usize) {
            self.stream
                .write_all(&(chunk.len() as u32).to_be_bytes())
                .map_err(io)?;
            self.stream.write_all(chunk).map_err(io)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Verdict, ScanError> {
        self.stream.write_all(&0u32.to_be_bytes()).map_err(io)?;
        let reply = read_reply(&mut self.stream)?;
        // "stream: OK", "stream: Eicar-Test-Signature FOUND", or an error.
        let body = reply.strip_prefix("stream: ").unwrap_or(&reply);
        if body == "OK" {
            Ok(Verdict::Clean)
        } else if let Some(name) = body.strip_suffix(" FOUND") {
            Ok(Verdict::Infected(name.to_owned()))
        } else {
            Err(ScanError(format!("clamd: {reply}")))
        }
    }
}
