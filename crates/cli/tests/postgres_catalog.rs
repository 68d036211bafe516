//! An archive whose catalog is PostgreSQL (`CARNAC_TEST_POSTGRES`, as `scripts/services`
//! starts it) and whose second offer is S3 when a server is there: the same commands, the
//! same answers as on the embedded catalog, and nothing of the catalog in the data folder.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;
use common::*;

/// `[[storage.offer]]` entries: a folder, and the S3 server's bucket if there is one.
fn offers(d: &std::path::Path) -> String {
    let mut toml =
        "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n"
            .to_owned();
    let var = |k: &str| std::env::var(format!("CARNAC_TEST_S3_{k}")).ok();
    match var("ENDPOINT") {
        Some(endpoint) => {
            std::fs::write(d.join("s3.secret"), var("SECRET_KEY").unwrap()).unwrap();
            let prefix = format!(
                "pg-{}/",
                d.file_name().unwrap().to_string_lossy().to_lowercase()
            );
            toml.push_str(&format!(
                "[[storage.offer]]\nname = \"site-b\"\nkind = \"s3\"\nendpoint = \"{endpoint}\"\n\
                 bucket = \"{}\"\nregion = \"{}\"\naccess_key = \"{}\"\n\
                 secret_key_file = \"s3.secret\"\nprefix = \"{prefix}\"\n",
                var("BUCKET").unwrap(),
                var("REGION").unwrap(),
                var("ACCESS_KEY").unwrap()
            ));
        }
        None => toml.push_str(
            "[[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"offers/site-b\"\n",
        ),
    }
    toml
}

fn schema_of(d: &std::path::Path) -> String {
    format!(
        "cli_{}",
        d.file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    )
}

/// Writes `d`'s `carnac.toml`: the catalog in a schema of the folder's own on `url`, and
/// [`offers`].
fn on_postgresql(d: &std::path::Path, url: &str, password: &str) {
    std::fs::write(d.join("catalog.password"), format!("{password}\n")).unwrap();
    std::fs::write(
        d.join("carnac.toml"),
        format!(
            "[catalog]\nurl = \"{url}\"\npassword_file = \"catalog.password\"\nschema = \"{}\"\n\n{}",
            schema_of(d),
            offers(d)
        ),
    )
    .unwrap();
}

#[test]
fn an_archive_on_postgresql_ingests_checks_and_proves() {
    let Some((url, password)) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    on_postgresql(d, &url, &password);
    let ok = |args: &[&str]| run_ok(d, args);
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    let ingested: serde_json::Value = serde_json::from_str(&ok(&[
        "ingest",
        "--tenant",
        "0",
        sip.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(ingested["units"], 7, "{ingested}");
    let object = ingested["objects"][0]["id"].as_str().unwrap().to_owned();
    ok(&["check", "--digests"]);
    ok(&["maintain"]);
    ok(&["journal", "verify", "--tenant", "0"]);
    ok(&["audit", "--tenant", "0"]);
    let lifecycle = ok(&["lifecycle", "--tenant", "0", "--subject", &object]);
    assert!(lifecycle.contains("AUDIT"), "{lifecycle}");
    assert!(
        !d.join("catalog.sqlite").exists(),
        "the catalog is the database's, not the data folder's"
    );
}

/// `carnac maintain` leaves the pass to a node alive that holds the maintenance's lead
/// (exit 3, nothing done), and runs it where the lead is its own.
#[test]
fn maintain_leaves_the_pass_to_the_node_that_leads() {
    let Some((url, password)) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path();
    on_postgresql(a, &url, &password);
    add_tenant_0(a);
    // The first pass takes the lead; its node stays alive 30 s after the process ends.
    let first = run(a, &["maintain"]);
    assert_eq!(first.status.code(), Some(0));
    // Another node of the same archive (a copy of the folder: the same catalog and keys,
    // a node name of its own) leaves the pass to it.
    let other = tempfile::tempdir().unwrap();
    copy_dir(a, other.path());
    let out = run(other.path(), &["maintain"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("holds the maintenance's lead"), "{said}");
    assert!(!said.contains("tenant 0:"), "nothing done: {said}");
    // The node that leads runs it again.
    let again = run(a, &["maintain"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// A password in `carnac.toml`, trust without TLS, settings without a url: refused, every
/// reason named.
#[test]
fn catalog_settings_are_checked() {
    let Some((url, password)) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let with_password = url.replacen('@', &format!(":{password}@"), 1);
    std::fs::write(
        d.join("carnac.toml"),
        format!("[catalog]\nurl = \"{with_password}\"\ntls_trust = [\"ca.pem\"]\n"),
    )
    .unwrap();
    let out = run(d, &["tenant", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("holds a password"), "{err}");
    assert!(err.contains("tls_trust given without tls"), "{err}");
    assert!(
        !err.contains(&password),
        "the password is never shown: {err}"
    );
    std::fs::write(d.join("carnac.toml"), "[catalog]\nschema = \"x\"\n").unwrap();
    let out = run(d, &["tenant", "list"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without `url`"),
        "{out:?}"
    );
}

/// An embedded archive moved to PostgreSQL: the copy is checked before success, the archive
/// then runs on it (its journals go on from where they were), and a second move into the
/// same catalog is refused.
#[test]
fn an_embedded_catalog_moves_to_postgresql() {
    let Some((url, password)) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let offers = "[[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n\
                  [[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"offers/site-b\"\n";
    std::fs::write(d.join("carnac.toml"), offers).unwrap();
    let ok = |args: &[&str]| run_ok(d, args);
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    for _ in 0..2 {
        ok(&["ingest", "--tenant", "0", sip.to_str().unwrap()]);
    }
    ok(&["maintain"]);
    let password_file = d.join("pg.password");
    std::fs::write(&password_file, &password).unwrap();
    let schema = schema_of(d);
    let migrate = |extra: &[&str]| {
        let mut args = vec![
            "catalog",
            "migrate",
            "--to",
            &url,
            "--password-file",
            password_file.to_str().unwrap(),
            "--schema",
            &schema,
        ];
        args.extend_from_slice(extra);
        run(d, &args)
    };
    let out = migrate(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("journal of 0:"), "{text}");
    assert!(text.contains("chain whole"), "{text}");
    let again = migrate(&[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("empty"),
        "{again:?}"
    );
    std::fs::write(
        d.join("carnac.toml"),
        format!(
            "[catalog]\nurl = \"{url}\"\npassword_file = \"pg.password\"\nschema = \"{schema}\"\n\n{offers}"
        ),
    )
    .unwrap();
    ok(&["check", "--digests"]);
    ok(&["journal", "verify", "--tenant", "0"]);
    ok(&["ingest", "--tenant", "0", sip.to_str().unwrap()]);
    ok(&["maintain"]);
    ok(&["journal", "verify", "--tenant", "0"]);
    ok(&["audit", "--tenant", "0"]);
    // The running archive's catalog is PostgreSQL now: moving it again is refused.
    let out = migrate(&[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already PostgreSQL"),
        "{out:?}"
    );
}

/// PostgreSQL's own tools, Debian's newest.
fn pg_tool(name: &str) -> std::path::PathBuf {
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|p| p.join(name).exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect("PostgreSQL's tools").join(name)
}

/// What `docs/deploy.md` says a restore needs: a dump of the catalog's schema (pg_dump),
/// restored into an emptied database, gives back an archive that passes `check --digests`
/// and `journal verify`, and goes on.
#[test]
fn a_catalog_dump_restores_an_archive_that_checks() {
    let Some((url, password)) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = schema_of(d);
    std::fs::write(d.join("catalog.password"), &password).unwrap();
    std::fs::write(
        d.join("carnac.toml"),
        format!(
            "[catalog]\nurl = \"{url}\"\npassword_file = \"catalog.password\"\nschema = \"{schema}\"\n\n\
             [[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"offers/site-a\"\n\
             [[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"offers/site-b\"\n"
        ),
    )
    .unwrap();
    let ok = |args: &[&str]| run_ok(d, args);
    add_tenant_0(d);
    let sip = testdata().join("seda/OK_SIP_2_GO.zip");
    ok(&["ingest", "--tenant", "0", sip.to_str().unwrap()]);
    ok(&["maintain"]);
    let full_url = std::env::var("CARNAC_TEST_POSTGRES").unwrap();
    let dump = d.join("catalog.dump");
    let out = std::process::Command::new(pg_tool("pg_dump"))
        .args(["--format=custom", "--schema", &schema, "--file"])
        .arg(&dump)
        .arg(&full_url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The catalog is lost…
    let mut client = postgres::Client::connect(&full_url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
    // …and restored from its dump.
    let out = std::process::Command::new(pg_tool("pg_restore"))
        .args(["--no-owner", "--exit-on-error", "--dbname", &full_url])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    ok(&["check", "--digests"]);
    ok(&["journal", "verify", "--tenant", "0"]);
    ok(&["ingest", "--tenant", "0", sip.to_str().unwrap()]);
    ok(&["journal", "verify", "--tenant", "0"]);
    ok(&["audit", "--tenant", "0"]);
}
