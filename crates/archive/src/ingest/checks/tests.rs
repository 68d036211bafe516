use super::*;
use carnac_seda::manifest;

fn read(xml: &str) -> Manifest {
    manifest::read(xml.as_bytes(), &mut manifest::NoMetadata).unwrap()
}

fn codes(r: &Report) -> Vec<&str> {
    r.findings().iter().map(|f| f.code.as_str()).collect()
}

const HEAD: &str =
    r#"<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"><DataObjectPackage>"#;
const TAIL: &str = r#"<ManagementMetadata><OriginatingAgencyIdentifier>AG</OriginatingAgencyIdentifier></ManagementMetadata></DataObjectPackage></ArchiveTransfer>"#;

fn package(objects: &str, units: &str) -> Manifest {
    read(&format!(
        "{HEAD}{objects}<DescriptiveMetadata>{units}</DescriptiveMetadata>{TAIL}"
    ))
}

fn bdo(id: &str, group: &str, uri: &str) -> String {
    format!(
        r#"<BinaryDataObject id="{id}"><DataObjectGroupId>{group}</DataObjectGroupId><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>{uri}</Uri><MessageDigest algorithm="SHA-256">{}</MessageDigest><Size>3</Size></BinaryDataObject>"#,
        "a".repeat(64)
    )
}

fn unit(id: &str, inner: &str) -> String {
    format!(r#"<ArchiveUnit id="{id}"><Content><Title>{id}</Title></Content>{inner}</ArchiveUnit>"#)
}

#[test]
fn a_sound_package_plans_everything() {
    let m = package(
        &bdo("O1", "G1", "Content/a.pdf"),
        &unit(
            "U1",
            &unit(
                "U2",
                "<DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference>",
            ),
        ),
    );
    let files = vec!["content/a.pdf".to_owned()];
    let mut r = Report::new();
    let plan = check_package(
        &m,
        &ContentFiles {
            files: &files,
            layout: FileLayout::Package,
            version: carnac_seda::SedaVersion::V2_1,
        },
        &mut r,
    );
    assert!(r.findings().is_empty(), "{r:?}");
    assert_eq!(plan.groups.len(), 1);
    assert_eq!(
        plan.objects[0].file.as_deref(),
        Some("content/a.pdf"),
        "the content folder's case does not matter"
    );
    assert_eq!(plan.units.len(), 2);
    assert_eq!(plan.units[1].parents, [0]);
    assert_eq!(plan.units[1].groups, [0]);
}

#[test]
fn files_and_uris_are_counted_both_ways() {
    let objects = format!(
        "{}{}",
        bdo("O1", "G1", "Content/a.pdf"),
        bdo("O2", "G2", "Content/missing.pdf")
    );
    let units = unit(
        "U1",
        "<DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference><DataObjectReference><DataObjectGroupReferenceId>G2</DataObjectGroupReferenceId></DataObjectReference>",
    );
    let m = package(&objects, &units);
    let files = vec!["Content/a.pdf".to_owned(), "Content/extra.txt".to_owned()];
    let mut r = Report::new();
    check_package(
        &m,
        &ContentFiles {
            files: &files,
            layout: FileLayout::Package,
            version: carnac_seda::SedaVersion::V2_1,
        },
        &mut r,
    );
    assert_eq!(
        codes(&r),
        ["MANIFEST_SUPERIOR_BDO", "MANIFEST_INFERIOR_BDO"]
    );
    assert!(r.findings()[1].message.contains("extra.txt"));
}

#[test]
fn references_cycles_orphans_versions_and_digests() {
    let objects = format!(
        "{}{}<BinaryDataObject id=\"O3\"><DataObjectGroupReferenceId>GX</DataObjectGroupReferenceId><DataObjectVersion>PhysicalMaster</DataObjectVersion><Uri>Content/c</Uri><MessageDigest algorithm=\"SHA-257\">ab</MessageDigest></BinaryDataObject>",
        bdo("O1", "G1", "Content/a"),
        bdo("O2", "G2", "Content/b"),
    );
    let units = format!(
        "{}{}{}",
        unit(
            "U1",
            "<ArchiveUnit id=\"R1\"><ArchiveUnitRefId>U2</ArchiveUnitRefId></ArchiveUnit><DataObjectReference><DataObjectGroupReferenceId>G1</DataObjectGroupReferenceId></DataObjectReference>"
        ),
        unit(
            "U2",
            "<ArchiveUnit id=\"R2\"><ArchiveUnitRefId>U1</ArchiveUnitRefId></ArchiveUnit><ArchiveUnit id=\"R3\"><ArchiveUnitRefId>NOPE</ArchiveUnitRefId></ArchiveUnit>"
        ),
        r#"<ArchiveUnit id="U3"><Content><Title> </Title><StartDate>2020-01-02</StartDate><EndDate>2020-01-01</EndDate></Content></ArchiveUnit>"#,
    );
    let m = package(&objects, &units);
    let files = vec![
        "Content/a".to_owned(),
        "Content/b".to_owned(),
        "Content/c".to_owned(),
    ];
    let mut r = Report::new();
    check_package(
        &m,
        &ContentFiles {
            files: &files,
            layout: FileLayout::Package,
            version: carnac_seda::SedaVersion::V2_1,
        },
        &mut r,
    );
    let c = codes(&r);
    for expected in [
        "UNKNOWN_GROUP",
        "VERSION_KIND_MISMATCH",
        "DIGEST_ALGORITHM",
        "UNKNOWN_UNIT",
        "EMPTY_TITLE",
        "DATES_INCONSISTENT",
        "ORPHAN_GROUP",
        "CYCLE",
    ] {
        assert!(c.contains(&expected), "{expected} missing from {c:?}");
    }
    let cycle = r.findings().iter().find(|f| f.code == "CYCLE").unwrap();
    assert!(
        cycle.message.contains("U1") && cycle.message.contains("U2"),
        "{}",
        cycle.message
    );
}

#[test]
fn versions() {
    assert_eq!(parse_version("BinaryMaster"), Some(("BinaryMaster", 1)));
    assert_eq!(parse_version("Dissemination_3"), Some(("Dissemination", 3)));
    assert_eq!(parse_version("BinaryMaster_0"), None);
    assert_eq!(parse_version("Original_1"), None);
    assert_eq!(parse_version("BinaryMaster_x"), None);
}

#[test]
fn dates_compare_as_seda_means_them() {
    let d = |s| parse_date(s).unwrap();
    assert!(before(&d("2016-06-03"), &d("2016-06-03T15:28:00")));
    assert!(before(&d("2016-06-03T15:28:00"), &d("2016-06-03T15:28:00")));
    assert!(!before(
        &d("2016-06-03T15:28:01"),
        &d("2016-06-03T15:28:00")
    ));
    assert!(before(
        &d("2016-06-03T17:00:00+02:00"),
        &d("2016-06-03T15:30:00Z")
    ));
    assert!(parse_date("03/06/2016").is_none());
}
