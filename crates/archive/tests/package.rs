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

/// The SEDA part of a package (its manifest and content, without `evidence/`), as a SAE
/// is given it: a zip beside the package.
fn seda_part(package: &std::path::Path) -> tempfile::NamedTempFile {
    let mut from = zip::ZipArchive::new(std::fs::File::open(package).unwrap()).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut to = zip::ZipWriter::new(out.reopen().unwrap());
    let mut evidence = 0;
    for i in 0..from.len() {
        let entry = from.by_index_raw(i).unwrap();
        if entry.name().unwrap().starts_with("evidence/") {
            evidence += 1;
            continue;
        }
        to.raw_copy_file(entry).unwrap();
    }
    to.finish().unwrap();
    assert!(evidence >= 4, "the package has its evidence folder");
    out
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
        let mut roots = tops(&f, &from);
        // A unit named twice is packaged once.
        roots.push(roots[0].clone());
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
        let again = f
            .archive
            .ingest_path(&to, seda_part(zip.path()).path(), "test")
            .unwrap();
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
            .ingest_path(&other, seda_part(zip.path()).path(), "test")
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

/// The rules a package carries are those of now: a rule changed after ingest, a hold put on
/// since, and what a unit below the package's top inherits from units the package does not
/// hold. Ingested again, its top unit has the same effective rules.
#[test]
fn a_package_carries_the_rules_of_now_and_what_its_top_inherits() {
    use carnac_model::referential::RuleCategory as C;
    let f = fixture();
    let from = f.tenant_with("0", "tenant-0");
    let to = f.tenant_with("1", "tenant-0");
    f.archive
        .ingest_path(&from, &testdata().join("seda/OK_SIP_2_GO.zip"), "test")
        .unwrap();
    let roots = tops(&f, &from);
    let c = f.archive.catalog();
    let child = c
        .descendants(&from, &roots)
        .unwrap()
        .into_iter()
        .find(|u| c.unit(&from, u).unwrap().unwrap().0.parents.len() == 1)
        .unwrap();
    let change = |units: Vec<String>, actions: serde_json::Value| {
        let request: carnac_archive::rules::RulesChangeRequest =
            serde_json::from_value(serde_json::json!({"units": units, "actions": actions}))
                .unwrap();
        f.archive.change_rules(&from, &request, "arch").unwrap();
    };
    let root = c.unit(&from, &child).unwrap().unwrap().0.parents[0].clone();
    change(
        vec![root.to_string()],
        serde_json::json!([
            {"action": "add", "category": "AppraisalRule", "rule": "APP-00002", "start_date": "2000-01-01"},
            {"action": "set_final_action", "category": "AppraisalRule", "final_action": "Destroy"}
        ]),
    );
    change(
        vec![child.to_string()],
        serde_json::json!([{"action": "hold", "rule": "HOL-00002", "hold": {"reason": "Recours"}}]),
    );
    let zip = tempfile::NamedTempFile::new().unwrap();
    let (summary, _) = f
        .archive
        .write_package(
            &from,
            std::slice::from_ref(&child),
            SedaVersion::V2_2,
            header("package-4"),
            zip.reopen().unwrap(),
        )
        .unwrap();
    assert!(summary.units >= 1);
    let outcome = f
        .archive
        .ingest_path(&to, seda_part(zip.path()).path(), "test")
        .unwrap();
    assert!(outcome.status().is_accepted(), "{:?}", outcome.summary);
    let op = carnac_model::OperationId::new(outcome.operation()).unwrap();
    let new_top = c
        .units_of_operation(&to, &op)
        .unwrap()
        .into_iter()
        .find(|u| u.parents.is_empty())
        .unwrap();
    let effective = |t: &carnac_model::TenantId, u: &carnac_model::UnitId| {
        let e = f
            .archive
            .effective_rules(t, std::slice::from_ref(u))
            .unwrap();
        let rules = &e[u].rules;
        let mut ids: Vec<(C, String)> = rules
            .rules
            .iter()
            .map(|r| (r.category, r.rule.rule.clone()))
            .collect();
        ids.sort_by(|a, b| a.1.cmp(&b.1));
        let actions: Vec<(C, &'static str)> = rules
            .final_actions
            .iter()
            .map(|a| (a.category, a.final_action.as_str()))
            .collect();
        (ids, actions)
    };
    let (before, actions_before) = effective(&from, &child);
    let (after, actions_after) = effective(&to, &new_top.id);
    assert!(
        before.contains(&(C::AppraisalRule, "APP-00002".into())),
        "{before:?}"
    );
    assert!(
        before.contains(&(C::HoldRule, "HOL-00002".into())),
        "{before:?}"
    );
    assert_eq!(after, before);
    assert_eq!(actions_after, actions_before);
    assert!(actions_after.contains(&(C::AppraisalRule, "Destroy")));
}
