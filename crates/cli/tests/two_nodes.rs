//! Two `carnac serve` on one PostgreSQL catalog, the same offers and one shared incoming
//! folder: transfers posted to both, one node killed (SIGKILL) while it ingests. The other
//! takes over once the dead node's lease has lapsed: every acknowledged transfer is
//! ingested exactly once, and `check --digests` and `journal verify` are green.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;
use common::*;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

fn http(port: u16, method: &str, path: &str, token: &str, body: &[u8]) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn start_serve(data: &Path, port: u16) -> std::process::Child {
    let mut child = carnac(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("carnac serve did not start");
}

fn post(port: u16, token: &str, sip: &[u8]) -> String {
    let (status, body) = http(port, "POST", "/api/v1/tenants/0/transfers", token, sip);
    assert!(status.contains("202"), "{status} {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["operation"].as_str().unwrap().to_owned()
}

#[test]
fn a_killed_node_leaves_its_transfers_to_the_other() {
    let Some((url, password)) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let shared = root.join("shared");
    let schema = format!(
        "two_{}",
        root.file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("catalog.password"), &password).unwrap();
    let config = format!(
        "[catalog]\nurl = \"{url}\"\npassword_file = \"{pw}\"\nschema = \"{schema}\"\n\n\
         [storage.incoming]\nkind = \"fs\"\npath = \"{s}/incoming\"\n\n\
         [[storage.offer]]\nname = \"site-a\"\nkind = \"fs\"\npath = \"{s}/site-a\"\n\
         [[storage.offer]]\nname = \"site-b\"\nkind = \"fs\"\npath = \"{s}/site-b\"\n",
        pw = shared.join("catalog.password").display(),
        s = shared.display(),
    );
    let (a, b) = (root.join("node-a"), root.join("node-b"));
    for node in [&a, &b] {
        std::fs::create_dir_all(node).unwrap();
        std::fs::write(node.join("carnac.toml"), &config).unwrap();
    }
    add_tenant_0(&a);
    let token_file = root.join("token");
    run_ok(
        &a,
        &[
            "account",
            "create",
            "pastell",
            "--role",
            "producer",
            "--tenant",
            "0",
            "--kind",
            "application",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    // The archive's keys are shared by configuration: the second node gets the first's.
    for keys in ["tsa", "signing"] {
        copy_dir(&a.join(keys), &b.join(keys));
    }
    let (port_a, port_b) = (free_port(), free_port());
    let mut node_a = start_serve(&a, port_a);
    let node_b = start_serve(&b, port_b);
    let large = std::fs::read(testdata().join("seda-perf/SIP-1000-102400.zip")).unwrap();
    let small = std::fs::read(testdata().join("seda/OK_SIP_2_GO.zip")).unwrap();
    let in_ingest = post(port_a, &token, &large);
    let on_b = post(port_b, &token, &small);
    let queued_on_a = post(port_a, &token, &small);
    // The first node dies while it ingests (the large transfer takes seconds).
    let started = Instant::now();
    loop {
        let (_, body) = http(
            port_a,
            "GET",
            &format!("/api/v1/tenants/0/operations/{in_ingest}"),
            &token,
            b"",
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if v["state"] == "RUNNING" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{body}");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    node_a.kill().unwrap();
    node_a.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    for op in [&in_ingest, &on_b, &queued_on_a] {
        loop {
            let (_, body) = http(
                port_b,
                "GET",
                &format!("/api/v1/tenants/0/operations/{op}"),
                &token,
                b"",
            );
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if v["state"] == "DONE" {
                assert!(v["status"] == "OK" || v["status"] == "WARNING", "{op}: {v}");
                break;
            }
            assert!(Instant::now() < deadline, "{op} not ingested: {body}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let pid = node_b.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = node_b.wait_with_output().unwrap();
    assert!(out.status.success());
    // Exactly once: three ingests done, their units each once, nothing left queued or
    // running.
    let mut client = postgres::Client::connect(
        &std::env::var("CARNAC_TEST_POSTGRES").unwrap(),
        postgres::NoTls,
    )
    .unwrap();
    let mut count = |sql: &str| -> i64 {
        client
            .query_one(&sql.replace("{s}", &schema), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM {s}.operations WHERE kind = 'INGEST' AND state = 'DONE' AND status IN ('OK', 'WARNING')"
        ),
        3
    );
    assert_eq!(count("SELECT COUNT(*) FROM {s}.units"), 1001 + 7 + 7);
    assert_eq!(count("SELECT COUNT(*) FROM {s}.transfer_queue"), 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM {s}.operations WHERE state = 'RUNNING'"),
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM {s}.journal WHERE kind = 'INGEST_RESUMED'"),
        1,
        "the interrupted ingest was taken up again, once"
    );
    run_ok(&b, &["check", "--digests"]);
    run_ok(&b, &["journal", "verify", "--tenant", "0"]);
    use carnac_blobstore::BlobStore;
    let incoming =
        carnac_blobstore::fs::FsStore::open("incoming", shared.join("incoming")).unwrap();
    assert!(
        incoming.batches().unwrap().is_empty(),
        "no transfer left in the shared incoming store"
    );
}
