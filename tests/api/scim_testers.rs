//! The public SCIM conformance testers against the real server (issue 20): `scim2 test` of
//! scim2-cli 0.6.0 (exit 0: every check SUCCESS) and `scim-sanity probe` 0.7.4 in its default
//! strict mode. Each runs when its variable names the executable (`.ci/run` installs both in
//! virtualenvs of their own): `GATEHOUSE_SCIM2_CLI` (`…/bin/scim2`), `GATEHOUSE_SCIM_SANITY`
//! (`…/bin/scim-sanity`); otherwise the test reports that it did not run.

use crate::backend_test;

fn tool(var: &str) -> Option<String> {
    let found = std::env::var(var).ok().filter(|p| !p.is_empty());
    if found.is_none() {
        eprintln!("{var} unset: not run");
    }
    found
}

backend_test!(scim2_cli_test_passes_every_check, |srv| {
    let Some(scim2) = tool("GATEHOUSE_SCIM2_CLI") else {
        return;
    };
    // The token goes through the environment, not argv.
    let output = tokio::process::Command::new(scim2)
        .arg("test")
        .arg("-v")
        .env("SCIM_CLI_URL", format!("{}/scim/v2", srv.base))
        .env(
            "SCIM_CLI_HEADERS",
            format!("Authorization: Bearer {}", srv.token),
        )
        .output()
        .await
        .expect("scim2 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scim2 test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("SUCCESS"), "no check ran:\n{stdout}");
});

backend_test!(scim_sanity_probe_strict_passes, |srv| {
    let Some(sanity) = tool("GATEHOUSE_SCIM_SANITY") else {
        return;
    };
    let output = tokio::process::Command::new(sanity)
        .arg("probe")
        .arg(format!("{}/scim/v2", srv.base))
        .arg("--token")
        .arg(&srv.token)
        .arg("--i-accept-side-effects")
        .output()
        .await
        .expect("scim-sanity runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scim-sanity probe failed:\n{stdout}\n{stderr}"
    );
});
