//! Operations endpoints, unauthenticated and free of data: `/livez` (the process answers),
//! `/readyz` (the store answers and a SCIM key is active) and `/metrics` (Prometheus text).

use std::sync::Arc;

use rocket::http::{ContentType, Status};
use rocket::{get, State};

use super::routes::blocking;
use crate::error::Result;
use crate::service::App;

#[get("/livez")]
pub fn livez() -> (ContentType, &'static str) {
    (ContentType::JSON, "{\"status\":\"live\"}")
}

#[get("/readyz")]
pub async fn readyz(app: &State<Arc<App>>) -> Result<(Status, (ContentType, String))> {
    let app = Arc::clone(app);
    let unready = blocking(move || Ok(app.unready())).await?;
    Ok(match unready {
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
    })
}

#[get("/metrics")]
pub async fn metrics(app: &State<Arc<App>>) -> Result<(ContentType, String)> {
    let app = Arc::clone(app);
    let text = blocking(move || Ok(app.metrics.render(app.store.size_on_disk()))).await?;
    Ok((
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        text,
    ))
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![livez, readyz, metrics]
}
