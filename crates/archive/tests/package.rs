//! Packages going out, at the use-case boundary: a transfer's units written as a SEDA
//! package and ingested again, whole, into another tenant (the same units, titles, tree and
//! file digests); a damaged copy replaced by another offer's on the way.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_seda::SedaVersion;
use carnac_seda::package::PackageHeader;
use common::*;
use std::collections::BTreeMap;

fn header(id: &str) -> PackageHeader {
    PackageHeader {
        message_identifier: id.into(),
        date: "2026-12-04T08:00:00".into(),
        comments: vec!["Transfert aux Archives départementales".into()],
        archival_agreement: Some("ArchivalAgreement0".into()),
        archival_agency: "AD56".into(),
        transferring_agency: "carnac".into(),
    }
}

/// Each unit of a tenant by title: its parents' titles, and its files' digests.
fn holdings(
    f: &Fixture,
    t: &carnac_model::TenantId,
) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let c = f.archive.catalog();
    let mut units = Vec::new();
    for op in c.operations(t).unwrap() {
        units.extend(c.units_of_operation(t, &op.id).unwrap());
    }
    let title_of: BTreeMap<_, _> = units
        .iter()
        .map(|u| (u.id.clone(), u.title.clone()))
        .collect();
    units
        .iter()
        .map(|u| {
            let (_, objects) = c.unit(t, &u.id).unwrap().unwrap();
            let mut parents: Vec<String> = u.parents.iter().map(|p| title_of[p].clone()).collect();
            parents.sort();
            let mut digests: Vec<String> = objects
                .iter()
                .filter_map(|o| o.digest.as_ref().map(|d| d.hex.clone()))
                .collect();
            digests.sort();
            (u.title.clone(), (parents, digests))
        })
        .collect()
}

fn tops(f: &Fixture, t: &carnac_model::TenantId) -> Vec<carnac_model::UnitId> {
    let c = f.archive.catalog();
    let mut out = Vec::new();
    for op in c.operations(t).unwrap() {
        out.extend(
            c.units_of_operation(t, &op.id)
                .unwrap()
                .into_iter()
                .filter(|u| u.parents.is_empty())
                .map(|u| u.id),
        );
    }
    out
}

#[test]
fn a_package_ingests_again_whole_into_another_tenant() {
    for version in [SedaVersion::V2_1, SedaVersion::V2_2, SedaVersion::V2_3] {
        let f = fixture();
        let from = f.tenant_with("0", "tenant-0");
        let to = f.tenant_with("1", "tenant-0");
        let outcome = f
            .archive
            .ingest_path(&from, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
            .unwrap();
        assert!(outcome.status().is_accepted());
        let roots = tops(&f, &from);
        let zip = tempfile::NamedTempFile::new().unwrap();
        let (summary, _) = f
            .archive
            .write_package(
                &from,
                &roots,
                version,
                header("package-1"),
                zip.reopen().unwrap(),
            )
            .unwrap();
        let before = holdings(&f, &from);
        assert_eq!(summary.units as usize, before.len(), "{version}");
        assert_eq!(summary.files, 4, "OK_SIP_2_GO holds 4 files");
        assert!(summary.damaged_copies.is_empty());
        let again = f.archive.ingest_path(&to, zip.path(), "test").unwrap();
        assert!(
            again.status().is_accepted(),
            "{version}: {:?}",
            again.summary
        );
        assert_eq!(holdings(&f, &to), before, "{version}");
    }
}

#[test]
fn a_damaged_copy_is_replaced_by_another_offers_on_the_way() {
    let f = fixture();
    let t = f.tenant_with("0", "tenant-0");
    let outcome = f
        .archive
        .ingest_path(&t, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let mut objects = Vec::new();
    f.archive
        .catalog()
        .each_held_object(&t, &mut |_, o| {
            objects.push(o);
            Ok(())
        })
        .unwrap();
    let victim = objects.iter().find(|o| !o.physical).unwrap();
    let key = carnac_blobstore::BlobKey {
        tenant: t.clone(),
        batch: op,
        name: victim.id.to_string(),
    };
    f.offers[0].corrupt(&key, b"not the file".to_vec());
    let zip = tempfile::NamedTempFile::new().unwrap();
    let (summary, _) = f
        .archive
        .write_package(
            &t,
            &tops(&f, &t),
            SedaVersion::V2_2,
            header("package-2"),
            zip.reopen().unwrap(),
        )
        .unwrap();
    assert_eq!(summary.damaged_copies, [format!("offer-1: {}", victim.id)]);
    // The package holds the good copy: it ingests (digests checked) into another tenant.
    let other = f.tenant_with("1", "tenant-0");
    assert!(
        f.archive
            .ingest_path(&other, zip.path(), "test")
            .unwrap()
            .status()
            .is_accepted()
    );
    // Both copies damaged: refused, said so.
    f.offers[1].corrupt(&key, b"nor this".to_vec());
    let zip = tempfile::NamedTempFile::new().unwrap();
    let err = f
        .archive
        .write_package(
            &t,
            &tops(&f, &t),
            SedaVersion::V2_2,
            header("package-3"),
            zip.reopen().unwrap(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("no offer holds an intact copy"),
        "{err}"
    );
}
