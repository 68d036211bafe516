//! Referentials imported over HTTP, whole or not at all.

use super::*;

/// A folder packed with the system's `tar`, as an operator would send it.
pub(crate) fn tar_gz(dir: &std::path::Path, parent_folder: bool) -> Vec<u8> {
    let out = std::process::Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("-C")
        .arg(if parent_folder {
            dir.parent().unwrap()
        } else {
            dir
        })
        .args(if parent_folder {
            vec![dir.file_name().unwrap().to_str().unwrap().to_owned()]
        } else {
            // Its entries by name: `tar -C dir .` would write `./` paths, which the
            // container reader refuses like any `.` component.
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        })
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out.stdout
}

#[tokio::test]
async fn an_operator_imports_referentials_over_http_whole_or_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let (st, tokens) = state_with_accounts(&tmp);
    let app = app(st);
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    // The test folder, packed from its parent (one top folder) and from inside it.
    for parent in [true, false] {
        let (status, body, _) = send(
            &app,
            post(
                "/api/v1/tenants/other/referentials",
                &tokens.operator,
                tar_gz(&testdata().join("referentials/tenant-0"), parent),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(
            json(&body)["versions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["kind"] == "agencies"),
            "{body}"
        );
    }
    let (status, body, _) = send(
        &app,
        get(
            "/api/v1/tenants/other/referentials/agencies/versions",
            &tokens.operator,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Version 1 when the tenant was made, then the two imports.
    assert_eq!(
        json(&body)["versions"].as_array().unwrap().len(),
        3,
        "{body}"
    );
    let (status, _, _) = send(
        &app,
        get(
            "/api/v1/tenants/other/referentials/nonsense/versions",
            &tokens.operator,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A folder with a bad file: refused whole, every reason given, nothing imported.
    let bad = tempfile::tempdir().unwrap();
    std::fs::create_dir(bad.path().join("rules")).unwrap();
    std::fs::write(
        bad.path().join("rules/rules.csv"),
        "RuleId,RuleType,RuleValue,RuleDescription,RuleDuration,RuleMeasurement\nAPP-1,AppraisalRule,v,d,10,Year\nACC-1,Nonsense,v,d,1,Year\nACC-2,Other,v,d,1,Year\n",
    )
    .unwrap();
    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/other/referentials",
            &tokens.operator,
            tar_gz(bad.path(), false),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let e = json(&body);
    assert_eq!(e["error"]["code"], "referential_rejected");
    let details = e["error"]["details"].to_string();
    assert!(
        details.contains("Nonsense") && details.contains("Other"),
        "{body}"
    );
    // Not a container at all.
    let (status, body, _) = send(
        &app,
        post(
            "/api/v1/tenants/other/referentials",
            &tokens.operator,
            "not a container",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, body, _) = send(
        &app,
        get(
            "/api/v1/tenants/other/referentials/rules/versions",
            &tokens.operator,
        ),
    )
    .await;
    assert_eq!(
        json(&body)["versions"].as_array().unwrap().len(),
        3,
        "nothing more"
    );
}
