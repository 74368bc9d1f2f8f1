//! Real clients against the real server: authentik's generated Python client
//! (`tests/clients/authentik_users.py`). Runs when `GATEHOUSE_CLIENT_PYTHON` names a Python with
//! `authentik-client` installed (`.ci/run` sets one up); otherwise it reports that it did not run.
//! Likewise schemathesis (`tests/clients/schemathesis.sh`) when `GATEHOUSE_SCHEMATHESIS` names its
//! `st` executable.

use crate::backend_test;

async fn run_client_script(srv: &crate::common::TestServer, script: &str) {
    let Some(python) = std::env::var("GATEHOUSE_CLIENT_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("GATEHOUSE_CLIENT_PYTHON unset: {script} not run");
        return;
    };
    let output = tokio::process::Command::new(python)
        .arg(format!(
            "{}/tests/clients/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .env("GATEHOUSE_URL", &srv.base)
        .env("GATEHOUSE_TOKEN", &srv.token)
        .env("GATEHOUSE_KEEP_GOING", "1")
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ok"), "{script} printed no step:\n{stdout}");
}

backend_test!(authentik_client_users_round_trip, |srv| {
    run_client_script(srv, "authentik_users.py").await;
});

backend_test!(authentik_client_groups_roles_tokens, |srv| {
    run_client_script(srv, "authentik_rbac.py").await;
});

backend_test!(awx_cli_manages_users, |srv| {
    run_client_script(srv, "awx_cli.py").await;
});

backend_test!(awx_collection_user_module, |srv| {
    let Some(python) = std::env::var("GATEHOUSE_ANSIBLE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("GATEHOUSE_ANSIBLE_PYTHON unset: awx_collection.py not run");
        return;
    };
    let output = tokio::process::Command::new(python)
        .arg(format!(
            "{}/tests/clients/awx_collection.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .env("GATEHOUSE_URL", &srv.base)
        .env("GATEHOUSE_TOKEN", &srv.token)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "awx_collection.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok   awx.awx.user"), "{stdout}");
});

// schemathesis against authentik's OpenAPI documents (`tests/clients/schemathesis.sh`): no 5xx,
// and status codes, content types and bodies as the schema declares them, with a fixed seed.
backend_test!(schemathesis_conformance, |srv| {
    let Some(st) = std::env::var("GATEHOUSE_SCHEMATHESIS")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("GATEHOUSE_SCHEMATHESIS unset: schemathesis.sh not run");
        return;
    };
    // Bounded by the examples per operation and a 30 s timeout per request (in the script).
    let output = tokio::process::Command::new("bash")
        .arg(format!(
            "{}/tests/clients/schemathesis.sh",
            env!("CARGO_MANIFEST_DIR")
        ))
        .env("GATEHOUSE_SCHEMATHESIS", st)
        .env("GATEHOUSE_URL", &srv.base)
        .env("GATEHOUSE_TOKEN", &srv.token)
        .kill_on_drop(true)
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("schemathesis: ok"), "{stdout}");
});
