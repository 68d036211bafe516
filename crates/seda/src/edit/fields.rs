//! What a correction may do with each element of `Content`: the fields it writes, their
//! shapes and children, in the order of SEDA 2.1 to 2.3's ontology schemas; the others and
//! why they never change here.

use crate::SedaVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// Written once, text only.
    Text,
    /// Repeated, text only.
    Texts,
    /// `Title`, `Description`: text, once without a language and once per language.
    Lang,
    /// Written once, with children.
    Object(&'static [Child]),
    /// Repeated, with children.
    Objects(&'static [Child]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Child {
    pub(super) name: &'static str,
    pub(super) shape: Shape,
}

const fn text(name: &'static str) -> Child {
    Child {
        name,
        shape: Shape::Text,
    }
}

const fn texts(name: &'static str) -> Child {
    Child {
        name,
        shape: Shape::Texts,
    }
}

// The children of the complex fields, in the order of SEDA 2.1 to 2.3's ontology schema.
const KEYWORD: &[Child] = &[
    text("KeywordContent"),
    text("KeywordReference"),
    text("KeywordType"),
];
const COVERAGE: &[Child] = &[texts("Spatial"), texts("Temporal"), texts("Juridictional")];
const CUSTODIAL_HISTORY: &[Child] = &[texts("CustodialHistoryItem")];
const PLACE: &[Child] = &[
    text("Geogname"),
    text("Address"),
    text("PostalCode"),
    text("City"),
    text("Region"),
    text("Country"),
];
const AGENT: &[Child] = &[
    text("FirstName"),
    text("BirthName"),
    text("FullName"),
    text("GivenName"),
    text("Gender"),
    text("BirthDate"),
    Child {
        name: "BirthPlace",
        shape: Shape::Object(PLACE),
    },
    text("DeathDate"),
    Child {
        name: "DeathPlace",
        shape: Shape::Object(PLACE),
    },
    texts("Nationality"),
    text("Corpname"),
    texts("Identifier"),
    texts("Function"),
    texts("Activity"),
    texts("Position"),
    texts("Role"),
    texts("Mandate"),
];
const GPS: &[Child] = &[
    text("GpsVersionID"),
    text("GpsAltitude"),
    text("GpsAltitudeRef"),
    text("GpsLatitude"),
    text("GpsLatitudeRef"),
    text("GpsLongitude"),
    text("GpsLongitudeRef"),
    text("GpsDateStamp"),
];

/// Every element `Content` may hold, in the schema's order (2.1 to 2.3 together: no version
/// has both `Signature` and `SigningInformation`), with what a patch may do with it.
pub(super) const CONTENT: &[(&str, Field)] = &[
    ("DescriptionLevel", Field::Edit(Shape::Text, 1)),
    ("Title", Field::Edit(Shape::Lang, 1)),
    ("FilePlanPosition", Field::Edit(Shape::Texts, 1)),
    ("SystemId", Field::Fixed(GIVEN_BY_ARCHIVE)),
    ("OriginatingSystemId", Field::Fixed(PRODUCER_SYSTEM)),
    (
        "ArchivalAgencyArchiveUnitIdentifier",
        Field::Fixed(GIVEN_BY_ARCHIVE),
    ),
    (
        "OriginatingAgencyArchiveUnitIdentifier",
        Field::Edit(Shape::Texts, 1),
    ),
    (
        "TransferringAgencyArchiveUnitIdentifier",
        Field::Edit(Shape::Texts, 1),
    ),
    ("Description", Field::Edit(Shape::Lang, 1)),
    (
        "CustodialHistory",
        Field::Edit(Shape::Object(CUSTODIAL_HISTORY), 1),
    ),
    ("Type", Field::Edit(Shape::Text, 1)),
    ("DocumentType", Field::Edit(Shape::Text, 1)),
    ("Language", Field::Edit(Shape::Texts, 1)),
    ("DescriptionLanguage", Field::Edit(Shape::Text, 1)),
    ("Status", Field::Edit(Shape::Text, 1)),
    ("Version", Field::Edit(Shape::Text, 1)),
    ("Tag", Field::Edit(Shape::Texts, 1)),
    ("Keyword", Field::Edit(Shape::Objects(KEYWORD), 1)),
    ("Coverage", Field::Edit(Shape::Object(COVERAGE), 1)),
    ("OriginatingAgency", Field::Fixed(OWNER)),
    ("SubmissionAgency", Field::Fixed(OWNER)),
    ("AgentAbstract", Field::Fixed(NOT_COVERED)),
    ("Agent", Field::Fixed(NOT_COVERED)),
    ("AuthorizedAgent", Field::Fixed(NOT_COVERED)),
    ("Writer", Field::Edit(Shape::Objects(AGENT), 1)),
    ("Addressee", Field::Edit(Shape::Objects(AGENT), 1)),
    ("Recipient", Field::Edit(Shape::Objects(AGENT), 1)),
    ("Transmitter", Field::Edit(Shape::Objects(AGENT), 1)),
    ("Sender", Field::Edit(Shape::Objects(AGENT), 1)),
    ("Source", Field::Edit(Shape::Text, 1)),
    ("RelatedObjectReference", Field::Fixed(LINKS)),
    ("CreatedDate", Field::Edit(Shape::Text, 1)),
    ("TransactedDate", Field::Edit(Shape::Text, 1)),
    ("AcquiredDate", Field::Edit(Shape::Text, 1)),
    ("SentDate", Field::Edit(Shape::Text, 1)),
    ("ReceivedDate", Field::Edit(Shape::Text, 1)),
    ("RegisteredDate", Field::Edit(Shape::Text, 1)),
    ("StartDate", Field::Edit(Shape::Text, 1)),
    ("EndDate", Field::Edit(Shape::Text, 1)),
    ("DateLitteral", Field::Edit(Shape::Text, 2)),
    ("Event", Field::Fixed(HISTORY)),
    ("Signature", Field::Fixed(HISTORY)),
    ("SigningInformation", Field::Fixed(HISTORY)),
    ("Gps", Field::Edit(Shape::Object(GPS), 1)),
    ("OriginatingSystemIdReplyTo", Field::Fixed(PRODUCER_SYSTEM)),
    ("TextContent", Field::Edit(Shape::Texts, 2)),
    ("PersistentIdentifier", Field::Fixed(GIVEN_BY_ARCHIVE)),
];

const GIVEN_BY_ARCHIVE: &str = "it identifies the unit in the archive";
const PRODUCER_SYSTEM: &str = "it identifies the unit in the producer's system";
const OWNER: &str = "it says whose records these are, which decides who may read them";
const LINKS: &str = "it links the unit to other units and objects";
const HISTORY: &str = "it records the unit's history and signatures, not its description";
const NOT_COVERED: &str = "it is not among the descriptive fields corrected here";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// May change; the minor SEDA 2 version it exists from (1 = 2.1).
    Edit(Shape, u8),
    /// Never changes here, and why.
    Fixed(&'static str),
}

pub(super) fn minor(version: SedaVersion) -> u8 {
    match version {
        SedaVersion::V2_2 => 2,
        SedaVersion::V2_3 => 3,
        _ => 1,
    }
}

pub(super) fn order_of(name: &str) -> usize {
    CONTENT
        .iter()
        .position(|(n, _)| *n == name)
        .unwrap_or(CONTENT.len())
}

pub(super) fn field_of(name: &str) -> Option<Field> {
    CONTENT.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

pub(super) fn editable_names(version: SedaVersion) -> Vec<&'static str> {
    CONTENT
        .iter()
        .filter_map(|(n, f)| match f {
            Field::Edit(_, since) if *since <= minor(version) => Some(*n),
            _ => None,
        })
        .collect()
}
