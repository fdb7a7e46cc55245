//! Operations endpoints, unauthenticated and free of data: `/livez` (the process answers),
//! `/readyz` (the store answers and a SCIM key is active) and `/metrics` (Prometheus text).

use std::sync::Arc;

use rocket::http::{ContentType, Status};
use rocket::{get, State};

use crate::app::App;

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

#[get("/metrics")]
pub fn metrics(app: &State<Arc<App>>) -> (ContentType, String) {
    let text = app.metrics.render(app.core.store().size_on_disk());
    (
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        text,
    )
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![livez, readyz, metrics]
}
