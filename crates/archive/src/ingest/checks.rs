//! The checks of a manifest that XSD cannot express, against its container's files and the
//! tenant's referentials. Pure: a manifest, a file list and referentials in; findings and a
//! plan of what to store out. Every check runs and adds to the report.
//!
//! This file is long because it is the list of Vitam's checks that XSD cannot do, each a
//! short function named after its step and code (`CHECK_DATAOBJECTPACKAGE`, rules, profiles,
//! classification): a reader comparing with Vitam finds them all in one place. Its tests
//! are in `checks/tests.rs`.

use crate::referential::Referentials;
use carnac_model::referential::{
    ArchiveProfile, DurationUnit, RuleCategory, RuleDuration, end_date,
};
use carnac_model::rules::{FinalAction, Management, Rule};
use carnac_model::{Digest, DigestAlgorithm, Report};
use carnac_seda::manifest::{Manifest, ObjectKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const STEP_PACKAGE: &str = "CHECK_DATAOBJECTPACKAGE";
pub const STEP_UNITS: &str = "CHECK_UNIT_SCHEMA";
pub const STEP_HEADER: &str = "CHECK_HEADER";
pub const STEP_PROFILE: &str = "CHECK_ARCHIVEPROFILE";
/// Vitam's name for the step that resolves each rule in the referential and computes its end.
pub const STEP_RULES: &str = "UNITS_RULES_COMPUTE";
pub const STEP_CLASSIFICATION: &str = "CHECK_CLASSIFICATION_LEVEL";
pub const STEP_OBJECTS: &str = "STP_OG_CHECK_AND_TRANSFORME";

/// The usages SEDA defines for `DataObjectVersion`, and whether each is for binary objects.
const USAGES: [(&str, bool); 5] = [
    ("BinaryMaster", true),
    ("Dissemination", true),
    ("Thumbnail", true),
    ("TextContent", true),
    ("PhysicalMaster", false),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedGroup {
    pub xml_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedObject {
    /// Index in [`Manifest::objects`].
    pub index: usize,
    /// Index in [`Plan::groups`].
    pub group: usize,
    /// Path of its file in the container.
    pub file: Option<String>,
    pub declared_digest: Option<Digest>,
    pub declared_size: Option<u64>,
    /// `Usage_Version`, e.g. `BinaryMaster_1`.
    pub version: String,
    pub physical: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUnit {
    /// Index in [`Manifest::units`].
    pub index: usize,
    /// Indexes in [`Plan::units`].
    pub parents: Vec<usize>,
    /// Indexes in [`Plan::groups`].
    pub groups: Vec<usize>,
    /// Its own management rules with their end dates; a root unit's include the package's
    /// (`ManagementMetadata`).
    pub management: Management,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub groups: Vec<PlannedGroup>,
    pub objects: Vec<PlannedObject>,
    pub units: Vec<PlannedUnit>,
}

/// Where the transferred files sit, hence how the manifest names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileLayout {
    /// A SEDA package: files under its `Content/` folder. SEDA 2 URIs include the folder
    /// (`Content/a.pdf`); SEDA 0.2 and 1.0 file names do not (`a.pdf`).
    Package,
    /// The attachments of a bordereau: names are paths from the container's root.
    Attachments,
}

/// The content files of the container.
pub struct ContentFiles<'a> {
    /// Container paths of the files (under the content folder, for a package).
    pub files: &'a [String],
    pub layout: FileLayout,
    pub version: carnac_seda::SedaVersion,
}

impl ContentFiles<'_> {
    /// The key a file is known by: what the manifest's names are matched with.
    fn key<'p>(&self, path: &'p str) -> Option<&'p str> {
        match self.layout {
            FileLayout::Package => content_relative(path),
            FileLayout::Attachments => Some(path),
        }
    }

    /// The key a manifest's name points at.
    fn named<'u>(&self, uri: &'u str) -> Option<&'u str> {
        match (self.layout, self.version) {
            (FileLayout::Package, v) if !v.describes_documents() => content_relative(uri),
            _ => Some(uri.strip_prefix("./").unwrap_or(uri)),
        }
    }
}

/// A URI's `%XX` sequences decoded; `None` when the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// A SEDA 2 `Uri` that found its file by the file's literal name, where reading it as the
/// URI it is (RFC 3986) would name another: a `#` starts a fragment, a `%` an escape. Carnac
/// accepts it (the file is unambiguous in the container, and Pastell and as@lae write names
/// as they are), but says so, because the manifest is kept as evidence and whoever reads it
/// later by the standard reaches another name. Names are not refused for these characters:
/// file names of the field carry `#` and `%` (« Délibération n°12 #2.pdf », « TVA 20%.ods »),
/// and what makes a name unsafe on disk or in another system (controls, `\ : * ? " < > |`,
/// `..`, absolute paths) is refused by the container's checks already.
fn warn_literal_uri(label: &str, uri: &str, report: &mut Report) {
    let as_uri = uri.split('#').next().unwrap_or(uri);
    let decoded = percent_decode(as_uri);
    if decoded.as_deref() == Some(uri) {
        return;
    }
    let means = match decoded {
        Some(d) if uri.contains('#') => format!("{d:?} followed by a fragment"),
        Some(d) => format!("{d:?}"),
        None => "no UTF-8 name at all".to_owned(),
    };
    report.warning(
        STEP_PACKAGE,
        "URI_LITERAL_NAME",
        format!(
            "{label}: its Uri {uri:?} is the file's name as written; read as a URI it means {means}. Write '#' as %23 and '%' as %25"
        ),
    );
}

/// The part of a path after the content folder, whatever its case (Vitam's samples write both
/// `Content/` and `content/`).
fn content_relative(path: &str) -> Option<&str> {
    let (first, rest) = path.split_once('/')?;
    first.eq_ignore_ascii_case("content").then_some(rest)
}

/// `BinaryMaster`, `BinaryMaster_2` → (usage, version).
pub fn parse_version(v: &str) -> Option<(&'static str, u32)> {
    let (usage, number) = match v.rsplit_once('_') {
        Some((u, n)) => (u, n.parse::<u32>().ok().filter(|n| *n > 0)?),
        None => (v, 1),
    };
    USAGES
        .iter()
        .find(|(u, _)| *u == usage)
        .map(|(u, _)| (*u, number))
}

fn is_binary_usage(usage: &str) -> bool {
    USAGES.iter().any(|(u, binary)| *u == usage && *binary)
}

/// A SEDA date or date-time, comparable: instants when both have a time, dates otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SedaDate {
    pub date: time::Date,
    pub instant: Option<time::OffsetDateTime>,
}

pub fn parse_date(s: &str) -> Option<SedaDate> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(SedaDate {
            date: t.to_offset(time::UtcOffset::UTC).date(),
            instant: Some(t),
        });
    }
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(s.get(..10)?, &date_fmt).ok()?;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(SedaDate {
            date,
            instant: None,
        });
    }
    // A local date-time without offset, or a date with an offset: read as UTC.
    let time_part = rest.strip_prefix('T')?;
    let hms = time_part.get(..8)?;
    let t_fmt = time::macros::format_description!("[hour]:[minute]:[second]");
    let t = time::Time::parse(hms, &t_fmt).ok()?;
    Some(SedaDate {
        date,
        instant: Some(time::PrimitiveDateTime::new(date, t).assume_utc()),
    })
}

fn before(a: &SedaDate, b: &SedaDate) -> bool {
    match (a.instant, b.instant) {
        (Some(x), Some(y)) => x <= y,
        _ => a.date <= b.date,
    }
}

/// Structure: identifiers, groups, objects, files, units and their links.
pub fn check_package(m: &Manifest, content: &ContentFiles<'_>, report: &mut Report) -> Plan {
    let mut plan = Plan::default();

    // Identifiers are unique across the package.
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let all_ids = m
        .group_elements
        .iter()
        .map(|g| (g.as_str(), "DataObjectGroup"))
        .chain(m.objects.iter().map(|o| (o.xml_id.as_str(), "data object")))
        .chain(m.units.iter().map(|u| (u.xml_id.as_str(), "ArchiveUnit")));
    for (id, what) in all_ids {
        if id.is_empty() {
            report.error(STEP_PACKAGE, "MISSING_ID", format!("a {what} has no id"));
        } else if let Some(first) = seen.insert(id, what) {
            report.error(
                STEP_PACKAGE,
                "DUPLICATE_ID",
                format!("id {id:?} is used by a {first} and by a {what}"),
            );
        }
    }

    // Groups: declared by elements, or by an object's DataObjectGroupId.
    let mut group_index: BTreeMap<String, usize> = BTreeMap::new();
    fn declare(plan: &mut Plan, index: &mut BTreeMap<String, usize>, id: &str) -> usize {
        *index.entry(id.to_owned()).or_insert_with(|| {
            plan.groups.push(PlannedGroup {
                xml_id: id.to_owned(),
            });
            plan.groups.len() - 1
        })
    }
    for g in &m.group_elements {
        declare(&mut plan, &mut group_index, g);
    }
    for o in &m.objects {
        if o.declares_group
            && o.group_element.is_none()
            && let Some(g) = &o.group
        {
            declare(&mut plan, &mut group_index, g);
        }
    }

    // Content files by their path under the content folder.
    let mut files: BTreeMap<&str, &str> = BTreeMap::new();
    for f in content.files {
        if let Some(rel) = content.key(f) {
            files.insert(rel, f.as_str());
        }
    }
    let mut used_files: BTreeMap<&str, &str> = BTreeMap::new();
    let mut versions_in_group: BTreeSet<(usize, String)> = BTreeSet::new();

    for (index, o) in m.objects.iter().enumerate() {
        let label = format!(
            "{} {:?}",
            if o.kind == ObjectKind::Binary {
                "BinaryDataObject"
            } else {
                "PhysicalDataObject"
            },
            o.xml_id
        );
        let physical = o.kind == ObjectKind::Physical;
        if let (Some(element), Some(named)) = (&o.group_element, &o.group)
            && element != named
        {
            report.warning(
                STEP_PACKAGE,
                "GROUP_CONFLICT",
                format!("{label} sits in the DataObjectGroup {element:?} but names the group {named:?}; the enclosing group is used"),
            );
        }
        let group = match o.group_element.as_ref().or(o.group.as_ref()) {
            Some(g) => match group_index.get(g) {
                Some(&i) => i,
                None => {
                    report.error(
                        STEP_PACKAGE,
                        "UNKNOWN_GROUP",
                        format!("{label} refers to the object group {g:?}, which is not declared"),
                    );
                    declare(&mut plan, &mut group_index, g)
                }
            },
            // An object outside any group forms a group of its own, named after it.
            None => declare(&mut plan, &mut group_index, &o.xml_id),
        };
        let version = match o.version.as_deref() {
            None => if physical {
                "PhysicalMaster_1"
            } else {
                "BinaryMaster_1"
            }
            .to_owned(),
            Some(v) => match parse_version(v) {
                Some((usage, n)) => {
                    if is_binary_usage(usage) == physical {
                        report.error(
                            STEP_PACKAGE,
                            "VERSION_KIND_MISMATCH",
                            format!(
                                "{label} has DataObjectVersion {v:?}, a usage for {} objects",
                                if physical { "binary" } else { "physical" }
                            ),
                        );
                    }
                    format!("{usage}_{n}")
                }
                None => {
                    report.error(
                        STEP_PACKAGE,
                        "INVALID_VERSION",
                        format!("{label} has DataObjectVersion {v:?}; expected BinaryMaster, Dissemination, Thumbnail, TextContent or PhysicalMaster, optionally followed by _N"),
                    );
                    v.to_owned()
                }
            },
        };
        if !versions_in_group.insert((group, version.clone())) {
            report.error(
                STEP_PACKAGE,
                "DUPLICATE_VERSION",
                format!("{label}: its object group already has a {version}"),
            );
        }

        let mut planned = PlannedObject {
            index,
            group,
            file: None,
            declared_digest: None,
            declared_size: None,
            version,
            physical,
        };
        if !physical {
            match &o.digest {
                None => report.error("CHECK_DIGEST", "DIGEST_MISSING", format!("{label} declares no digest (MessageDigest; Integrity in SEDA 0.2 and 1.0)")),
                Some((algo, value)) => match DigestAlgorithm::from_seda_name(algo) {
                    None => report.error(
                        "CHECK_DIGEST",
                        "DIGEST_ALGORITHM",
                        format!("{label}: digest algorithm {algo:?} is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
                    ),
                    Some(a) => match Digest::parse_declared(a, value) {
                        Some(d) => planned.declared_digest = Some(d),
                        None => report.error("CHECK_DIGEST", "DIGEST_MALFORMED", format!("{label}: {value:?} is not a {a} digest in hexadecimal")),
                    },
                },
            }
            if let Some(size) = &o.size {
                match size.trim().parse::<u64>() {
                    Ok(s) => planned.declared_size = Some(s),
                    Err(_) => report.error(
                        STEP_PACKAGE,
                        "INVALID_SIZE",
                        format!("{label}: Size {size:?} is not a number of bytes"),
                    ),
                }
            }
            match o.uri.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
                None => report.error(STEP_PACKAGE, "NO_URI", format!("{label} has no Uri")),
                Some(uri) => {
                    // As written first (SEDA 1.0 and as@lae send plain file names), then
                    // percent-decoded (a URI).
                    let literal = content.named(uri).and_then(|rel| files.get(rel).copied());
                    let found = literal.or_else(|| {
                        percent_decode(uri)
                            .as_deref()
                            .and_then(|u| content.named(u))
                            .and_then(|rel| files.get(rel).copied())
                    });
                    if literal.is_some() && !content.version.describes_documents() {
                        warn_literal_uri(&label, uri, report);
                    }
                    match found {
                        None => report.error(
                            STEP_PACKAGE,
                            "MANIFEST_SUPERIOR_BDO",
                            match content.layout {
                                FileLayout::Package => format!("{label} names the file {uri:?}, which is not in the container's content folder"),
                                FileLayout::Attachments => format!("{label} names the file {uri:?}, which is not among the attachments"),
                            },
                        ),
                        Some(path) => {
                            match used_files.insert(path, o.xml_id.as_str()) {
                                // SEDA 0.2 and 1.0 describe documents: two may be the same
                                // file (the PES Marché flow files one PES under two
                                // headings); each object gets its own copy.
                                Some(_) if content.version.describes_documents() => {
                                    planned.file = Some(path.to_owned());
                                }
                                Some(other) => report.error(STEP_PACKAGE, "DUPLICATE_URI", format!("{label} and {other:?} name the same file {path:?}")),
                                None => planned.file = Some(path.to_owned()),
                            }
                        }
                    }
                }
            }
        }
        plan.objects.push(planned);
    }
    for f in content.files {
        if !used_files.contains_key(f.as_str()) {
            report.error(
                STEP_PACKAGE,
                "MANIFEST_INFERIOR_BDO",
                format!("the file {f:?} is in the container but no object declares it"),
            );
        }
    }
    if m.objects.is_empty() {
        report.warning(
            STEP_OBJECTS,
            "NO_OBJECT",
            "the transfer holds archive units but no data object",
        );
    }

    // Units: real ones become catalog units; `ArchiveUnitRefId` elements only add a link.
    let mut by_xml: HashMap<&str, usize> = HashMap::new();
    for (i, u) in m.units.iter().enumerate() {
        if u.ref_target.is_none() {
            by_xml.insert(u.xml_id.as_str(), plan.units.len());
            plan.units.push(PlannedUnit {
                index: i,
                parents: Vec::new(),
                groups: Vec::new(),
                management: Management::default(),
            });
        }
    }
    let object_group: HashMap<&str, usize> = plan
        .objects
        .iter()
        .map(|o| (m.objects[o.index].xml_id.as_str(), o.group))
        .collect();
    let in_declared_group: BTreeSet<&str> = m
        .objects
        .iter()
        .filter(|o| o.group_element.is_some() || o.group.is_some())
        .map(|o| o.xml_id.as_str())
        .collect();
    let mut referenced_groups = BTreeSet::new();
    // A reference may point at another reference element: follow the chain to a real unit.
    let refs: HashMap<&str, &str> = m
        .units
        .iter()
        .filter_map(|u| u.ref_target.as_deref().map(|t| (u.xml_id.as_str(), t)))
        .collect();
    let resolve = |target: &str| -> Option<usize> {
        let mut current = target;
        for _ in 0..=refs.len() {
            if let Some(&real) = by_xml.get(current) {
                return Some(real);
            }
            current = refs.get(current)?;
        }
        None
    };
    for (i, u) in m.units.iter().enumerate() {
        let enclosing = u
            .parent
            .and_then(|p| by_xml.get(m.units[p].xml_id.as_str()).copied());
        match &u.ref_target {
            Some(target) => match resolve(target) {
                Some(t) => {
                    if let Some(p) = enclosing {
                        plan.units[t].parents.push(p);
                    }
                }
                None => report.error(
                    STEP_PACKAGE,
                    "UNKNOWN_UNIT",
                    format!(
                        "ArchiveUnit {:?} refers to the unit {target:?}, which is not declared",
                        u.xml_id
                    ),
                ),
            },
            None => {
                let me = by_xml[u.xml_id.as_str()];
                if let Some(p) = enclosing {
                    plan.units[me].parents.push(p);
                }
                for g in &u.group_refs {
                    match group_index.get(g) {
                        Some(&gi) => {
                            plan.units[me].groups.push(gi);
                            referenced_groups.insert(gi);
                        }
                        None => report.error(
                            STEP_PACKAGE,
                            "UNKNOWN_GROUP",
                            format!("ArchiveUnit {:?} refers to the object group {g:?}, which is not declared", u.xml_id),
                        ),
                    }
                }
                for o in &u.object_refs {
                    match object_group.get(o.as_str()) {
                        // Vitam refuses it: the group is what a unit holds, and naming one
                        // of its objects would attach the unit to all its versions unsaid.
                        // (The group is not orphan for it: one reason, not two.)
                        Some(&gi) if in_declared_group.contains(o.as_str()) => {
                            referenced_groups.insert(gi);
                            report.error(
                                STEP_PACKAGE,
                                "OBJECT_REFERENCE_IN_GROUP",
                                format!(
                                    "ArchiveUnit {:?} refers to the data object {o:?}, which belongs to the object group {:?}: refer to the group (DataObjectGroupReferenceId)",
                                    u.xml_id, plan.groups[gi].xml_id
                                ),
                            )
                        }
                        // An object declared without a group has a group of its own (as
                        // Vitam's technical group): the unit is attached to it.
                        Some(&gi) => {
                            plan.units[me].groups.push(gi);
                            referenced_groups.insert(gi);
                        }
                        None => report.error(
                            STEP_PACKAGE,
                            "UNKNOWN_OBJECT",
                            format!("ArchiveUnit {:?} refers to the data object {o:?}, which is not declared", u.xml_id),
                        ),
                    }
                }
                check_unit_content(m, i, content.version, report);
            }
        }
    }
    for (gi, g) in plan.groups.iter().enumerate() {
        if !referenced_groups.contains(&gi) {
            report.error(
                STEP_PACKAGE,
                "ORPHAN_GROUP",
                format!(
                    "the object group {:?} is referenced by no archive unit",
                    g.xml_id
                ),
            );
        }
    }
    for cycle in cycles(&plan) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&u| m.units[plan.units[u].index].xml_id.as_str())
            .collect();
        report.error(
            STEP_PACKAGE,
            "CYCLE",
            format!("archive units form a cycle: {}", names.join(" -> ")),
        );
    }
    plan
}

fn check_unit_content(
    m: &Manifest,
    i: usize,
    version: carnac_seda::SedaVersion,
    report: &mut Report,
) {
    let u = &m.units[i];
    if !u.has_content {
        report.error(
            STEP_UNITS,
            "NO_CONTENT",
            format!("ArchiveUnit {:?} has no Content", u.xml_id),
        );
        return;
    }
    if u.titles.iter().all(|t| t.trim().is_empty()) {
        report.error(
            STEP_UNITS,
            "EMPTY_TITLE",
            format!("ArchiveUnit {:?} has no non-empty Title", u.xml_id),
        );
    }
    let parse = |what: &str, v: &Option<String>, report: &mut Report| -> Option<SedaDate> {
        let v = v.as_deref()?;
        let d = parse_date(v);
        if d.is_none() {
            report.error(
                STEP_UNITS,
                "INVALID_DATE",
                format!("ArchiveUnit {:?}: {what} {v:?} is not a date", u.xml_id),
            );
        }
        d
    };
    let start = parse("StartDate", &u.start_date, report);
    let end = parse("EndDate", &u.end_date, report);
    if let (Some(s), Some(e)) = (start, end)
        && !before(&s, &e)
    {
        let message = format!(
            "ArchiveUnit {:?}: StartDate {} is after EndDate {}",
            u.xml_id,
            u.start_date.as_deref().unwrap_or_default(),
            u.end_date.as_deref().unwrap_or_default()
        );
        // SEDA 1.0's OldestDate and LatestDate are filled by the flows of acts from two
        // different dates (the act's and its acknowledgement's), which come in either order;
        // as@lae takes them. Said, not refused.
        if version.describes_documents() {
            report.warning(STEP_UNITS, "DATES_INCONSISTENT", message);
        } else {
            report.error(STEP_UNITS, "DATES_INCONSISTENT", message);
        }
    }
}

/// Every cycle of the parent relation, each reported once (as found by a depth-first walk).
fn cycles(plan: &Plan) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let n = plan.units.len();
    let mut mark = vec![Mark::New; n];
    let mut found = Vec::new();
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative DFS over parent links: (node, next parent to visit).
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&p) = plan.units[node].parents.get(*next) {
                *next += 1;
                match mark[p] {
                    Mark::New => {
                        mark[p] = Mark::Open;
                        stack.push((p, 0));
                    }
                    Mark::Open => {
                        let start = stack.iter().position(|(u, _)| *u == p).unwrap_or(0);
                        let mut cycle: Vec<usize> =
                            stack[start..].iter().map(|(u, _)| *u).collect();
                        cycle.push(p);
                        found.push(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    found
}

/// The transfer's header against the tenant's referentials. Returns the archive profile the
/// manifest must then conform to, when it declares one that may be used.
/// The as@lae intake's reading of the producer: as@lae takes the originating agency from
/// the description of the first archive unit, else from the transferring agency, when the
/// package's `ManagementMetadata` names none (Pastell's SEDA 2.1 bordereaux do not).
pub fn asalae_originating_agency(m: &mut Manifest) {
    let named = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
    if named(&m.header.originating_agency) {
        return;
    }
    m.header.originating_agency = m
        .units
        .iter()
        .find(|u| u.parent.is_none())
        .and_then(|u| u.originating_agency.clone())
        .filter(|a| !a.trim().is_empty())
        .or_else(|| m.header.transferring_agency.clone());
}

/// The longest identifier a manifest's header may give (message, agreement, profile,
/// agencies): SEDA leaves them unbounded, and each goes into the reply, the catalog and the
/// journal.
pub const MAX_IDENTIFIER: usize = 1024;

/// Refuses header identifiers longer than [`MAX_IDENTIFIER`], and cuts them so that every
/// later message quotes a short form (the reply still names the problem).
pub fn bound_header(m: &mut Manifest, report: &mut Report) {
    let h = &mut m.header;
    let mut fields: Vec<(&str, &mut String)> =
        vec![("MessageIdentifier", &mut h.message_identifier)];
    for (name, v) in [
        ("ArchivalAgreement", &mut h.archival_agreement),
        ("ArchivalAgency", &mut h.archival_agency),
        ("TransferringAgency", &mut h.transferring_agency),
        ("ArchivalProfile", &mut h.archival_profile),
        ("OriginatingAgencyIdentifier", &mut h.originating_agency),
        ("SubmissionAgencyIdentifier", &mut h.submission_agency),
    ] {
        if let Some(v) = v.as_mut() {
            fields.push((name, v));
        }
    }
    for (name, v) in fields {
        if v.len() > MAX_IDENTIFIER {
            report.error(
                STEP_HEADER,
                "IDENTIFIER_TOO_LONG",
                format!(
                    "{name} has {} bytes; an identifier has at most {MAX_IDENTIFIER}",
                    v.len()
                ),
            );
            *v = carnac_model::journal::bounded_text(v, 64);
        }
    }
}

pub fn check_header<'r>(
    m: &Manifest,
    refs: &'r Referentials,
    report: &mut Report,
) -> Option<&'r ArchiveProfile> {
    let h = &m.header;
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let agencies = refs.agencies.as_ref();
    match nonempty(&h.originating_agency) {
        None => report.error(
            STEP_HEADER,
            "CHECK_AGENT.ORIGINATING_MISSING",
            "the manifest names no OriginatingAgencyIdentifier",
        ),
        Some(a) if !agencies.is_some_and(|m| m.contains_key(&a)) => report.error(
            STEP_HEADER,
            "CHECK_AGENT.UNKNOWN",
            format!("the originating agency {a:?} is not in the tenant's agencies referential"),
        ),
        Some(_) => {}
    }
    if let Some(a) = nonempty(&h.submission_agency)
        && !agencies.is_some_and(|m| m.contains_key(&a))
    {
        report.error(
            STEP_HEADER,
            "CHECK_AGENT.UNKNOWN",
            format!("the submission agency {a:?} is not in the tenant's agencies referential"),
        );
    }

    let contract = match nonempty(&h.archival_agreement) {
        None => {
            report.error(
                STEP_HEADER,
                "CHECK_CONTRACT_INGEST.CONTRACT_NOT_IN_MANIFEST",
                "the manifest names no ArchivalAgreement (ingest contract)",
            );
            None
        }
        Some(id) => match refs.contracts.as_ref().and_then(|c| c.get(&id)) {
            None => {
                report.error(
                    STEP_HEADER,
                    "CHECK_CONTRACT_INGEST.CONTRACT_UNKNOWN",
                    format!("the ingest contract {id:?} does not exist for this tenant"),
                );
                None
            }
            Some(c) if !c.active => {
                report.error(
                    STEP_HEADER,
                    "CHECK_CONTRACT_INGEST.CONTRACT_INACTIVE",
                    format!("the ingest contract {id:?} is inactive"),
                );
                None
            }
            Some(c) => Some(c),
        },
    };
    let declared = nonempty(&h.archival_profile);
    let contract = contract?;
    match declared {
        None => {
            if !contract.archive_profiles.is_empty() {
                report.error(
                    STEP_PROFILE,
                    "CHECK_IC_AP_RELATION.MISSING",
                    format!(
                        "the ingest contract {:?} requires one of the archive profiles {:?}, and the manifest declares none",
                        contract.identifier, contract.archive_profiles
                    ),
                );
            }
            None
        }
        Some(p) => {
            // A contract that lists no profile lets a transfer declare any profile of the
            // tenant that exists and is active (checked below), as Vitam does; one that lists
            // some allows those only.
            if !contract.archive_profiles.is_empty()
                && !contract.archive_profiles.iter().any(|x| x == &p)
            {
                report.error(
                    STEP_PROFILE,
                    "CHECK_IC_AP_RELATION.DIFF",
                    format!(
                        "the archive profile {p:?} is not allowed by the ingest contract {:?}",
                        contract.identifier
                    ),
                );
                return None;
            }
            match refs.profiles.as_ref().and_then(|ps| ps.get(&p)) {
                None => {
                    report.error(
                        STEP_PROFILE,
                        "PROFILE_UNKNOWN",
                        format!("the archive profile {p:?} does not exist for this tenant"),
                    );
                    None
                }
                Some(profile) if !profile.active => {
                    report.error(
                        STEP_PROFILE,
                        "PROFILE_INACTIVE",
                        format!("the archive profile {p:?} is inactive"),
                    );
                    None
                }
                Some(profile) if profile.schema.is_none() => {
                    report.error(
                        STEP_PROFILE,
                        "PROFILE_WITHOUT_SCHEMA",
                        format!("the archive profile {p:?} has no schema file to validate against"),
                    );
                    None
                }
                Some(profile) => Some(profile),
            }
        }
    }
}

/// `P10Y`, `P6M`, `P30D` (one unit, as SEDA 1.0 durations are written); `Ok(None)` for an
/// empty duration (an end the transfer cannot date).
fn parse_iso_duration(s: &str) -> Result<Option<RuleDuration>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let body = s.strip_prefix('P').ok_or(())?;
    let (number, unit) = body.split_at(body.len().checked_sub(1).ok_or(())?);
    let amount: u32 = number.parse().map_err(|_| ())?;
    let unit = match unit {
        "Y" => DurationUnit::Year,
        "M" => DurationUnit::Month,
        "D" => DurationUnit::Day,
        _ => return Err(()),
    };
    Ok(Some(RuleDuration { amount, unit }))
}

/// Every rule exists in its category; end dates are computed from start dates; each unit's
/// own management (with the package's, for root units) goes into the plan.
pub fn check_rules(m: &Manifest, refs: &Referentials, plan: &mut Plan, report: &mut Report) {
    let rules = refs.rules.as_ref();
    let resolve = |owner: &str, r: &carnac_seda::manifest::RuleRef, report: &mut Report| -> Rule {
        let mut end = None;
        let planned = |end: Option<String>| Rule {
            rule: r.rule.clone(),
            start_date: r.start_date.clone(),
            end_date: end,
            given_duration: r.given_duration.clone(),
            hold: r.hold.clone(),
            ..Rule::default()
        };
        if let Some(given) = &r.given_duration {
            // SEDA 0.2 and 1.0: the transfer gives the duration; no referential is involved.
            let start = r.start_date.as_deref().map(|s| (s, parse_date(s)));
            match (parse_iso_duration(given), start) {
                    (_, Some((s, None))) => report.error(
                        STEP_RULES,
                        "INVALID_DATE",
                        format!("{owner}: rule {:?} has StartDate {s:?}, not a date", r.rule),
                    ),
                    (Err(()), _) => report.error(
                        STEP_RULES,
                        "INVALID_DURATION",
                        format!(
                            "{owner}: rule {:?} has the duration {given:?}, not an ISO 8601 duration in years, months or days",
                            r.rule
                        ),
                    ),
                    (Ok(Some(d)), Some((_, Some(start)))) => {
                        end = end_date(start.date, d).map(|e| e.to_string())
                    }
                    _ => {}
                }
            return planned(end);
        }
        match rules.and_then(|rs| rs.get(&r.rule)) {
            // Vitam's outcomes: UNKNOWN, and CONSISTENCY for a rule of another category.
            None => report.error(
                STEP_RULES,
                "UNKNOWN",
                format!(
                    "{owner}: the rule {:?} is not in the tenant's rules referential",
                    r.rule
                ),
            ),
            Some(def) if def.category != r.category => report.error(
                STEP_RULES,
                "CONSISTENCY",
                format!(
                    "{owner}: the rule {:?} is a {} in the referential, used as a {}",
                    r.rule,
                    def.category.as_str(),
                    r.category.as_str()
                ),
            ),
            Some(def) => {
                let start = match r.start_date.as_deref() {
                    Some(s) => match parse_date(s) {
                        Some(d) => Some(d.date),
                        None => {
                            report.error(
                                STEP_RULES,
                                "INVALID_DATE",
                                format!(
                                    "{owner}: rule {:?} has StartDate {s:?}, not a date",
                                    r.rule
                                ),
                            );
                            None
                        }
                    },
                    None => None,
                };
                end = hold_or_rule_end(owner, r, def.duration, start, report);
            }
        }
        planned(end)
    };
    // A RefNonRuleId removes one inherited rule of its own category: naming a rule that does
    // not exist, or one of another category, removes nothing and says the transfer is not
    // what its producer meant (Vitam: REF_INCONSISTENCY).
    let excluded = |owner: &str, refs: &[(RuleCategory, String)], report: &mut Report| {
        for (category, id) in refs {
            match rules.and_then(|rs| rs.get(id)) {
                None => report.error(
                    STEP_RULES,
                    "REF_INCONSISTENCY",
                    format!(
                        "{owner}: RefNonRuleId {id:?} in {} names no rule of the tenant's rules referential",
                        category.as_str()
                    ),
                ),
                Some(def) if def.category != *category => report.error(
                    STEP_RULES,
                    "REF_INCONSISTENCY",
                    format!(
                        "{owner}: RefNonRuleId {id:?} in {} names a {}",
                        category.as_str(),
                        def.category.as_str()
                    ),
                ),
                Some(_) => {}
            }
        }
    };
    let management = |owner: &str,
                      given: &[carnac_seda::manifest::RuleRef],
                      refs: &[(RuleCategory, String)],
                      actions: &[(RuleCategory, String)],
                      prevents: &[(RuleCategory, String)],
                      report: &mut Report|
     -> Management {
        let mut out = Management::default();
        for r in given {
            let rule = resolve(owner, r, report);
            out.category_mut(r.category).rules.push(rule);
        }
        excluded(owner, refs, report);
        for (category, id) in refs {
            out.category_mut(*category)
                .ref_non_rule_ids
                .push(id.clone());
        }
        for (category, value) in actions {
            match FinalAction::parse(value.trim()) {
                Some(a) if a.fits(*category) => out.category_mut(*category).final_action = Some(a),
                _ => report.error(
                    STEP_RULES,
                    "FINAL_ACTION",
                    format!(
                        "{owner}: FinalAction {value:?} is not one a {} may have",
                        category.as_str()
                    ),
                ),
            }
        }
        for (category, value) in prevents {
            if matches!(value.trim(), "true" | "1") {
                out.category_mut(*category).prevent_inheritance = true;
            }
        }
        out
    };
    let h = &m.header;
    let package = management(
        "ManagementMetadata",
        &h.rules,
        &h.ref_non_rules,
        &h.final_actions,
        &h.prevent_inheritance,
        report,
    );
    for unit in &mut plan.units {
        let u = &m.units[unit.index];
        let owner = format!("ArchiveUnit {:?}", u.xml_id);
        unit.management = management(
            &owner,
            &u.rules,
            &u.ref_non_rules,
            &u.final_actions,
            &u.prevent_inheritance,
            report,
        );
        if unit.parents.is_empty() {
            unit.management.merge_package_rules(&package);
        }
    }
}

/// A rule's end: its start plus the referential's duration. A hold (SEDA 2.2) whose rule has
/// no duration ends at its `HoldEndDate`, or never; one whose rule has a duration cannot
/// also give a `HoldEndDate` (Vitam: `HOLD_END_DATE_ONLY_ALLOWED_FOR_HOLD_RULE_WITH_UNDEFINED_DURATION`).
/// A refusal is Vitam's code and a message naming the rule.
pub(crate) fn rule_end(
    category: RuleCategory,
    rule: &str,
    hold_end: Option<&str>,
    duration: Option<RuleDuration>,
    start: Option<time::Date>,
) -> Result<Option<String>, (&'static str, String)> {
    match (category, duration, hold_end) {
        (RuleCategory::HoldRule, None, Some(given)) => {
            let Some(end) = parse_date(given) else {
                return Err((
                    "INVALID_DATE",
                    format!("hold {rule:?} has HoldEndDate {given:?}, not a date"),
                ));
            };
            if start.is_some_and(|s| end.date < s) {
                return Err((
                    "HOLD_END_DATE_BEFORE_START_DATE",
                    format!("hold {rule:?} ends ({given}) before it starts"),
                ));
            }
            Ok(Some(end.date.to_string()))
        }
        (RuleCategory::HoldRule, Some(_), Some(given)) => Err((
            "HOLD_END_DATE_ONLY_ALLOWED_FOR_HOLD_RULE_WITH_UNDEFINED_DURATION",
            format!("hold {rule:?} gives HoldEndDate {given:?}, but its rule has a duration"),
        )),
        (_, Some(d), _) => Ok(start.and_then(|s| end_date(s, d)).map(|e| e.to_string())),
        (_, None, _) => Ok(None),
    }
}

fn hold_or_rule_end(
    owner: &str,
    r: &carnac_seda::manifest::RuleRef,
    duration: Option<RuleDuration>,
    start: Option<time::Date>,
    report: &mut Report,
) -> Option<String> {
    rule_end(
        r.category,
        &r.rule,
        r.hold.end_date.as_deref(),
        duration,
        start,
    )
    .unwrap_or_else(|(code, message)| {
        report.error(STEP_RULES, code, format!("{owner}: {message}"));
        None
    })
}

/// Every `ClassificationLevel` (of a unit or of the package's `ManagementMetadata`) is one
/// the platform allows. The list is the platform's, not a tenant's: it is bounded by what the
/// operator is approved to hold (IGI 1300), which a tenant cannot widen.
pub fn check_classification(m: &Manifest, allowed: &[String], report: &mut Report) {
    let mut check = |owner: &str, level: &Option<String>| {
        if let Some(level) = level
            && !allowed.iter().any(|a| a == level)
        {
            report.error(
                STEP_CLASSIFICATION,
                "LEVEL_NOT_ALLOWED",
                format!(
                    "{owner}: the classification level {level:?} is not one this archive accepts ({})",
                    if allowed.is_empty() {
                        "it accepts none".to_owned()
                    } else {
                        format!("{allowed:?}")
                    }
                ),
            );
        }
    };
    check("ManagementMetadata", &m.header.classification_level);
    for u in m.units.iter().filter(|u| u.ref_target.is_none()) {
        check(
            &format!("ArchiveUnit {:?}", u.xml_id),
            &u.classification_level,
        );
    }
}

#[cfg(test)]
mod tests;
