//! Operations endpoints, unauthenticated and free of data: `/livez` (the process answers),
//! `/readyz` (the store answers and a SCIM key is active) and `/metrics` (Prometheus text; its
//! only ids are tenants' and webhook endpoints').

use std::sync::Arc;

use rocket::http::{ContentType, Status};
use rocket::{get, State};

use crate::app::App;
use crate::metrics::WebhookDeliveries;

#[get("/livez")]
pub fn livez() -> (ContentType, &'static str) {
    (ContentType::JSON, "{\"status\":\"live\"}")
}

#[get("/readyz")]
pub async fn readyz(app: &State<Arc<App>>) -> (Status, (ContentType, String)) {
    match app.unready().await {
        None => (
            Status::Ok,
            (ContentType::JSON, "{\"status\":\"ready\"}".into()),
        ),
        Some(reason) => (
            Status::ServiceUnavailable,
            (
                ContentType::JSON,
                serde_json::json!({"status": "unready", "reason": reason}).to_string(),
            ),
        ),
    }
}

/// The metrics: this process's counters, and the webhook deliveries read from the store now
/// (the same on every replica).
#[get("/metrics")]
pub async fn metrics(app: &State<Arc<App>>) -> (ContentType, String) {
    let webhooks = WebhookDeliveries::read(&app.core).await;
    let store = app.core.store();
    let text = app
        .metrics
        .render(store.size_on_disk(), store.commit_counts(), &webhooks);
    (
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        text,
    )
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![livez, readyz, metrics]
}
