//! A small Prometheus registry: request counts and a latency histogram by
//! method, route (the route's pattern, not the raw path, so that the number
//! of series stays bounded) and status, in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// The upper bounds of the latency histogram's buckets, in seconds.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    /// Counts per bucket (not cumulative; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request metrics of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    /// Connector runs finished by this node, by final state.
    runs: Mutex<BTreeMap<&'static str, u64>>,
    /// Evaluations written by this node's runs.
    evaluations: std::sync::atomic::AtomicU64,
}

impl Metrics {
    /// Records one request to `route` (its pattern, or `unmatched`).
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let entry = series
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        entry.count += 1;
        entry.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            entry.buckets[i] += 1;
        }
    }

    /// Records a run this node finished in `state`, with the evaluations
    /// it wrote.
    pub fn run_finished(&self, state: vigil_store::connectors::RunState, evaluations: Option<u64>) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        *runs.entry(state.as_str()).or_default() += 1;
        self.evaluations.fetch_add(
            evaluations.unwrap_or(0),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The run metrics in the Prometheus text format.
    fn render_runs(&self, out: &mut String) {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        out.push_str(
            "# HELP vigil_runs_total Connector runs finished by this node, by final state.\n",
        );
        out.push_str("# TYPE vigil_runs_total counter\n");
        for state in ["completed", "failed"] {
            let n = runs.get(state).copied().unwrap_or(0);
            let _ = writeln!(out, "vigil_runs_total{{state=\"{state}\"}} {n}");
        }
        out.push_str("# HELP vigil_evaluations_written_total Evaluations written by this node's connector runs.\n");
        out.push_str("# TYPE vigil_evaluations_written_total counter\n");
        let _ = writeln!(
            out,
            "vigil_evaluations_written_total {}",
            self.evaluations.load(std::sync::atomic::Ordering::Relaxed)
        );
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = String::new();
        out.push_str(
            "# HELP vigil_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE vigil_http_requests_total counter\n");
        for ((method, route, status), s) in &series {
            let _ = writeln!(
                out,
                "vigil_http_requests_total{{{}}} {}",
                labels(method, route, *status),
                s.count
            );
        }
        out.push_str("# HELP vigil_http_request_duration_seconds HTTP request latency by method, route and status.\n");
        out.push_str("# TYPE vigil_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in &series {
            let labels = labels(method, route, *status);
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "vigil_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        self.render_runs(&mut out);
        out
    }
}

fn labels(method: &str, route: &str, status: u16) -> String {
    format!(
        "method=\"{}\",route=\"{}\",status=\"{status}\"",
        escape(method),
        escape(route)
    )
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets_are_rendered() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/health", 200, Duration::from_millis(3));
        metrics.observe("GET", "/health", 200, Duration::from_millis(70));
        metrics.observe("POST", "/auth", 401, Duration::from_secs(20));
        let text = metrics.render();
        let labels = "method=\"GET\",route=\"/health\",status=\"200\"";
        assert!(
            text.contains(&format!("vigil_http_requests_total{{{labels}}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{labels},le=\"0.005\"}} 1\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{labels},le=\"0.05\"}} 1\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{labels},le=\"0.1\"}} 2\n")),
            "{text}"
        );
        let slow = "method=\"POST\",route=\"/auth\",status=\"401\"";
        assert!(
            text.contains(&format!("_bucket{{{slow},le=\"10\"}} 0\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{slow},le=\"+Inf\"}} 1\n")),
            "{text}"
        );
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
