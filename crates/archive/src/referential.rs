//! Reading referentials in Vitam's file formats, and the set a tenant's ingests check against.
//!
//! A referential folder is laid out as Vitam's test data: `agencies/*.csv`, `rules/*.csv`,
//! `contracts/*.json`, `profiles/*.json` with their RelaxNG/XSD files, `formats/*.xml` (a
//! DROID signature file), `archiveUnitProfiles/*.json` (each with its JSON Schema, compiled at
//! import so that one that cannot be used is refused then, not at the first transfer). Parsing is pure (bytes in, values or errors out); only
//! [`read_folder`] touches the disk. A folder with any malformed file is refused whole: every
//! error is reported with its file, line and reason, and nothing is stored.

use carnac_model::referential::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One problem in one referential file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub file: String,
    pub line: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The referentials of one tenant. `None` means "never imported": then no agency, rule or
/// contract exists, and every format PRONOM knows is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referentials {
    pub agencies: Option<BTreeMap<String, Agency>>,
    pub rules: Option<BTreeMap<String, Rule>>,
    pub contracts: Option<BTreeMap<String, IngestContract>>,
    pub profiles: Option<BTreeMap<String, ArchiveProfile>>,
    pub formats: Option<BTreeMap<String, FileFormat>>,
    /// Archive unit profiles (absent from catalogs written before they were imported).
    #[serde(default)]
    pub unit_profiles: Option<BTreeMap<String, ArchiveUnitProfile>>,
    /// Access contracts (absent from catalogs written before they were imported).
    #[serde(default)]
    pub access_contracts: Option<BTreeMap<String, AccessContract>>,
}

/// What a folder held, before it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderContent {
    pub referentials: Referentials,
    /// Files read but deliberately not imported (access or management contracts…), with why.
    pub skipped: Vec<(String, String)>,
}

fn err(file: &str, line: Option<u64>, message: impl Into<String>) -> FileError {
    FileError {
        file: file.to_owned(),
        line,
        message: message.into(),
    }
}

fn csv_records(
    file: &str,
    bytes: &[u8],
    expected: &[&str],
    errors: &mut Vec<FileError>,
) -> Vec<(u64, csv::StringRecord)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            errors.push(err(file, Some(1), format!("unreadable header: {e}")));
            return Vec::new();
        }
    };
    for column in expected {
        if !headers.iter().any(|h| h.trim() == *column) {
            errors.push(err(file, Some(1), format!("missing column {column:?}")));
        }
    }
    let mut out = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => out.push((r.position().map_or(0, |p| p.line()), r)),
            Err(e) => {
                let line = e.position().map(|p| p.line());
                errors.push(err(file, line, format!("malformed CSV: {e}")));
            }
        }
    }
    let index = |name: &str| headers.iter().position(|h| h.trim() == name);
    // Re-order every record as `expected` so that callers can index it.
    out.into_iter()
        .map(|(line, r)| {
            let fields: Vec<&str> = expected
                .iter()
                .map(|c| index(c).and_then(|i| r.get(i)).unwrap_or(""))
                .collect();
            (line, csv::StringRecord::from(fields))
        })
        .collect()
}

/// `agencies.csv`: `Identifier,Name,Description`.
pub fn parse_agencies(file: &str, bytes: &[u8], errors: &mut Vec<FileError>) -> Vec<(u64, Agency)> {
    csv_records(file, bytes, &["Identifier", "Name", "Description"], errors)
        .into_iter()
        .filter_map(|(line, r)| {
            let id = r[0].trim();
            if id.is_empty() {
                errors.push(err(file, Some(line), "empty Identifier"));
                return None;
            }
            Some((
                line,
                Agency {
                    identifier: id.to_owned(),
                    name: r[1].trim().to_owned(),
                    description: r[2].trim().to_owned(),
                },
            ))
        })
        .collect()
}

/// `rules.csv`: `RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement`.
pub fn parse_rules(file: &str, bytes: &[u8], errors: &mut Vec<FileError>) -> Vec<(u64, Rule)> {
    let cols = [
        "RuleId",
        "RuleType",
        "RuleValue",
        "RuleDescription",
        "RuleDuration",
        "RuleMeasurement",
    ];
    csv_records(file, bytes, &cols, errors)
        .into_iter()
        .filter_map(|(line, r)| {
            let id = r[0].trim();
            let mut bad = |m: String| {
                errors.push(err(file, Some(line), m));
                None
            };
            if id.is_empty() {
                return bad("empty RuleId".into());
            }
            let Some(category) = RuleCategory::parse(r[1].trim()) else {
                return bad(format!("rule {id}: unknown RuleType {:?}", &r[1]));
            };
            let (amount, unit) = (r[4].trim(), r[5].trim());
            let duration = if amount.is_empty() || amount.eq_ignore_ascii_case("unlimited") {
                None
            } else {
                let Ok(amount) = amount.parse::<u32>() else {
                    return bad(format!(
                        "rule {id}: RuleDuration {amount:?} is not a number or 'unlimited'"
                    ));
                };
                let unit = match unit.to_ascii_lowercase().as_str() {
                    "year" => DurationUnit::Year,
                    "month" => DurationUnit::Month,
                    "day" => DurationUnit::Day,
                    other => {
                        return bad(format!(
                            "rule {id}: RuleMeasurement {other:?} is not Year, Month or Day"
                        ));
                    }
                };
                Some(RuleDuration { amount, unit })
            };
            Some((
                line,
                Rule {
                    identifier: id.to_owned(),
                    category,
                    value: r[2].trim().to_owned(),
                    description: r[3].trim().to_owned(),
                    duration,
                },
            ))
        })
        .collect()
}

fn json_array(
    file: &str,
    bytes: &[u8],
    errors: &mut Vec<FileError>,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                serde_json::Value::Object(m) => Some(m),
                _ => {
                    errors.push(err(file, None, format!("item {} is not an object", i + 1)));
                    None
                }
            })
            .collect(),
        Ok(serde_json::Value::Object(m)) => vec![m],
        Ok(_) => {
            errors.push(err(file, None, "expected a JSON array of objects"));
            Vec::new()
        }
        Err(e) => {
            errors.push(err(
                file,
                Some(e.line() as u64),
                format!("malformed JSON: {e}"),
            ));
            Vec::new()
        }
    }
}

fn str_field(m: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    m.get(key)
        .and_then(|v| v.as_str())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn active(
    file: &str,
    id: &str,
    m: &serde_json::Map<String, serde_json::Value>,
    errors: &mut Vec<FileError>,
) -> bool {
    match str_field(m, "Status").as_deref() {
        None | Some("ACTIVE") => true,
        Some("INACTIVE") => false,
        Some(other) => {
            errors.push(err(
                file,
                None,
                format!("{id}: Status {other:?} is neither ACTIVE nor INACTIVE"),
            ));
            false
        }
    }
}

/// What kind of Vitam contract a JSON object is, from the fields only that kind has.
fn contract_kind(m: &serde_json::Map<String, serde_json::Value>) -> Option<&'static str> {
    const ACCESS: [&str; 4] = [
        "WritingPermission",
        "EveryOriginatingAgency",
        "OriginatingAgencies",
        "AccessLog",
    ];
    const MANAGEMENT: [&str; 3] = [
        "Storage",
        "PersistentIdentifierPolicy",
        "VersionRetentionPolicy",
    ];
    if ACCESS.iter().any(|k| m.contains_key(*k)) {
        Some("access contract")
    } else if MANAGEMENT.iter().any(|k| m.contains_key(*k)) {
        Some("management contract")
    } else {
        None
    }
}

/// Access contracts from a `contracts/*.json` file (the objects with an access contract's
/// fields); the others are [`parse_contracts`]'s.
pub fn parse_access_contracts(
    file: &str,
    bytes: &[u8],
    errors: &mut Vec<FileError>,
) -> Vec<AccessContract> {
    let mut out = Vec::new();
    for m in json_array(file, bytes, errors) {
        if contract_kind(&m) != Some("access contract") {
            continue;
        }
        // parse_contracts reports a contract without an identifier.
        let Some(id) = str_field(&m, "Identifier") else {
            continue;
        };
        let flag = |key: &str, errors: &mut Vec<FileError>| match m.get(key) {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => {
                errors.push(err(file, None, format!("{id}: {key} is not true or false")));
                false
            }
        };
        let writing_permission = flag("WritingPermission", errors);
        let writing_restricted_desc = flag("WritingRestrictedDesc", errors);
        let every_originating_agency = flag("EveryOriginatingAgency", errors);
        let originating_agencies = match m.get("OriginatingAgencies") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(a)) if a.iter().all(|v| v.is_string()) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(_) => {
                errors.push(err(
                    file,
                    None,
                    format!("{id}: OriginatingAgencies is not an array of identifiers"),
                ));
                Vec::new()
            }
        };
        out.push(AccessContract {
            name: str_field(&m, "Name").unwrap_or_else(|| id.clone()),
            active: active(file, &id, &m, errors),
            identifier: id,
            writing_permission,
            writing_restricted_desc,
            every_originating_agency,
            originating_agencies,
        });
    }
    out
}

/// Ingest contracts from a `contracts/*.json` file; access and management contracts are
/// returned as skipped identifiers (access contracts are [`parse_access_contracts`]'s).
pub fn parse_contracts(
    file: &str,
    bytes: &[u8],
    errors: &mut Vec<FileError>,
) -> (Vec<IngestContract>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for m in json_array(file, bytes, errors) {
        let Some(id) = str_field(&m, "Identifier") else {
            errors.push(err(file, None, "a contract has no Identifier"));
            continue;
        };
        if let Some(kind) = contract_kind(&m) {
            skipped.push(format!("{id} ({kind})"));
            continue;
        }
        let profiles = match m.get("ArchiveProfiles") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(_) => {
                errors.push(err(
                    file,
                    None,
                    format!("{id}: ArchiveProfiles is not an array"),
                ));
                continue;
            }
        };
        out.push(IngestContract {
            name: str_field(&m, "Name").unwrap_or_else(|| id.clone()),
            active: active(file, &id, &m, errors),
            identifier: id,
            archive_profiles: profiles,
            originating_agencies: None,
        });
    }
    (out, skipped)
}

/// Profile descriptions from a `profiles/*.json` file; `load` gives the bytes of a schema file
/// of the same folder by name.
pub fn parse_profiles(
    file: &str,
    bytes: &[u8],
    load: &dyn Fn(&str) -> Option<Vec<u8>>,
    errors: &mut Vec<FileError>,
) -> Vec<ArchiveProfile> {
    let mut out = Vec::new();
    for m in json_array(file, bytes, errors) {
        let Some(id) = str_field(&m, "Identifier") else {
            errors.push(err(file, None, "a profile has no Identifier"));
            continue;
        };
        let format = match str_field(&m, "Format").as_deref() {
            Some("RNG") => ProfileFormat::RelaxNg,
            Some("XSD") => ProfileFormat::Xsd,
            other => {
                errors.push(err(
                    file,
                    None,
                    format!("{id}: Format {other:?} is neither RNG nor XSD"),
                ));
                continue;
            }
        };
        let ext = if format == ProfileFormat::RelaxNg {
            "rng"
        } else {
            "xsd"
        };
        let schema = match str_field(&m, "Path") {
            Some(path) => match load(&path) {
                Some(b) => Some(b),
                None => {
                    errors.push(err(
                        file,
                        None,
                        format!("{id}: its Path {path:?} is not a file of the profiles folder"),
                    ));
                    continue;
                }
            },
            None => load(&format!("{id}.{ext}")),
        };
        out.push(ArchiveProfile {
            name: str_field(&m, "Name").unwrap_or_else(|| id.clone()),
            active: active(file, &id, &m, errors),
            identifier: id,
            format,
            schema,
        });
    }
    out
}

/// The largest `ControlSchema` imported: Vitam's richest profiles are tens of kilobytes.
pub const MAX_CONTROL_SCHEMA: usize = 1 << 20;

/// Archive unit profiles from an `archiveUnitProfiles/*.json` file. Each `ControlSchema` is
/// compiled now: one that is not JSON, is too large or is not a usable JSON Schema (draft 4,
/// no reference outside itself) makes the file an error.
pub fn parse_unit_profiles(
    file: &str,
    bytes: &[u8],
    errors: &mut Vec<FileError>,
) -> Vec<ArchiveUnitProfile> {
    let mut out = Vec::new();
    for m in json_array(file, bytes, errors) {
        let Some(id) = str_field(&m, "Identifier") else {
            errors.push(err(file, None, "an archive unit profile has no Identifier"));
            continue;
        };
        let control_schema = match m.get("ControlSchema") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
            // Vitam gives the schema as a string; an object is taken as well.
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(v @ serde_json::Value::Object(_)) => Some(v.to_string()),
            Some(_) => {
                errors.push(err(
                    file,
                    None,
                    format!("{id}: ControlSchema is neither a string nor an object"),
                ));
                continue;
            }
        };
        if let Some(schema) = &control_schema {
            if schema.len() > MAX_CONTROL_SCHEMA {
                errors.push(err(
                    file,
                    None,
                    format!(
                        "{id}: its ControlSchema has {} bytes, more than the {MAX_CONTROL_SCHEMA} accepted",
                        schema.len()
                    ),
                ));
                continue;
            }
            if let Err(e) = crate::unit_profile::compile(schema) {
                errors.push(err(
                    file,
                    None,
                    format!("{id}: its ControlSchema cannot be used: {e}"),
                ));
                continue;
            }
        }
        out.push(ArchiveUnitProfile {
            name: str_field(&m, "Name").unwrap_or_else(|| id.clone()),
            active: active(file, &id, &m, errors),
            identifier: id,
            control_schema,
        });
    }
    out
}

/// The formats of a DROID signature file (the format referential).
pub fn parse_formats(file: &str, bytes: &[u8], errors: &mut Vec<FileError>) -> Vec<FileFormat> {
    match carnac_pronom::SignatureFile::parse(bytes) {
        Ok(sig) => sig
            .formats()
            .iter()
            .map(|f| FileFormat {
                puid: f.puid.clone(),
                name: f.name.clone(),
                mime_types: f
                    .mime_type
                    .iter()
                    .flat_map(|m| m.split(',').map(|s| s.trim().to_owned()))
                    .collect(),
                extensions: f.extensions.clone(),
            })
            .collect(),
        Err(e) => {
            errors.push(err(file, None, format!("not a DROID signature file: {e}")));
            Vec::new()
        }
    }
}

fn insert_unique<T>(
    map: &mut BTreeMap<String, T>,
    origin: &mut BTreeMap<String, String>,
    id: String,
    value: T,
    file: &str,
    errors: &mut Vec<FileError>,
) {
    if let Some(first) = origin.get(&id) {
        errors.push(err(
            file,
            None,
            format!("identifier {id:?} is already defined in {first}"),
        ));
        return;
    }
    origin.insert(id.clone(), file.to_owned());
    map.insert(id, value);
}

/// Reads every file of one kind of referential and gathers its entries by identifier,
/// refusing an identifier defined twice. `None` when the kind has no file at all.
fn gather<T>(
    dir: &Path,
    files: Vec<PathBuf>,
    errors: &mut Vec<FileError>,
    mut parse: impl FnMut(&str, &[u8], &mut Vec<FileError>) -> Vec<(String, T)>,
) -> Option<BTreeMap<String, T>> {
    if files.is_empty() {
        return None;
    }
    let (mut map, mut origin) = (BTreeMap::new(), BTreeMap::new());
    for f in files {
        let file = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
        match std::fs::read(&f) {
            Ok(bytes) => {
                for (id, entry) in parse(&file, &bytes, errors) {
                    insert_unique(&mut map, &mut origin, id, entry, &file, errors);
                }
            }
            Err(e) => errors.push(err(&file, None, format!("cannot read: {e}"))),
        }
    }
    Some(map)
}

/// Reads a referential folder. Unknown files are ignored; unknown sub-folders are named in
/// `skipped` so that nothing is silently dropped.
pub fn read_folder(dir: &Path) -> Result<FolderContent, Vec<FileError>> {
    let mut errors = Vec::new();
    let mut content = FolderContent::default();
    if !dir.is_dir() {
        return Err(vec![err(&dir.display().to_string(), None, "not a folder")]);
    }
    let list = |sub: &str, exts: &[&str]| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
        });
        files.sort();
        files
    };

    let profiles_dir = dir.join("profiles");
    let load_profile = |file: &str| -> Option<Vec<u8>> {
        // Only plain file names of the profiles folder: a Path cannot point elsewhere.
        if file.contains('/') || file.contains('\\') || file.starts_with('.') {
            return None;
        }
        std::fs::read(profiles_dir.join(file)).ok()
    };
    let mut skipped = Vec::new();
    let r = &mut content.referentials;
    r.agencies = gather(
        dir,
        list("agencies", &["csv"]),
        &mut errors,
        |file, b, errors| {
            parse_agencies(file, b, errors)
                .into_iter()
                .map(|(_, a)| (a.identifier.clone(), a))
                .collect()
        },
    );
    r.rules = gather(
        dir,
        list("rules", &["csv"]),
        &mut errors,
        |file, b, errors| {
            parse_rules(file, b, errors)
                .into_iter()
                .map(|(_, r)| (r.identifier.clone(), r))
                .collect()
        },
    );
    r.contracts = gather(
        dir,
        list("contracts", &["json"]),
        &mut errors,
        |file, b, errors| {
            let (contracts, others) = parse_contracts(file, b, errors);
            skipped.extend(
                others
                    .into_iter()
                    .filter(|s| !s.ends_with("(access contract)"))
                    .map(|s| {
                        (
                            file.to_owned(),
                            format!("{s}: not an ingest or access contract"),
                        )
                    }),
            );
            contracts
                .into_iter()
                .map(|c| (c.identifier.clone(), c))
                .collect()
        },
    );
    r.access_contracts = gather(
        dir,
        list("contracts", &["json"]),
        &mut errors,
        |file, b, errors| {
            parse_access_contracts(file, b, errors)
                .into_iter()
                .map(|c| (c.identifier.clone(), c))
                .collect()
        },
    );
    r.profiles = gather(
        dir,
        list("profiles", &["json"]),
        &mut errors,
        |file, b, errors| {
            parse_profiles(file, b, &load_profile, errors)
                .into_iter()
                .map(|p| (p.identifier.clone(), p))
                .collect()
        },
    );
    r.formats = gather(
        dir,
        list("formats", &["xml"]),
        &mut errors,
        |file, b, errors| {
            parse_formats(file, b, errors)
                .into_iter()
                .map(|f| (f.puid.clone(), f))
                .collect()
        },
    );
    r.unit_profiles = gather(
        dir,
        list("archiveUnitProfiles", &["json"]),
        &mut errors,
        |file, b, errors| {
            parse_unit_profiles(file, b, errors)
                .into_iter()
                .map(|p| (p.identifier.clone(), p))
                .collect()
        },
    );
    content.skipped.extend(skipped);
    let known: BTreeSet<&str> = [
        "agencies",
        "rules",
        "contracts",
        "profiles",
        "formats",
        "archiveUnitProfiles",
    ]
    .into();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut others: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !known.contains(n.as_str()))
            .collect();
        others.sort();
        for o in others {
            content.skipped.push((
                o,
                "folder not imported: not a referential of the ingest".into(),
            ));
        }
    }
    // Contract files are read twice (ingest, then access contracts): a malformed one once.
    let mut unique: Vec<FileError> = Vec::with_capacity(errors.len());
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    let errors = unique;
    if errors.is_empty() {
        Ok(content)
    } else {
        Err(errors)
    }
}

/// Unpacks a referential folder sent as a container (zip, tar, tar.gz, tar.bz2) into `dir`,
/// through the same checks as a transfer (paths, links, sizes, bombs). `Err`: every problem.
pub fn unpack_folder(container: std::fs::File, dir: &Path) -> Result<(), Vec<String>> {
    use carnac_container::{Container, ContainerError, Limits};
    // A referential folder is small: files of rules, agencies, contracts, profiles.
    let limits = Limits {
        max_total_size: 256 << 20,
        max_entries: 10_000,
        ..Limits::default()
    };
    let mut container = Container::open(container, limits).map_err(|e| vec![e.to_string()])?;
    let listing = container.scan().map_err(|e| vec![e.to_string()])?;
    if !listing.problems.is_empty() {
        return Err(listing.problems.iter().map(|p| p.message.clone()).collect());
    }
    container
        .for_each_file(
            |_| true,
            |entry, reader| -> Result<(), ContainerError> {
                // Paths were checked by the scan: relative, no `..`, no links.
                let target = dir.join(&entry.path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut out = std::fs::File::create(&target)?;
                std::io::copy(reader, &mut out)?;
                Ok(())
            },
        )
        .map_err(|e| vec![e.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agencies_and_rules_parse_with_lines() {
        let mut errors = Vec::new();
        let a = parse_agencies(
            "a.csv",
            b"Identifier,Name,Description\nAG1,One,First\n,Empty,x\n",
            &mut errors,
        );
        assert_eq!(a.len(), 1);
        assert_eq!(errors, [err("a.csv", Some(3), "empty Identifier")]);

        let mut errors = Vec::new();
        let csv = "RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement\n\
                   APP-1,AppraisalRule,v,d,10,Year\nACC-1,AccessRule,v,d,unlimited,\nX,Bogus,v,d,1,Year\nY,AccessRule,v,d,ten,Year\nZ,AccessRule,v,d,1,Week\n";
        let r = parse_rules("r.csv", csv.as_bytes(), &mut errors);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].1.duration,
            Some(RuleDuration {
                amount: 10,
                unit: DurationUnit::Year
            })
        );
        assert_eq!(r[1].1.duration, None);
        let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(4), Some(5), Some(6)]);
        assert!(errors[0].message.contains("Bogus"));

        let mut errors = Vec::new();
        parse_rules("r.csv", b"RuleId,RuleType\nA,AccessRule\n", &mut errors);
        assert!(
            errors.iter().any(|e| e.message.contains("RuleDuration")),
            "{errors:?}"
        );
    }

    #[test]
    fn access_contracts_say_whose_units_may_be_written() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/referentials/light");
        let content = read_folder(&base).expect("the folder reads");
        let access = content
            .referentials
            .access_contracts
            .expect("access contracts");
        let tnr = &access["ContratTNR"];
        assert!(tnr.writing_permission && tnr.every_originating_agency && tnr.active);
        assert!(tnr.allows_writing(Some("anyone")) && tnr.allows_writing(None));
        assert!(
            content
                .skipped
                .iter()
                .all(|(_, why)| !why.contains("ContratTNR")),
            "{:?}",
            content.skipped
        );
        let mut errors = Vec::new();
        let parsed = parse_access_contracts(
            "c.json",
            br#"[{"Identifier": "AC-1", "WritingPermission": true, "OriginatingAgencies": ["AG1"]},
                {"Identifier": "AC-2", "WritingPermission": false, "EveryOriginatingAgency": true},
                {"Identifier": "AC-3", "WritingPermission": "yes", "OriginatingAgencies": "AG1"},
                {"Identifier": "IC-1", "ArchiveProfiles": []}]"#,
            &mut errors,
        );
        assert_eq!(parsed.len(), 3, "the ingest contract is not one");
        assert!(parsed[0].allows_writing(Some("AG1")));
        assert!(!parsed[0].allows_writing(Some("AG2")) && !parsed[0].allows_writing(None));
        assert!(
            !parsed[1].allows_writing(Some("AG1")),
            "no writing permission"
        );
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "AC-3: WritingPermission is not true or false",
                "AC-3: OriginatingAgencies is not an array of identifiers"
            ]
        );
    }

    #[test]
    fn the_vitam_referentials_parse() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/seda/referentials");
        let mut errors = Vec::new();
        let agencies = parse_agencies(
            "agencies",
            &std::fs::read(base.join("agencies/agencies_init.csv")).unwrap(),
            &mut errors,
        );
        let rules = parse_rules(
            "rules",
            &std::fs::read(base.join("rules/rules_ok.csv")).unwrap(),
            &mut errors,
        );
        let (contracts, skipped) = parse_contracts(
            "c",
            &std::fs::read(base.join("contracts/referential_contracts_ok.json")).unwrap(),
            &mut errors,
        );
        let (_, access) = parse_contracts(
            "c",
            &std::fs::read(base.join("contracts/contract_acces_TNR.json")).unwrap(),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(agencies.len() > 70 && rules.len() > 60);
        assert!(
            contracts
                .iter()
                .any(|c| c.identifier == "ArchivalAgreement0" && c.active)
        );
        assert!(skipped.is_empty());
        assert_eq!(access.len(), 2);
        // The three archive unit profiles, their schemas compiled.
        let mut ids = Vec::new();
        for f in [
            "OK_AUP_schema_mail_Seda2.2.json",
            "aup_ok.json",
            "aup_ok_custom_schema.json",
        ] {
            let bytes = std::fs::read(base.join("archiveUnitProfiles").join(f)).unwrap();
            for p in parse_unit_profiles(f, &bytes, &mut errors) {
                assert!(p.active && p.control_schema.is_some());
                ids.push(p.identifier);
            }
        }
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            ids,
            ["AUP_IDENTIFIER_2.2", "AUP_IDENTIFIER", "AUP_CUSTOM_SCHEMA"]
        );
    }

    #[test]
    fn an_archive_unit_profile_whose_schema_cannot_be_used_is_refused() {
        let profile = |schema: serde_json::Value| {
            serde_json::to_vec(&serde_json::json!([{
                "Identifier": "AUP", "Name": "n", "Status": "ACTIVE", "ControlSchema": schema
            }]))
            .unwrap()
        };
        let refused = |bytes: Vec<u8>| {
            let mut errors = Vec::new();
            let got = parse_unit_profiles("aup.json", &bytes, &mut errors);
            assert!(got.is_empty(), "{got:?}");
            errors.pop().unwrap().message
        };
        // Not JSON, not a schema (draft 4: `type` names a type), outside itself.
        assert!(refused(profile("{ \"type\": ".into())).contains("not JSON"));
        assert!(refused(profile(r#"{"type": "text"}"#.into())).contains("cannot be used"));
        assert!(
            refused(profile(r#"{"$ref": "https://example.org/s.json"}"#.into()))
                .contains("cannot be used")
        );
        assert!(
            refused(profile(
                r#"{"properties": {"Title": {"pattern": "(("}}}"#.into()
            ))
            .contains("cannot be used")
        );
        let big = format!(r#"{{"description": "{}"}}"#, "x".repeat(MAX_CONTROL_SCHEMA));
        assert!(refused(profile(big.into())).contains("more than"));
        // Without a schema: imported; a unit that declares it will be refused.
        let mut errors = Vec::new();
        let got = parse_unit_profiles("aup.json", &profile(serde_json::Value::Null), &mut errors);
        assert!(errors.is_empty());
        assert_eq!(got[0].control_schema, None);
    }

    #[test]
    fn malformed_json_names_the_line() {
        let mut errors = Vec::new();
        parse_contracts(
            "c.json",
            b"[\n{\"Identifier\": \"A\",\n\"Status\": }\n]",
            &mut errors,
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(3));
        let mut errors = Vec::new();
        parse_contracts(
            "c.json",
            br#"[{"Identifier":"A","Status":"MAYBE"}]"#,
            &mut errors,
        );
        assert!(errors[0].message.contains("MAYBE"));
    }

    #[test]
    fn a_folder_with_duplicates_or_errors_is_refused_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("contracts")).unwrap();
        std::fs::create_dir_all(dir.path().join("agencies")).unwrap();
        std::fs::write(
            dir.path().join("contracts/a.json"),
            br#"[{"Identifier":"C1"}]"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("contracts/b.json"),
            br#"[{"Identifier":"C1"}]"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("agencies/x.csv"),
            b"Identifier,Name,Description\n\"unclosed,x,y\n",
        )
        .unwrap();
        let errors = read_folder(dir.path()).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.file == "contracts/b.json" && e.message.contains("contracts/a.json")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.file == "agencies/x.csv"),
            "{errors:?}"
        );
    }
}
