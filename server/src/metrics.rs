//! Counters for `/metrics`, in the Prometheus text format: requests by route and status, latency
//! histograms by route, rate-limit rejections (all, and by key label), and the store's size.
//! Routes are Rocket's route templates (`/scim/v2/<rt>/<id>`), so no id, name or filter value
//! ever becomes a label; key labels are chosen by administrators, one series per label.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

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

    /// The text exposition (Prometheus format 0.0.4).
    pub fn render(&self, store_bytes: u64) -> String {
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
        let _ = writeln!(
            out,
            "# HELP scim_rate_limited_total Requests refused with 429."
        );
        let _ = writeln!(out, "# TYPE scim_rate_limited_total counter");
        let _ = writeln!(out, "scim_rate_limited_total {}", m.rate_limited);
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
        let _ = writeln!(
            out,
            "# HELP scim_store_size_bytes Size of the store's files on disk."
        );
        let _ = writeln!(out, "# TYPE scim_store_size_bytes gauge");
        let _ = writeln!(out, "scim_store_size_bytes {store_bytes}");
        out
    }
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
        let text = m.render(4096);
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
    }

    #[test]
    fn rejections_are_counted_by_key_label_with_the_label_escaped() {
        let m = Metrics::default();
        m.rate_limited(Some("okta"));
        m.rate_limited(Some("okta"));
        m.rate_limited(Some("a \"b\" \\ c\nd"));
        m.rate_limited(None);
        let text = m.render(0);
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
}
