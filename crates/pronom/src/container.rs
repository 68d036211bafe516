//! DROID container signatures: a zip-based format (docx, xlsx, odt…) is told apart from a
//! plain zip by the members it holds and by byte sequences inside some of them.
//!
//! OLE2 containers (legacy Office files) need a compound-file reader and are not inspected
//! yet: such files keep their byte-signature identification.

use crate::signature::{SignatureBuilder, SignatureError, attrs, read_text};
use crate::{Sample, Sampler};
use quick_xml::events::Event;
use std::collections::HashMap;
use std::io::{Read, Seek};

struct ContainerFile {
    path: String,
    /// Internal signatures of the member; any one of them matching is enough.
    signatures: Vec<Vec<crate::signature::Sequence>>,
}

struct ContainerSignature {
    id: u32,
    zip: bool,
    files: Vec<ContainerFile>,
}

pub struct ContainerSignatures {
    signatures: Vec<ContainerSignature>,
    puids: HashMap<u32, Vec<String>>,
    zip_triggers: Vec<String>,
}

/// Members larger than this are not read for byte checks (they are never the small XML parts
/// that container signatures look at).
const MAX_MEMBER: u64 = 64 << 20;

impl ContainerSignatures {
    pub fn parse(bytes: &[u8]) -> Result<ContainerSignatures, SignatureError> {
        let mut reader = quick_xml::Reader::from_reader(bytes);
        let mut buf = Vec::new();
        let mut text = String::new();
        let mut signatures = Vec::new();
        let mut puids: HashMap<u32, Vec<String>> = HashMap::new();
        let mut zip_triggers = Vec::new();
        let mut current: Option<ContainerSignature> = None;
        let mut file: Option<ContainerFile> = None;
        let mut builder = SignatureBuilder::default();
        loop {
            let ev = reader
                .read_event_into(&mut buf)
                .map_err(|e| SignatureError::Xml(e.to_string()))?;
            match &ev {
                Event::Start(e) | Event::Empty(e) => {
                    text.clear();
                    let a = attrs(e)?;
                    let local = e.local_name();
                    builder.start(local.as_ref(), &a);
                    match local.as_ref() {
                        b"ContainerSignature" => {
                            current = Some(ContainerSignature {
                                id: a.get("Id").and_then(|v| v.parse().ok()).unwrap_or(0),
                                zip: a.get("ContainerType").map(String::as_str) == Some("ZIP"),
                                files: Vec::new(),
                            })
                        }
                        b"File" => {
                            file = Some(ContainerFile {
                                path: String::new(),
                                signatures: Vec::new(),
                            })
                        }
                        b"FileFormatMapping" => {
                            if let (Some(id), Some(puid)) = (
                                a.get("signatureId").and_then(|v| v.parse().ok()),
                                a.get("Puid"),
                            ) {
                                puids.entry(id).or_default().push(puid.clone());
                            }
                        }
                        b"TriggerPuid" => {
                            if a.get("ContainerType").map(String::as_str) == Some("ZIP")
                                && let Some(p) = a.get("Puid")
                            {
                                zip_triggers.push(p.clone());
                            }
                        }
                        _ => {}
                    }
                }
                Event::Text(_) | Event::GeneralRef(_) => read_text(&mut text, &ev)?,
                Event::End(e) => {
                    let value = text.trim().to_owned();
                    let local = e.local_name();
                    if let Some((_, seqs)) = builder.end(local.as_ref(), value.clone())?
                        && let Some(f) = file.as_mut()
                    {
                        f.signatures.push(seqs);
                    }
                    match local.as_ref() {
                        b"Path" => {
                            if let Some(f) = file.as_mut() {
                                f.path = value;
                            }
                        }
                        b"File" => {
                            if let (Some(f), Some(c)) = (file.take(), current.as_mut()) {
                                c.files.push(f);
                            }
                        }
                        b"ContainerSignature" => {
                            if let Some(c) = current.take() {
                                signatures.push(c);
                            }
                        }
                        _ => {}
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        Ok(ContainerSignatures {
            signatures,
            puids,
            zip_triggers,
        })
    }

    pub fn is_zip_trigger(&self, puid: &str) -> bool {
        self.zip_triggers.iter().any(|p| p == puid)
    }

    /// PUIDs of every zip container signature the archive satisfies, most specific first
    /// (the one that checks the most members and bytes).
    pub fn match_zip<R: Read + Seek>(&self, reader: R) -> Vec<String> {
        let Ok(mut zip) = zip::ZipArchive::new(reader) else {
            return Vec::new();
        };
        let names: std::collections::HashSet<String> = zip
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .collect();
        let mut samples: HashMap<String, Option<Sample>> = HashMap::new();
        let mut matched: Vec<(usize, u32)> = Vec::new();
        for sig in self.signatures.iter().filter(|s| s.zip) {
            let ok = sig.files.iter().all(|f| {
                if !names.contains(&f.path) {
                    return false;
                }
                if f.signatures.is_empty() {
                    return true;
                }
                let sample = samples
                    .entry(f.path.clone())
                    .or_insert_with(|| member_sample(&mut zip, &f.path))
                    .as_ref();
                sample.is_some_and(|s| {
                    f.signatures
                        .iter()
                        .any(|seqs| seqs.iter().all(|q| q.matches(s)))
                })
            });
            if ok {
                let weight =
                    sig.files.len() + sig.files.iter().map(|f| f.signatures.len()).sum::<usize>();
                matched.push((weight, sig.id));
            }
        }
        matched.sort_by_key(|(w, id)| (std::cmp::Reverse(*w), *id));
        matched
            .into_iter()
            .flat_map(|(_, id)| self.puids.get(&id).cloned().unwrap_or_default())
            .collect()
    }
}

fn member_sample<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, path: &str) -> Option<Sample> {
    let member = zip.by_name(path).ok()?;
    if member.size() > MAX_MEMBER {
        return None;
    }
    let mut sampler = Sampler::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut reader = member.take(MAX_MEMBER);
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => sampler.update(&buf[..n]),
            Err(_) => return None,
        }
    }
    Some(sampler.finish())
}
