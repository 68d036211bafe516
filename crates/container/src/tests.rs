use super::*;
use std::io::Write;

fn zip_bytes(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        if name.ends_with('/') {
            w.add_directory(*name, opts).unwrap();
        } else {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

fn tar_bytes(members: &[(&[u8], &[u8], tar::EntryType)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data, kind) in members {
        let mut h = tar::Header::new_old();
        // Raw bytes on purpose: tests need names that `set_path` would refuse.
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn open(bytes: &[u8], limits: Limits) -> Result<Container, ContainerError> {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    Container::open(f, limits)
}

fn codes(l: &Listing) -> Vec<&'static str> {
    l.problems.iter().map(|p| p.code).collect()
}

#[test]
fn detects_by_content_not_name() {
    let z = zip_bytes(&[("manifest.xml", b"<a/>")], zip::CompressionMethod::Stored);
    assert_eq!(detect(&z), Some(Kind::Zip));
    let t = tar_bytes(&[(b"manifest.xml", b"<a/>", tar::EntryType::Regular)]);
    assert_eq!(detect(&t), Some(Kind::Tar));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&t).unwrap();
    let gz = gz.finish().unwrap();
    assert_eq!(detect(&gz), Some(Kind::TarGz));
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&t).unwrap();
    let bz = bz.finish().unwrap();
    assert_eq!(detect(&bz), Some(Kind::TarBz2));
    assert_eq!(detect(b"<?xml version='1.0'?><a/>"), None);
    assert!(matches!(
        open(b"just some text, not a container", Limits::default()),
        Err(ContainerError::UnknownFormat)
    ));
    for bytes in [gz, bz] {
        let mut c = open(&bytes, Limits::default()).unwrap();
        let l = c.scan().unwrap();
        assert_eq!(l.entries.len(), 1);
        let mut got = Vec::new();
        c.for_each_file(
            |_| true,
            |_, r| -> Result<(), ContainerError> {
                r.read_to_end(&mut got)?;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(got, b"<a/>");
    }
}

#[test]
fn names_are_checked() {
    let ok = |n: &str| check_name(n.as_bytes(), 1024).map(|v| v.unwrap().0);
    assert_eq!(ok("Content/a b.pdf").unwrap(), "Content/a b.pdf");
    assert_eq!(ok("Content/").unwrap(), "Content");
    assert_eq!(ok("Content/é.txt").unwrap(), "Content/é.txt");
    let code = |n: &[u8]| check_name(n, 1024).unwrap_err().code;
    assert_eq!(code(b"../etc/passwd"), "PATH_TRAVERSAL");
    assert_eq!(code(b"Content/../../x"), "PATH_TRAVERSAL");
    assert_eq!(code(b"/etc/passwd"), "ABSOLUTE_PATH");
    assert_eq!(code(b"C:/x"), "ABSOLUTE_PATH");
    assert_eq!(code(b"Content\\..\\x"), "FORBIDDEN_CHARACTER");
    assert_eq!(code(b"Content/a\nb"), "FORBIDDEN_CHARACTER");
    assert_eq!(code(b"Content//x"), "INVALID_PATH");
    // `zip -r x.zip ./`: a leading `./` is dropped, the bare `./` entry ignored; `.` and
    // empty components anywhere else are still refused.
    assert_eq!(ok("./Content/a.pdf").unwrap(), "Content/a.pdf");
    assert_eq!(ok("./manifest.xml").unwrap(), "manifest.xml");
    assert_eq!(check_name(b"./", 1024).unwrap(), None);
    assert_eq!(code(b"."), "INVALID_PATH");
    assert_eq!(code(b"././Content/a.pdf"), "INVALID_PATH");
    assert_eq!(code(b".//Content/a.pdf"), "INVALID_PATH");
    assert_eq!(code(b"Content/./a.pdf"), "INVALID_PATH");
    assert_eq!(code(b"./../a.pdf"), "PATH_TRAVERSAL");
    assert_eq!(code(b"/./a.pdf"), "ABSOLUTE_PATH");
    assert_eq!(code(b"Content/\xff\xfe.txt"), "NAME_NOT_UTF8");
    assert_eq!(
        check_name(b"Content/abcdef", 8).unwrap_err().code,
        "NAME_TOO_LONG"
    );
}

#[test]
fn zip_slip_and_every_problem_is_listed() {
    let z = zip_bytes(
        &[
            ("manifest.xml", b"<a/>"),
            ("../../evil.sh", b"x"),
            ("/abs.txt", b"x"),
            ("Content/ok.txt", b"x"),
        ],
        zip::CompressionMethod::Stored,
    );
    let l = open(&z, Limits::default()).unwrap().scan().unwrap();
    assert_eq!(codes(&l), ["PATH_TRAVERSAL", "ABSOLUTE_PATH"]);
    assert_eq!(l.entries.len(), 2);
}

#[test]
fn tar_links_devices_duplicates_and_non_utf8_names() {
    let t = tar_bytes(&[
        (b"manifest.xml", b"<a/>", tar::EntryType::Regular),
        (b"Content/link", b"", tar::EntryType::Symlink),
        (b"Content/hard", b"", tar::EntryType::Link),
        (b"Content/dev", b"", tar::EntryType::Char),
        (b"Content/a.txt", b"1", tar::EntryType::Regular),
        (b"Content/a.txt", b"2", tar::EntryType::Regular),
        (
            b"Content/\xe9t\xe9.txt",
            b"latin-1 name",
            tar::EntryType::Regular,
        ),
    ]);
    let l = open(&t, Limits::default()).unwrap().scan().unwrap();
    assert_eq!(
        codes(&l),
        [
            "LINK_OR_SPECIAL",
            "LINK_OR_SPECIAL",
            "LINK_OR_SPECIAL",
            "DUPLICATE_ENTRY",
            "NAME_NOT_UTF8"
        ]
    );
}

#[test]
fn zip_duplicates_are_refused() {
    // The zip writer refuses duplicate names, so the second one is patched in place.
    let mut z = zip_bytes(
        &[("Content/a.txt", b"1"), ("Content/b.txt", b"2")],
        zip::CompressionMethod::Stored,
    );
    let from = b"Content/b.txt";
    let mut i = 0;
    while i + from.len() <= z.len() {
        if &z[i..i + from.len()] == from {
            z[i + 8] = b'a';
        }
        i += 1;
    }
    match open(&z, Limits::default()).unwrap().scan() {
        Ok(l) => assert!(codes(&l).contains(&"DUPLICATE_ENTRY"), "{:?}", l.problems),
        Err(e) => assert_eq!(e.code(), "CONTAINER_CORRUPT"),
    }
}

#[test]
fn bombs_are_refused_from_declared_and_real_sizes() {
    let zeros = vec![0u8; 20 << 20];
    let z = zip_bytes(
        &[("Content/zeros.bin", &zeros)],
        zip::CompressionMethod::Deflated,
    );
    assert!(z.len() < 100_000);
    let strict = Limits {
        max_ratio: 100,
        ..Limits::default()
    };
    let l = open(&z, strict).unwrap().scan().unwrap();
    assert!(codes(&l).contains(&"CONTAINER_BOMB"), "{:?}", l.problems);

    // Declared sizes within limits, real bytes beyond the total budget: caught while reading.
    let limits = Limits {
        max_total_size: 1 << 20,
        ..Limits::default()
    };
    let t = tar_bytes(&[(
        b"Content/big.bin",
        &zeros[..2 << 20],
        tar::EntryType::Regular,
    )]);
    let mut c = open(&t, limits).unwrap();
    let l = c.scan().unwrap();
    assert!(codes(&l).contains(&"CONTAINER_BOMB"));
    let err = c
        .for_each_file(
            |_| true,
            |_, r| -> Result<(), ContainerError> {
                io::copy(r, &mut io::sink()).map_err(|e| match container_error(&e) {
                    Some(ContainerError::TooLarge { path, limit }) => ContainerError::TooLarge {
                        path: path.clone(),
                        limit: *limit,
                    },
                    _ => ContainerError::Io(e),
                })?;
                Ok(())
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "CONTAINER_BOMB");

    let limits = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    let many: Vec<(String, &[u8])> = (0..10)
        .map(|i| (format!("Content/{i}"), &b"x"[..]))
        .collect();
    let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let l = open(&zip_bytes(&refs, zip::CompressionMethod::Stored), limits)
        .unwrap()
        .scan()
        .unwrap();
    assert_eq!(codes(&l), ["CONTAINER_BOMB"]);
}

#[test]
fn truncated_containers_are_corrupt() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let z = zip_bytes(
        &[("manifest.xml", b"<a/>"), ("Content/x", &data)],
        zip::CompressionMethod::Deflated,
    );
    let cut = &z[..z.len() / 2];
    let err = open(cut, Limits::default()).and_then(|mut c| c.scan().map(|_| ()));
    assert_eq!(err.unwrap_err().code(), "CONTAINER_CORRUPT");

    let t = tar_bytes(&[(b"Content/x", &data, tar::EntryType::Regular)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&t).unwrap();
    let gz = gz.finish().unwrap();
    let err = open(&gz[..gz.len() / 2], Limits::default()).and_then(|mut c| c.scan().map(|_| ()));
    assert_eq!(err.unwrap_err().code(), "CONTAINER_CORRUPT");
}

#[test]
fn corrupt_member_bytes_are_detected_by_crc() {
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
    let mut z = zip_bytes(&[("Content/x", &data)], zip::CompressionMethod::Stored);
    z[100] ^= 0xff;
    let mut c = open(&z, Limits::default()).unwrap();
    c.scan().unwrap();
    let r = c.for_each_file(
        |_| true,
        |_, r| -> Result<(), ContainerError> {
            io::copy(r, &mut io::sink())?;
            Ok(())
        },
    );
    assert!(r.is_err());
}

#[test]
fn layout_rules() {
    let e = |p: &str, k| Entry {
        path: p.into(),
        kind: k,
        size: 0,
    };
    use EntryKind::*;
    let l = layout::check(&[
        e("manifest.xml", File),
        e("content", Directory),
        e("content/a.pdf", File),
    ]);
    assert!(l.problems.is_empty());
    assert_eq!(l.manifest.as_deref(), Some("manifest.xml"));
    assert_eq!(l.content_dir.as_deref(), Some("content"));
    assert_eq!(l.files, ["content/a.pdf"]);

    let l = layout::check(&[e("SIP_manifest.xml", File)]);
    assert!(l.problems.is_empty());

    let l = layout::check(&[
        e("manifest.xml", File),
        e("other_manifest.xml", File),
        e("Content/a", File),
        e("content/b", File),
        e("stray.txt", File),
    ]);
    let c: Vec<_> = l.problems.iter().map(|p| p.code).collect();
    assert_eq!(
        c,
        [
            "UNEXPECTED_ENTRY",
            "SEVERAL_MANIFESTS",
            "SEVERAL_CONTENT_FOLDERS"
        ]
    );
    assert!(l.manifest.is_none());

    let l = layout::check(&[e("Content/a", File)]);
    assert_eq!(l.problems[0].code, "NO_MANIFEST");
}

#[test]
fn zip64_members_are_read() {
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    w.start_file("manifest.xml", opts).unwrap();
    w.write_all(b"<a/>").unwrap();
    w.start_file("Content/big.bin", opts).unwrap();
    w.write_all(&[1u8; 100_000]).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert!(
        bytes
            .windows(4)
            .any(|x| x == [0x01, 0x00, 0x10, 0x00] || x == [0x01, 0x00, 0x08, 0x00]),
        "a zip64 extra field is present"
    );
    let mut c = open(&bytes, Limits::default()).unwrap();
    let l = c.scan().unwrap();
    assert!(l.problems.is_empty(), "{:?}", l.problems);
    let mut total = 0;
    c.for_each_file(
        |_| true,
        |_, r| -> Result<(), ContainerError> {
            total += io::copy(r, &mut io::sink())?;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(total, 100_004);
}
