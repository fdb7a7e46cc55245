//! Counters for `/metrics`, in the Prometheus text format: requests by route and status, latency
//! histograms by route, rate-limit rejections (all, and by key label), the store's size, and the
//! commits and their batches of an engine that batches them (sled).
//! Routes are Rocket's route templates (`/scim/v2/<rt>/<id>`), so no id, name or filter value
//! ever becomes a label; key labels are chosen by administrators, one series per label.
//!
//! Webhook deliveries ([`WebhookDeliveries`]) are read from the store through the core at each
//! scrape, not counted in this process, so that every replica reports the same numbers: by
//! tenant id and endpoint id (never a URL or a name), for at most [`MAX_WEBHOOK_ENDPOINTS`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt as _;
use scim_core::delivery::Counts;
use scim_core::store::CommitCounts;
use scim_core::Core;

/// The most webhook endpoints `/metrics` reports on, over all tenants (the first, by tenant id
/// then endpoint id); past that, `scim_webhook_metrics_truncated` is 1.
pub const MAX_WEBHOOK_ENDPOINTS: usize = 1000;

/// How many endpoints' deliveries a scrape reads at once.
const READ_AT_ONCE: usize = 4;

/// One webhook endpoint's deliveries, as `/metrics` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointDeliveries {
    pub tenant: String,
    pub endpoint: String,
    /// Attempts by outcome, since the endpoint was added.
    pub counts: Counts,
    /// Events it wants that wait to be delivered (counted up to 10,000).
    pub pending: u64,
    /// How long the oldest of them has waited (0 when none waits).
    pub oldest_pending_seconds: f64,
}

/// Every webhook endpoint's deliveries (at most [`MAX_WEBHOOK_ENDPOINTS`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookDeliveries {
    pub endpoints: Vec<EndpointDeliveries>,
    /// Whether there were more endpoints than are reported.
    pub truncated: bool,
}

impl WebhookDeliveries {
    /// Reads every tenant's endpoints and their deliveries from the store. What cannot be read
    /// (a tenant or an endpoint deleted meanwhile, a store error) is left out, and logged.
    pub async fn read(core: &Core) -> Self {
        let mut tenants = match core.store().tenants().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: listing tenants");
                return WebhookDeliveries::default();
            }
        };
        tenants.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        let mut wanted = Vec::new();
        let mut truncated = false;
        'tenants: for tenant in tenants {
            let endpoints = match core.webhooks(&tenant.id).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(tenant = %tenant.id, error = %e, "metrics: listing webhooks");
                    continue;
                }
            };
            for endpoint in endpoints {
                if wanted.len() == MAX_WEBHOOK_ENDPOINTS {
                    truncated = true;
                    break 'tenants;
                }
                wanted.push((tenant.id.clone(), endpoint.id));
            }
        }
        let now = core.clock_now();
        let endpoints = futures_util::stream::iter(wanted)
            .map(|(tenant, id)| async move {
                match core.delivery(&tenant, &id).await {
                    Ok(view) => Some(EndpointDeliveries {
                        tenant: tenant.to_string(),
                        endpoint: id,
                        counts: view.counts,
                        pending: view.pending,
                        oldest_pending_seconds: view
                            .oldest_pending
                            .map_or(0.0, |t| (now - t).as_seconds_f64().max(0.0)),
                    }),
                    Err(scim_core::Error::NotFound(_)) => None,
                    Err(e) => {
                        tracing::warn!(
                            tenant = %tenant, endpoint = %id, error = %e,
                            "metrics: reading a webhook's deliveries"
                        );
                        None
                    }
                }
            })
            .buffered(READ_AT_ONCE)
            .filter_map(|d| async move { d })
            .collect()
            .await;
        WebhookDeliveries {
            endpoints,
            truncated,
        }
    }

    /// Appends the webhook metrics' text exposition to `out`.
    fn render(&self, out: &mut String) {
        let labels = |d: &EndpointDeliveries| {
            format!(
                "tenant=\"{}\",endpoint=\"{}\"",
                escape(&d.tenant),
                escape(&d.endpoint)
            )
        };
        let _ = writeln!(
            out,
            "# HELP scim_webhook_deliveries_total Webhook delivery attempts since the endpoint was added, by outcome."
        );
        let _ = writeln!(out, "# TYPE scim_webhook_deliveries_total counter");
        for d in &self.endpoints {
            let l = labels(d);
            let c = d.counts;
            for (outcome, n) in [
                ("delivered", c.delivered),
                ("retrying", c.retried),
                ("given_up", c.given_up),
                ("gone", c.gone),
            ] {
                let _ = writeln!(
                    out,
                    "scim_webhook_deliveries_total{{{l},outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP scim_webhook_pending_events Events a webhook endpoint wants that wait to be delivered (counted up to 10000)."
        );
        let _ = writeln!(out, "# TYPE scim_webhook_pending_events gauge");
        for d in &self.endpoints {
            let _ = writeln!(
                out,
                "scim_webhook_pending_events{{{}}} {}",
                labels(d),
                d.pending
            );
        }
        let _ = writeln!(
            out,
            "# HELP scim_webhook_oldest_pending_seconds How long the oldest event waiting for a webhook endpoint has waited (0 when none waits)."
        );
        let _ = writeln!(out, "# TYPE scim_webhook_oldest_pending_seconds gauge");
        for d in &self.endpoints {
            let _ = writeln!(
                out,
                "scim_webhook_oldest_pending_seconds{{{}}} {}",
                labels(d),
                d.oldest_pending_seconds
            );
        }
        let _ = writeln!(
            out,
            "# HELP scim_webhook_metrics_truncated 1 when there are more webhook endpoints than the {MAX_WEBHOOK_ENDPOINTS} reported."
        );
        let _ = writeln!(out, "# TYPE scim_webhook_metrics_truncated gauge");
        let _ = writeln!(
            out,
            "scim_webhook_metrics_truncated {}",
            u8::from(self.truncated)
        );
    }
}

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    rate_limited: u64,
    rate_limited_by_key: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Records one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = m
            .latency
            .entry((method.to_string(), route.to_string()))
            .or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Records a request refused by a rate limit: a key's (with its label), or the per-address
    /// limit on failed authentications (`None`).
    pub fn rate_limited(&self, key_label: Option<&str>) {
        if let Ok(mut m) = self.inner.lock() {
            m.rate_limited += 1;
            if let Some(label) = key_label {
                *m.rate_limited_by_key.entry(label.to_string()).or_default() += 1;
            }
        }
    }

    /// The text exposition (Prometheus format 0.0.4), with the store's size and the webhook
    /// deliveries read at this scrape.
    pub fn render(
        &self,
        store_bytes: u64,
        commits: Option<CommitCounts>,
        webhooks: &WebhookDeliveries,
    ) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else { return out };
        let _ = writeln!(
            out,
            "# HELP scim_requests_total Requests answered, by method, route and status."
        );
        let _ = writeln!(out, "# TYPE scim_requests_total counter");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "scim_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP scim_request_duration_seconds Time to answer, by method and route."
        );
        let _ = writeln!(out, "# TYPE scim_request_duration_seconds histogram");
        for ((method, route), h) in &m.latency {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "scim_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "scim_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "scim_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "scim_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        unlabelled(
            &mut out,
            ("scim_rate_limited_total", "counter"),
            "Requests refused with 429.",
            m.rate_limited,
        );
        let _ = writeln!(
            out,
            "# HELP scim_rate_limited_by_key_total Requests refused with 429 by the per-key limit, by key label."
        );
        let _ = writeln!(out, "# TYPE scim_rate_limited_by_key_total counter");
        for (label, n) in &m.rate_limited_by_key {
            let _ = writeln!(
                out,
                "scim_rate_limited_by_key_total{{key_label=\"{}\"}} {n}",
                escape(label)
            );
        }
        unlabelled(
            &mut out,
            ("scim_store_size_bytes", "gauge"),
            "Size of the store's files on disk.",
            store_bytes,
        );
        // Only an engine that batches commits (sled) has these.
        if let Some(c) = commits {
            unlabelled(
                &mut out,
                ("scim_commit_batches_total", "counter"),
                "Batches committed, each one transaction and one flush.",
                c.batches,
            );
            unlabelled(
                &mut out,
                ("scim_commit_writes_total", "counter"),
                "Writes taken in those batches (refused ones too).",
                c.writes,
            );
        }
        webhooks.render(&mut out);
        out
    }
}

/// A metric without labels: its help, its type and its one sample.
fn unlabelled(out: &mut String, (name, kind): (&str, &str), help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("GET", "/scim/v2/<rt>", 200, Duration::from_millis(3));
        m.observe("GET", "/scim/v2/<rt>", 200, Duration::from_millis(30));
        m.observe("GET", "/scim/v2/<rt>", 404, Duration::from_millis(1));
        m.rate_limited(None);
        let text = m.render(4096, None, &WebhookDeliveries::default());
        assert!(text.contains(
            "scim_requests_total{method=\"GET\",route=\"/scim/v2/<rt>\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "scim_requests_total{method=\"GET\",route=\"/scim/v2/<rt>\",status=\"404\"} 1"
        ));
        assert!(
            text.contains("le=\"0.005\"} 2\n"),
            "cumulative: 1 ms and 3 ms are under 5 ms\n{text}"
        );
        assert!(text.contains("le=\"+Inf\"} 3\n"));
        assert!(text.contains("scim_rate_limited_total 1\n"));
        assert!(text.contains("scim_store_size_bytes 4096\n"));
        assert!(
            !text.contains("scim_commit_"),
            "no commit counts from an engine that has none"
        );
        let commits = CommitCounts {
            batches: 3,
            writes: 40,
        };
        let text = m.render(4096, Some(commits), &WebhookDeliveries::default());
        assert!(text.contains("scim_commit_batches_total 3\n"), "{text}");
        assert!(text.contains("scim_commit_writes_total 40\n"), "{text}");
    }

    #[test]
    fn rejections_are_counted_by_key_label_with_the_label_escaped() {
        let m = Metrics::default();
        m.rate_limited(Some("okta"));
        m.rate_limited(Some("okta"));
        m.rate_limited(Some("a \"b\" \\ c\nd"));
        m.rate_limited(None);
        let text = m.render(0, None, &WebhookDeliveries::default());
        assert!(text.contains("scim_rate_limited_total 4\n"), "{text}");
        assert!(
            text.contains("scim_rate_limited_by_key_total{key_label=\"okta\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "scim_rate_limited_by_key_total{key_label=\"a \\\"b\\\" \\\\ c\\nd\"} 1\n"
            ),
            "quote, backslash and newline escaped: {text}"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("scim_rate_limited_by_key_total{"))
                .count(),
            2,
            "the per-address rejection has no key: {text}"
        );
    }

    #[test]
    fn webhook_deliveries_by_outcome_with_labels_escaped_and_truncation() {
        let m = Metrics::default();
        let text = m.render(0, None, &WebhookDeliveries::default());
        assert!(
            text.contains("scim_webhook_metrics_truncated 0\n"),
            "{text}"
        );
        assert!(!text.contains("scim_webhook_pending_events{"), "{text}");
        let webhooks = WebhookDeliveries {
            endpoints: vec![EndpointDeliveries {
                tenant: "acme".into(),
                endpoint: "a\"b\\c\nd".into(),
                counts: Counts {
                    delivered: 5,
                    retried: 3,
                    given_up: 1,
                    gone: 0,
                },
                pending: 2,
                oldest_pending_seconds: 1.5,
            }],
            truncated: true,
        };
        let text = m.render(0, None, &webhooks);
        let l = "tenant=\"acme\",endpoint=\"a\\\"b\\\\c\\nd\"";
        for line in [
            format!("scim_webhook_deliveries_total{{{l},outcome=\"delivered\"}} 5\n"),
            format!("scim_webhook_deliveries_total{{{l},outcome=\"retrying\"}} 3\n"),
            format!("scim_webhook_deliveries_total{{{l},outcome=\"given_up\"}} 1\n"),
            format!("scim_webhook_deliveries_total{{{l},outcome=\"gone\"}} 0\n"),
            format!("scim_webhook_pending_events{{{l}}} 2\n"),
            format!("scim_webhook_oldest_pending_seconds{{{l}}} 1.5\n"),
            "scim_webhook_metrics_truncated 1\n".to_string(),
            "# TYPE scim_webhook_deliveries_total counter\n".to_string(),
            "# TYPE scim_webhook_pending_events gauge\n".to_string(),
        ] {
            assert!(text.contains(&line), "{line}\n{text}");
        }
    }
}
