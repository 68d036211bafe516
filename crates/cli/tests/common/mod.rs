//! Helpers to drive the `carnac` binary and to write transfers.

#![allow(dead_code)]

use sha2::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn carnac(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_carnac"));
    c.arg("--data").arg(data).env("RUST_LOG", "error");
    c
}

pub fn run(data: &Path, args: &[&str]) -> Output {
    carnac(data).args(args).output().expect("run carnac")
}

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A data folder with tenant 0 and its referentials.
pub fn data_with_tenant() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    add_tenant_0(dir.path());
    dir
}

/// Creates tenant 0 with its referentials in `data` (whose `carnac.toml` may be written
/// first).
pub fn add_tenant_0(data: &Path) {
    run_ok(data, &["tenant", "create", "0"]);
    let refs = testdata().join("referentials/tenant-0");
    run_ok(
        data,
        &[
            "referential",
            "import",
            "--tenant",
            "0",
            refs.to_str().unwrap(),
        ],
    );
}

/// Runs `carnac` and expects success: its standard output.
pub fn run_ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a valid SEDA 2.1 transfer: one unit per file under a root unit, each file
/// `size(i)` bytes of deterministic content; `description` bytes of text per unit.
pub fn write_sip(path: &Path, files: usize, size: impl Fn(usize) -> usize, description: usize) {
    let out = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(out));
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let mut objects = String::new();
    let mut units = String::new();
    let text = "Délibération du conseil municipal relative aux marchés publics. "
        .repeat(description / 66 + 1);
    let text = &text[..text
        .char_indices()
        .take_while(|(i, _)| *i < description)
        .last()
        .map_or(0, |(i, c)| i + c.len_utf8())];
    for i in 0..files {
        let content = content(i, size(i));
        let digest = hex::encode(sha2::Sha256::digest(&content));
        zip.start_file(format!("Content/f{i}.bin"), stored).unwrap();
        zip.write_all(&content).unwrap();
        objects.push_str(&format!(
            "<BinaryDataObject id=\"O{i}\"><DataObjectGroupId>G{i}</DataObjectGroupId><DataObjectVersion>BinaryMaster_1</DataObjectVersion><Uri>Content/f{i}.bin</Uri><MessageDigest algorithm=\"SHA-256\">{digest}</MessageDigest><Size>{}</Size></BinaryDataObject>\n",
            content.len()
        ));
        units.push_str(&format!(
            "<ArchiveUnit id=\"U{i}\"><Content><DescriptionLevel>Item</DescriptionLevel><Title>Pièce {i}</Title><Description>{text}</Description><StartDate>2020-01-01</StartDate><EndDate>2020-12-31</EndDate></Content><DataObjectReference><DataObjectGroupReferenceId>G{i}</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>\n"
        ));
    }
    zip.start_file("manifest.xml", stored).unwrap();
    write!(
        zip,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">
<Date>2026-11-29T04:00:00</Date><MessageIdentifier>generated</MessageIdentifier><ArchivalAgreement>ArchivalAgreement0</ArchivalAgreement>
<CodeListVersions><ReplyCodeListVersion>v</ReplyCodeListVersion><MessageDigestAlgorithmCodeListVersion>v</MessageDigestAlgorithmCodeListVersion><FileFormatCodeListVersion>v</FileFormatCodeListVersion></CodeListVersions>
<DataObjectPackage>
{objects}<DescriptiveMetadata>
<ArchiveUnit id="ROOT"><Content><DescriptionLevel>RecordGrp</DescriptionLevel><Title>Versement généré</Title></Content>
{units}</ArchiveUnit>
</DescriptiveMetadata>
<ManagementMetadata><OriginatingAgencyIdentifier>FRAN_NP_009913</OriginatingAgencyIdentifier></ManagementMetadata>
</DataObjectPackage>
<ArchivalAgency><Identifier>A</Identifier></ArchivalAgency><TransferringAgency><Identifier>T</Identifier></TransferringAgency>
</ArchiveTransfer>
"#
    )
    .unwrap();
    zip.finish().unwrap().flush().unwrap();
}

pub fn content(i: usize, len: usize) -> Vec<u8> {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A small xorshift generator for the crash tests; the seed is printed so that a failure
/// can be replayed ([`crash_seed`]).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Kills `child` (SIGKILL) once `delay` has passed, unless it ended before: a child that
/// ends early is not waited for beyond its end, so that a long first measurement (a loaded
/// machine) does not turn every later round into a sleep. True: killed while it ran.
pub fn kill_after(child: &mut std::process::Child, delay: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let left = delay.saturating_sub(started.elapsed());
        if left.is_zero() {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(2)));
    }
}

/// A crash test's seed: `CARNAC_CRASH_SEED`, or the clock's nanoseconds (odd, never 0).
pub fn crash_seed() -> u64 {
    std::env::var("CARNAC_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::UNIX_EPOCH
                .elapsed()
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        })
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A copy of a data folder: its offers' record names the copy's folders (it names folders
/// by absolute path).
pub fn copy_data(from: &Path, to: &Path) {
    copy_dir(from, to);
    let names = to.join("offers.json");
    let text = std::fs::read_to_string(&names).unwrap();
    std::fs::write(
        &names,
        text.replace(from.to_str().unwrap(), to.to_str().unwrap()),
    )
    .unwrap();
}

/// The server's connection string split into what `carnac.toml` names (without the
/// password) and the password, which goes into a file.
pub fn postgres_url() -> Option<(String, String)> {
    let Ok(url) = std::env::var("CARNAC_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
            "no PostgreSQL: run the tests through scripts/test, which starts one"
        );
        eprintln!("skipped: no PostgreSQL (CARNAC_TEST_POSTGRES)");
        return None;
    };
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let (user, password) = userinfo.split_once(':').unwrap();
    Some((format!("{scheme}://{user}@{host}"), password.to_owned()))
}

/// Whether the servers of [`data_distributed`] are there (PostgreSQL and S3), without
/// making anything on them; when they are not, the test is skipped, or fails under
/// `CARNAC_REQUIRE_ORACLES`.
pub fn distributed_engines() -> bool {
    if postgres_url().is_none() {
        return false;
    }
    if std::env::var_os("CARNAC_TEST_S3_ENDPOINT").is_none() {
        assert!(
            std::env::var_os("CARNAC_REQUIRE_ORACLES").is_none(),
            "no S3 server: run the tests through scripts/test, which starts one"
        );
        eprintln!("skipped: no S3 server (CARNAC_TEST_S3_ENDPOINT)");
        return false;
    }
    true
}

/// A data folder on the distributed engines (issue 20): a `carnac.toml` naming the test
/// PostgreSQL server (a schema of the folder's own) and two offers, a folder
/// (`offers/site-a`) and the S3 server's bucket (`site-b`, under a prefix of the folder's
/// own), then tenant 0. Also the S3 prefix; none without both servers.
pub fn data_distributed() -> Option<(tempfile::TempDir, String)> {
    if !distributed_engines() {
        return None;
    }
    let (url, password) = postgres_url()?;
    let var = |k: &str| std::env::var(format!("CARNAC_TEST_S3_{k}")).ok();
    let endpoint = var("ENDPOINT")?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let name = d
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_lowercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let prefix = format!("dist-{name}/");
    std::fs::write(d.join("catalog.password"), format!("{password}\n")).unwrap();
    std::fs::write(d.join("s3.secret"), var("SECRET_KEY").unwrap()).unwrap();
    std::fs::write(
        d.join("carnac.toml"),
        format!(
            "[catalog]\nurl = \"{url}\"\npassword_file = \"catalog.password\"\nschema = \"dist_{name}\"\n\n\
             [[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n\n\
             [[storage.offer]]\nname = \"site-b\"\nkind = \"s3\"\nendpoint = \"{endpoint}\"\n\
             bucket = \"{}\"\nregion = \"{}\"\naccess_key = \"{}\"\n\
             secret_key_file = \"s3.secret\"\nprefix = \"{prefix}\"\n",
            var("BUCKET").unwrap_or_else(|| "carnac".into()),
            var("REGION").unwrap_or_else(|| "us-east-1".into()),
            var("ACCESS_KEY").unwrap()
        ),
    )
    .unwrap();
    add_tenant_0(d);
    Some((dir, prefix))
}
