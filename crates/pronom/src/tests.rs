use super::*;
use std::path::PathBuf;

fn corpus(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/formats")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn embedded() -> &'static Identifier {
    static ID: std::sync::OnceLock<Identifier> = std::sync::OnceLock::new();
    ID.get_or_init(|| Identifier::embedded().unwrap())
}

fn identify(name: &str) -> Identification {
    let bytes = corpus(name);
    let id = embedded();
    let first = id
        .identify(&Sample::of(&bytes), Some(name))
        .unwrap_or_else(|| panic!("{name}: nothing"));
    if id.is_zip_trigger(&first.puid)
        && let Some(c) = id.identify_zip(std::io::Cursor::new(&bytes), Some(name))
    {
        return c;
    }
    first
}

#[test]
fn the_embedded_files_load() {
    let id = embedded();
    assert_eq!(id.signatures().version, "122");
    assert!(id.signatures().formats().len() > 2500);
    assert!(id.is_zip_trigger("x-fmt/263"));
}

#[test]
fn identifies_by_signature_container_and_extension() {
    let cases = [
        ("sip.pdf", "fmt/18", Method::Signature),
        ("lake.jpeg", "fmt/43", Method::Signature),
        ("image.png", "fmt/11", Method::Signature),
        ("image.gif", "fmt/4", Method::Signature),
        ("sound.wav", "fmt/141", Method::Signature),
        ("plain.zip", "x-fmt/263", Method::Signature),
        ("document.docx", "fmt/412", Method::Container),
        ("id5.sql", "fmt/206", Method::Extension),
        ("table.csv", "x-fmt/18", Method::Extension),
    ];
    for (file, puid, method) in cases {
        let got = identify(file);
        assert_eq!(
            (got.puid.as_str(), got.method),
            (puid, method),
            "{file}: {got:?}"
        );
    }
}

#[test]
fn unknown_bytes_without_extension_are_not_identified() {
    assert!(
        embedded()
            .identify(&Sample::of(b"\x00\x01\x02 nothing known"), None)
            .is_none()
    );
    assert!(
        embedded()
            .identify(&Sample::of(b""), Some("noext"))
            .is_none()
    );
}

#[test]
fn extension_mismatch_is_reported() {
    let got = embedded()
        .identify(&Sample::of(&corpus("image.png")), Some("image.pdf"))
        .unwrap();
    assert_eq!(got.puid, "fmt/11");
    assert!(got.extension_mismatch);
    let got = embedded()
        .identify(&Sample::of(&corpus("image.png")), Some("IMAGE.PNG"))
        .unwrap();
    assert!(!got.extension_mismatch);
}

#[test]
fn sampler_keeps_both_ends() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let mut s = Sampler::new(100);
    for chunk in data.chunks(7) {
        s.update(chunk);
    }
    let sample = s.finish();
    assert_eq!(sample.bof, &data[..100]);
    assert_eq!(sample.eof, &data[900..]);
    assert_eq!(sample.len, 1000);
    let mut s = Sampler::new(100);
    s.update(&data[..50]);
    let sample = s.finish();
    assert_eq!(
        (sample.bof.as_slice(), sample.eof.as_slice()),
        (&data[..50], &data[..50])
    );
    let mut s = Sampler::new(100);
    s.update(&data[..10]);
    s.update(&data[10..]);
    assert_eq!(s.finish().eof, &data[900..]);
}

#[test]
fn eof_and_fragment_signatures() {
    // A signature with BOF and EOF sequences and fragments, in the compiled DROID form.
    let xml = br#"<FFSignatureFile Version="1" xmlns="http://www.nationalarchives.gov.uk/pronom/SignatureFile">
      <InternalSignatureCollection>
        <InternalSignature ID="1">
          <ByteSequence Reference="BOFoffset">
            <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="4">
              <Sequence>4142</Sequence>
              <LeftFragment MaxOffset="1" MinOffset="0" Position="1">5A</LeftFragment>
              <RightFragment MaxOffset="2" MinOffset="1" Position="1">43</RightFragment>
              <RightFragment MaxOffset="2" MinOffset="1" Position="1">44</RightFragment>
            </SubSequence>
          </ByteSequence>
          <ByteSequence Reference="EOFoffset">
            <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="2"><Sequence>454E44</Sequence></SubSequence>
          </ByteSequence>
        </InternalSignature>
      </InternalSignatureCollection>
      <FileFormatCollection>
        <FileFormat ID="10" Name="Test" PUID="test/1"><InternalSignatureID>1</InternalSignatureID><Extension>tst</Extension></FileFormat>
        <FileFormat ID="11" Name="Other" PUID="test/2"><Extension>tst</Extension></FileFormat>
      </FileFormatCollection></FFSignatureFile>"#;
    let id = Identifier::new(SignatureFile::parse(xml).unwrap(), None);
    let hit = |bytes: &[u8]| id.identify(&Sample::of(bytes), None).map(|i| i.puid);
    assert_eq!(hit(b"ZAB.C....END").as_deref(), Some("test/1"));
    assert_eq!(
        hit(b"..Z.AB..D..END.").as_deref(),
        Some("test/1"),
        "offsets and alternatives"
    );
    assert_eq!(hit(b"ZAB.C....EN"), None, "EOF sequence missing");
    assert_eq!(
        hit(b"ZABC....END"),
        None,
        "right fragment needs a gap of at least 1"
    );
    assert_eq!(hit(b".....ZAB.C.END"), None, "beyond the BOF window of 4");
    assert_eq!(hit(b"ZAB.C....END...."), None, "beyond the EOF window of 2");
    // No signature matched: the extension fallback only considers formats without a
    // signature (test/1 has one, so it would have matched).
    let ext = id.identify(&Sample::of(b"xyz"), Some("a.TST")).unwrap();
    assert_eq!(
        (ext.method, ext.candidates.as_slice()),
        (Method::Extension, &["test/2".to_owned()][..])
    );
}

#[test]
fn priorities_drop_the_generic_format() {
    let xml = br#"<FFSignatureFile Version="1"><InternalSignatureCollection>
        <InternalSignature ID="1"><ByteSequence Reference="BOFoffset"><SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>3C3F786D6C</Sequence></SubSequence></ByteSequence></InternalSignature>
        <InternalSignature ID="2"><ByteSequence Reference="BOFoffset"><SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>3C3F786D6C</Sequence></SubSequence></ByteSequence>
           <ByteSequence><SubSequence Position="1" SubSeqMinOffset="0"><Sequence>'svg'</Sequence></SubSequence></ByteSequence></InternalSignature>
      </InternalSignatureCollection><FileFormatCollection>
        <FileFormat ID="1" Name="XML" PUID="fmt/101"><InternalSignatureID>1</InternalSignatureID></FileFormat>
        <FileFormat ID="2" Name="SVG" PUID="fmt/92"><InternalSignatureID>2</InternalSignatureID><HasPriorityOverFileFormatID>1</HasPriorityOverFileFormatID></FileFormat>
      </FileFormatCollection></FFSignatureFile>"#;
    let id = Identifier::new(SignatureFile::parse(xml).unwrap(), None);
    let got = id
        .identify(&Sample::of(b"<?xml version='1.0'?><svg/>"), None)
        .unwrap();
    assert_eq!(got.candidates, ["fmt/92"]);
    let got = id
        .identify(&Sample::of(b"<?xml version='1.0'?><a/>"), None)
        .unwrap();
    assert_eq!(got.candidates, ["fmt/101"]);
}

#[test]
fn text_without_signature_or_extension_is_plain_text() {
    let text = b"Datas for performance test!\r\n0123456789\r\n";
    let got = embedded()
        .identify(&Sample::of(text), Some("Data-Perf-1-00001"))
        .unwrap();
    assert_eq!((got.puid.as_str(), got.method), ("x-fmt/111", Method::Text));
    let got = embedded()
        .identify(&Sample::of(text), Some("ID7.seda"))
        .unwrap();
    assert_eq!(got.method, Method::Text);
    // An extension that names a format wins over the text guess.
    let got = embedded()
        .identify(&Sample::of(text), Some("id5.sql"))
        .unwrap();
    assert_eq!(
        (got.puid.as_str(), got.method),
        ("fmt/206", Method::Extension)
    );
    assert!(
        embedded()
            .identify(&Sample::of(b"\x00\x01binary\x02"), None)
            .is_none()
    );
    assert!(embedded().identify(&Sample::of(b""), None).is_none());
}
