//! `carnac rules change`: the contract outside scripts call (a file in, a report out, exit
//! 0 when it ran, 1 when it is refused with every reason).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::*;

#[test]
fn rules_change_from_a_file_with_its_dry_run() {
    let data = data_with_tenant();
    let sip = data.path().join("sip.zip");
    write_sip(&sip, 2, |_| 100, 10);
    let out = run(
        data.path(),
        &["ingest", "--tenant", "0", "--json", sip.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let changes = data.path().join("changes.json");
    std::fs::write(
        &changes,
        r#"{"query": {"agency": "FRAN_NP_009913"},
            "actions": [{"action": "hold", "rule": "HOL-00002", "start_date": "2026-12-01",
                         "hold": {"reason": "Contentieux", "end_date": "2031-01-01"}}],
            "comment": "Gel pour contentieux"}"#,
    )
    .unwrap();
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "rules",
            "change",
            "--tenant",
            "0",
            "--file",
            changes.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let go = |extra: &[&'static str]| {
        let a = args(extra);
        run(
            data.path(),
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let dry = go(&["--dry-run"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    // The root and its two units.
    assert_eq!(
        stdout
            .matches("would change: hold HoldRule HOL-00002")
            .count(),
        3,
        "{stdout}"
    );
    assert!(stdout.contains("nothing was changed"), "{stdout}");
    // Again: still nothing changed.
    assert_eq!(
        String::from_utf8_lossy(&go(&["--dry-run"]).stdout)
            .matches("would change: hold")
            .count(),
        3
    );

    let done = go(&["--json"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert!(report["operation"].is_string(), "{report}");
    assert_eq!(report["changed"].as_array().unwrap().len(), 3);
    assert_eq!(
        report["changed"][0]["changes"][0]["after"]["end_date"],
        "2031-01-01"
    );
    let again = go(&[]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        stdout.matches("already declares the HoldRule").count(),
        3,
        "{stdout}"
    );
    assert!(stdout.contains("nothing changed"), "{stdout}");

    // Refused, with every reason, exit 1.
    std::fs::write(
        &changes,
        r#"{"units": ["bad id!"], "actions": [{"action": "hold", "rule": "HOL-00001", "hold": {"reson": "x"}}]}"#,
    )
    .unwrap();
    let refused = go(&[]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("unknown field \"reson\""), "{stderr}");
    assert!(stderr.contains("is not a unit identifier"), "{stderr}");
}

/// `carnac elimination list|show|execute`: the operator's commands answer, and refuse what
/// does not exist, exit 1 with the reason. (The workflow itself, with its roles, is tested
/// over the API.)
#[test]
fn elimination_commands_answer_and_refuse() {
    let data = data_with_tenant();
    let list = run(data.path(), &["elimination", "list", "--tenant", "0"]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(list.stdout.is_empty());
    let json = run(
        data.path(),
        &["elimination", "list", "--tenant", "0", "--json"],
    );
    assert_eq!(String::from_utf8_lossy(&json.stdout).trim(), "[]");
    for command in ["show", "execute"] {
        let out = run(
            data.path(),
            &["elimination", command, "--tenant", "0", "op-none"],
        );
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("elimination op-none not found"),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bad = run(
        data.path(),
        &["elimination", "show", "--tenant", "0", "not an id"],
    );
    assert_eq!(bad.status.code(), Some(1));
}
