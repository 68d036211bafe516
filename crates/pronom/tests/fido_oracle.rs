//! `fido` (PyPI `opf-fido`) as an independent oracle: with the signature files fido itself
//! ships, our identification must give the same PUIDs, by the same method, on a corpus of
//! real files. `scripts/test` installs fido and sets `CARNAC_REQUIRE_ORACLES=1`, which turns
//! a missing fido into a failure.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use carnac_pronom::container::ContainerSignatures;
use carnac_pronom::{Identifier, Method, Sample, SignatureFile};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fido_conf() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import fido, os; print(os.path.join(os.path.dirname(fido.__file__), 'conf'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

#[test]
fn same_answers_as_fido_on_real_files() {
    let Some(conf) = fido_conf().filter(|c| c.is_dir()) else {
        assert!(
            std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
            "fido is required but not installed"
        );
        eprintln!("SKIPPED: fido is not installed (pip install opf-fido)");
        return;
    };
    let pick = |prefix: &str| {
        std::fs::read_dir(&conf)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name().unwrap().to_string_lossy().starts_with(prefix)
                    && p.extension().is_some_and(|e| e == "xml")
            })
            .unwrap_or_else(|| panic!("no {prefix}*.xml in {}", conf.display()))
    };
    let droid = SignatureFile::parse(&std::fs::read(pick("DROID_SignatureFile")).unwrap()).unwrap();
    let containers =
        ContainerSignatures::parse(&std::fs::read(pick("container-signature")).unwrap()).unwrap();
    let id = Identifier::new(droid, Some(containers));

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/formats");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "make.py" && n != "README.md")
        .collect();
    files.sort();
    // Through the interpreter that has the package, whether or not its scripts are on PATH.
    let out = Command::new("python3")
        .current_dir(&dir)
        .args(["-m", "fido.fido"])
        .args([
            "-q",
            "-matchprintf",
            "%(info.filename)s\t%(info.puid)s\t%(info.matchtype)s\n",
            "-nomatchprintf",
            "%(info.filename)s\tNONE\tnone\n",
        ])
        .args(&files)
        .output()
        .expect("run fido");
    assert!(
        out.status.success(),
        "fido failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut theirs: BTreeMap<String, (BTreeSet<String>, String)> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let e = theirs.entry(cols[0].to_owned()).or_default();
        if cols[1] != "NONE" {
            e.0.insert(cols[1].to_owned());
        }
        e.1 = cols[2].to_owned();
    }
    assert_eq!(theirs.len(), files.len(), "fido answered for every file");
    // Where we deliberately differ, and why. Everything else must be identical.
    let known: BTreeMap<&str, &str> = [
        ("binary.txt", "extension-only match: DROID's default considers only formats without a signature (x-fmt/111); fido also lists fmt/1085 and fmt/1591, which have signatures that did not match"),
        ("data.json", "extension-only match: DROID's default considers only formats without a signature (fmt/817); fido also takes fmt/1311, which then wins by priority"),
    ]
    .into_iter()
    .collect();
    let mut differences = Vec::new();
    let mut explained = Vec::new();
    for f in &files {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        let mut ours = id.identify(&Sample::of(&bytes), Some(f));
        if let Some(first) = &ours
            && id.is_zip_trigger(&first.puid)
            && let Some(c) = id.identify_zip(std::io::Cursor::new(&bytes), Some(f))
        {
            ours = Some(c);
        }
        let (set, method) = match &ours {
            Some(i) => (
                i.candidates.iter().cloned().collect::<BTreeSet<_>>(),
                i.method.as_str().to_owned(),
            ),
            None => (BTreeSet::new(), "none".to_owned()),
        };
        let (their_set, their_method) = &theirs[f];
        let their_method = if their_method == "fail" {
            "none"
        } else {
            their_method.as_str()
        };
        let line = format!("{f}: ours {set:?} by {method}, fido {their_set:?} by {their_method}");
        match (
            &set != their_set || method != their_method,
            known.get(f.as_str()),
        ) {
            (true, Some(why)) => explained.push(format!("{line} ({why})")),
            (true, None) => differences.push(line),
            (false, Some(_)) => differences.push(format!(
                "{f}: listed as a known difference but now identical"
            )),
            (false, None) => {}
        }
        if method == "signature" {
            assert_eq!(ours.as_ref().map(|i| i.method), Some(Method::Signature));
        }
    }
    eprintln!("explained differences:\n{}", explained.join("\n"));
    assert!(
        differences.is_empty(),
        "differences with fido:\n{}",
        differences.join("\n")
    );
}
