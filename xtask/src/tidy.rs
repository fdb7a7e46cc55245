//! Checks of the codebase's shape that the compiler cannot make (run by `cargo test`, so by
//! `cargo xtask ci`): which crate may depend on which, as ARCHITECTURE.md says.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::process::Command;

    /// Each workspace package and the names of its normal (non-dev) dependencies.
    fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| {
                let deps = p["dependencies"]
                    .as_array()
                    .expect("dependencies")
                    .iter()
                    .filter(|d| d["kind"].is_null())
                    .map(|d| d["name"].as_str().expect("name").to_string())
                    .collect();
                (p["name"].as_str().expect("name").to_string(), deps)
            })
            .collect()
    }

    fn assert_none(of: &BTreeMap<String, BTreeSet<String>>, package: &str, forbidden: &[&str]) {
        let deps = of
            .get(package)
            .unwrap_or_else(|| panic!("no package {package}"));
        let found: Vec<&&str> = forbidden.iter().filter(|f| deps.contains(**f)).collect();
        assert!(found.is_empty(), "{package} must not depend on {found:?}");
    }

    #[test]
    fn layers_depend_only_downwards() {
        let deps = dependencies();
        let ours = [
            "scim-proto",
            "scim-core",
            "scim-sled",
            "scim-postgres",
            "server",
        ];
        // The protocol: pure functions, no I/O, no other layer.
        assert_none(&deps, "scim-proto", &ours);
        assert_none(&deps, "scim-proto", &["rocket", "sled", "tokio", "reqwest"]);
        // The core: the protocol below it; no engine, no HTTP.
        assert_none(
            &deps,
            "scim-core",
            &["scim-sled", "server", "rocket", "sled", "reqwest"],
        );
        assert!(deps["scim-core"].contains("scim-proto"));
        // An engine stores what the core decided; it knows no HTTP, and no other engine.
        assert_none(
            &deps,
            "scim-sled",
            &["server", "rocket", "reqwest", "scim-postgres"],
        );
        assert!(deps["scim-sled"].contains("scim-core"));
        assert_none(
            &deps,
            "scim-postgres",
            &["server", "rocket", "reqwest", "scim-sled"],
        );
        assert!(deps["scim-postgres"].contains("scim-core"));
        assert_none(&deps, "scim-core", &["scim-postgres", "tokio-postgres"]);
        // The database driver is the PostgreSQL engine's alone.
        for (package, d) in &deps {
            if package != "scim-postgres" {
                for driver in ["tokio-postgres", "deadpool-postgres"] {
                    assert!(!d.contains(driver), "{package} depends on {driver}");
                }
            }
        }
        // sled is the sled engine's alone.
        for (package, d) in &deps {
            if package != "scim-sled" {
                assert!(!d.contains("sled"), "{package} depends on sled");
            }
        }
        // Rocket is the server's alone.
        for (package, d) in &deps {
            if package != "server" {
                assert!(!d.contains("rocket"), "{package} depends on rocket");
            }
        }
    }

    #[test]
    fn the_black_box_clients_never_depend_on_the_server() {
        let deps = dependencies();
        for client in ["conformance", "onelogin-sim", "xtask"] {
            assert_none(
                &deps,
                client,
                &[
                    "scim-proto",
                    "scim-core",
                    "scim-sled",
                    "scim-postgres",
                    "server",
                ],
            );
        }
    }
}
