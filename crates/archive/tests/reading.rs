//! Reading stored files back: a whole file is verified as it is read and a damaged copy
//! never reaches its end as if it were good; a range is read as asked; a tenant reads only
//! what it holds.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use carnac_archive::ArchiveError;
use carnac_blobstore::BlobKey;
use common::*;
use std::io::{Read, Write};

fn ingested(f: &Fixture) -> (carnac_model::TenantId, carnac_archive::reading::StoredFile) {
    let t = f.tenant_with("0", "tenant-0");
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&std::fs::read(testdata().join("seda/OK_SIP_2_GO.zip")).unwrap())
        .unwrap();
    let outcome = f
        .archive
        .ingest(&t, file, "test", &carnac_archive::ports::NoProgress)
        .unwrap();
    assert!(outcome.status().is_accepted());
    let mut objects = Vec::new();
    f.archive
        .catalog()
        .each_held_object(&t, &mut |_, o| {
            objects.push(o);
            Ok(())
        })
        .unwrap();
    let largest = objects
        .into_iter()
        .filter(|o| !o.physical)
        .max_by_key(|o| o.size)
        .unwrap();
    let file = f.archive.stored_file(&t, &largest.id).unwrap();
    assert!(file.size > 3, "a file of a few bytes at least");
    (t, file)
}

fn read_all(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn a_whole_file_is_verified_and_a_damaged_copy_is_cut() {
    let f = fixture();
    let (_, file) = ingested(&f);
    let key = BlobKey {
        tenant: file.tenant.clone(),
        batch: file.operation.clone(),
        name: file.object.to_string(),
    };
    let good = read_all(&mut f.archive.open_object(&file, 0, file.size).unwrap()).unwrap();
    assert_eq!(good.len() as u64, file.size);
    let stored =
        read_all(&mut carnac_blobstore::BlobStore::open(&f.offers[0], &key).unwrap()).unwrap();
    assert_eq!(good, stored);

    // Both copies damaged, same size: the whole read ends in an error, its last bytes held
    // back; a range is read as stored (it cannot be verified on its own).
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    for offer in &f.offers {
        offer.corrupt(&key, bad.clone());
    }
    let mut reader = f.archive.open_object(&file, 0, file.size).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let error = loop {
        match reader.read(&mut buf) {
            Ok(0) => panic!("a damaged copy read to its end as good"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert!(error.to_string().contains("digest"), "{error}");
    assert!(got.len() < good.len());
    assert_eq!(got, good[..got.len()]);
    let range = read_all(&mut f.archive.open_object(&file, 1, 2).unwrap()).unwrap();
    assert_eq!(range, bad[1..3]);
}

#[test]
fn no_copy_of_the_right_size_is_an_error_and_other_tenants_find_nothing() {
    let f = fixture();
    let (_, file) = ingested(&f);
    let other = f.tenant_with("other", "tenant-0");
    assert!(matches!(
        f.archive.stored_file(&other, &file.object),
        Err(ArchiveError::NotFound(_))
    ));
    let key = BlobKey {
        tenant: file.tenant.clone(),
        batch: file.operation.clone(),
        name: file.object.to_string(),
    };
    for offer in &f.offers {
        offer.corrupt(&key, b"short".to_vec());
    }
    assert!(f.archive.open_object(&file, 0, file.size).is_err());
}
