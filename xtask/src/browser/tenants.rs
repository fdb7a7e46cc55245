//! The browser test's tenant steps, as the operator takes them.

use super::check;
use super::webdriver::Browser;

/// The operator's tenants: creates one on the tenants page (its SCIM base URL and first key
/// shown once), opens it (its home shows its own base URL, its links stay within it), mints a
/// key of its own there, then disables and deletes it.
pub(super) async fn tenants(
    b: &Browser,
    origin: &str,
    base: &str,
    http: &reqwest::Client,
    done: &mut Vec<String>,
) -> Result<(), String> {
    let status = |url: String, key: String| async move {
        http.get(format!("{url}/Users"))
            .bearer_auth(key)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| format!("GET {url}/Users: {e}"))
    };
    let tenant_url = base.replacen(origin, &format!("{origin}/t/browser-co"), 1);

    b.go(&format!("{origin}/admin")).await?;
    b.submit("header nav a[href='/admin/tenants']").await?;
    check(
        b.text("main table").await?.contains("default"),
        "the tenants page lists the default tenant",
    )?;
    b.type_into("#tenant-id", "browser-co").await?;
    b.type_into("#tenant-name", "Browser Co").await?;
    b.submit("form[action='/admin/tenants'] button[type=submit]")
        .await?;
    check(
        b.value("#scim-url").await? == tenant_url,
        &format!("the new tenant's SCIM base URL is shown: {tenant_url}"),
    )?;
    let key = b.value("#new-key").await?;
    check(
        key.starts_with("scim_") && key.len() == 69,
        "the new tenant's first SCIM key is shown",
    )?;
    check(
        status(tenant_url.clone(), key.clone()).await? == 200
            && status(base.to_string(), key.clone()).await? == 401,
        "its key works on its own SCIM base URL only",
    )?;
    done.push("tenant created on the tenants page; its base URL and first key shown".into());

    b.submit("main a[href='/admin/t/browser-co']").await?;
    check(
        b.url().await? == format!("{origin}/admin/t/browser-co"),
        "the tenant's home page opens",
    )?;
    check(
        b.value("#scim-url").await? == tenant_url,
        "the tenant's home page shows its own SCIM base URL (/t/browser-co/scim/v2)",
    )?;
    check(
        b.text("header .tenant").await?.contains("Browser Co"),
        "the header names the tenant",
    )?;
    check(
        b.text("ol.howto").await?.contains("Enable"),
        "the tenant's home page has the OneLogin steps",
    )?;
    for link in b.all("header nav a").await? {
        let href = link
            .attr("href")
            .await
            .map_err(|e| format!("href: {e}"))?
            .unwrap_or_default();
        check(
            href.starts_with("/admin/t/browser-co") || href == "/admin/tenants",
            &format!("the tenant's navigation stays within it: {href}"),
        )?;
    }
    b.submit("header nav a[href='/admin/t/browser-co/keys']")
        .await?;
    b.type_into("#label", "Tenant IdP").await?;
    b.submit("form[action='/admin/t/browser-co/keys'] button[type=submit]")
        .await?;
    let tenant_key = b.value("#new-key").await?;
    check(
        status(tenant_url.clone(), tenant_key.clone()).await? == 200
            && status(base.to_string(), tenant_key).await? == 401,
        "a key minted on the tenant's keys page is the tenant's",
    )?;
    done.push("tenant opened: its home shows /t/browser-co/scim/v2; its keys are its own".into());

    b.go(&format!("{origin}/admin/tenants")).await?;
    b.submit("button[aria-label='Disable tenant Browser Co']")
        .await?;
    check(
        status(tenant_url.clone(), key).await? == 401,
        "a disabled tenant's key is refused",
    )?;
    b.click("#confirm-browser-co").await?;
    b.submit("button[aria-label='Delete tenant Browser Co']")
        .await?;
    check(
        !b.text("main table").await?.contains("browser-co"),
        "the deleted tenant is gone from the list",
    )?;
    done.push("tenant disabled (its key refused), then deleted after the confirmation".into());
    Ok(())
}
