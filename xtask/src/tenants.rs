//! Tenants of a running server, for the tasks that use more than `default`: created by the
//! operator's command line (`scim-server --data-dir D tenant create ID --name NAME`, over the
//! server's control socket with sled, on the database with PostgreSQL: the command gets the
//! server's settings, [`Launch::command`]), or over the admin API (`POST /admin/v1/tenants`) with
//! an operator key that the command line mints (`scim-server key create --admin --label L`).
//! Only what the commands print and the API answers is read: xtask treats the server as a black
//! box.

use crate::server::Launch;

/// A tenant a task writes to: its id, its SCIM base URL and a SCIM key of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub base: String,
    pub key: String,
}

/// `http://host:port` of a URL such as `http://127.0.0.1:4000/scim/v2`.
pub fn origin(url: &str) -> Result<String, String> {
    let u = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    Ok(u.origin().ascii_serialization())
}

/// Runs `scim-server --data-dir DATA ARGS…` with the settings of `launch` (through the control
/// socket while a sled server runs); its stdout, or an error with what it printed.
pub fn cli(launch: &Launch, args: &[&str]) -> Result<String, String> {
    let out = launch
        .command()?
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", launch.bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "scim-server {} failed ({}): {stdout}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(stdout)
}

/// The last word of what a command printed: the key that `key create` and `tenant create`
/// print last.
fn last_word(stdout: &str) -> Result<String, String> {
    stdout
        .split_whitespace()
        .next_back()
        .map(str::to_string)
        .ok_or_else(|| "the command printed nothing".to_string())
}

/// What `tenant create` printed: the path of its `SCIM base URL: …` line and the key, its last
/// word. The command line knows the server's configured address, not the one it listens on
/// (a server started with `--listen 127.0.0.1:0` has another), so only the path is taken.
fn parse_created(stdout: &str) -> Result<(String, String), String> {
    let url = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("SCIM base URL: "))
        .ok_or_else(|| format!("no SCIM base URL in: {stdout}"))?;
    let path = url::Url::parse(url.trim())
        .map_err(|e| format!("{url}: {e}"))?
        .path()
        .trim_end_matches('/')
        .to_string();
    Ok((path, last_word(stdout)?))
}

/// Creates tenant `id` with the command line, on the server of SCIM base URL `server_base`
/// started by `launch`.
pub fn create_with_cli(
    launch: &Launch,
    server_base: &str,
    id: &str,
    name: &str,
) -> Result<Tenant, String> {
    let out = cli(launch, &["tenant", "create", id, "--name", name])?;
    let (path, key) = parse_created(&out)?;
    Ok(Tenant {
        id: id.to_string(),
        base: format!("{}{path}", origin(server_base)?),
        key,
    })
}

/// Mints an operator admin key (an admin key of no tenant) with the command line.
pub fn operator_key(launch: &Launch, label: &str) -> Result<String, String> {
    last_word(&cli(
        launch,
        &["key", "create", "--admin", "--label", label],
    )?)
}

/// The body of `POST /admin/v1/tenants`.
pub fn create_body(id: &str, name: &str) -> serde_json::Value {
    serde_json::json!({ "id": id, "name": name })
}

/// The tenant of an answer of `POST /admin/v1/tenants` (201, with `scimBaseUrl` and `key`).
pub fn parse_api_answer(status: u16, body: &[u8]) -> Result<Tenant, String> {
    let text = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if status != 201 {
        return Err(format!("creating a tenant answered {status}: {}", text()));
    }
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("{e}: {}", text()))?;
    let field = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no {name} in the created tenant: {}", text()))
    };
    Ok(Tenant {
        id: field("id")?,
        base: field("scimBaseUrl")?,
        key: field("key")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: &str = "Created tenant 'acme' (Acme Corp).\n\
        SCIM base URL: http://127.0.0.1:8080/t/acme/scim/v2\n\
        Its SCIM key 'initial key' (id 84f70cb4): copy it now, it is not shown again.\n\
        scim_52ed85\n";

    #[test]
    fn the_cli_answer_gives_the_path_and_the_key() {
        assert_eq!(
            parse_created(CREATED),
            Ok(("/t/acme/scim/v2".to_string(), "scim_52ed85".to_string()))
        );
        assert!(parse_created("Created tenant 'acme'.\nscim_1\n").is_err());
        assert!(last_word("  \n").is_err());
        assert_eq!(
            origin("http://127.0.0.1:41231/scim/v2").as_deref(),
            Ok("http://127.0.0.1:41231")
        );
    }

    #[test]
    fn the_api_answer_gives_the_base_url_and_the_key() {
        let body = br#"{"id":"beta","name":"Beta","scimBaseUrl":"http://127.0.0.1:1/t/beta/scim/v2","key":"scim_2e","keyInfo":{}}"#;
        assert_eq!(
            parse_api_answer(201, body),
            Ok(Tenant {
                id: "beta".into(),
                base: "http://127.0.0.1:1/t/beta/scim/v2".into(),
                key: "scim_2e".into()
            })
        );
        let e = parse_api_answer(409, br#"{"detail":"taken"}"#).expect_err("409");
        assert!(e.contains("409") && e.contains("taken"), "{e}");
        assert!(parse_api_answer(201, br#"{"id":"beta"}"#).is_err());
    }
}
