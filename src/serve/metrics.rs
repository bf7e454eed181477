//! Request counters and the Prometheus text exposition, written by hand: a handful of
//! series does not justify a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Which kind of resource a request asked for (the `route` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteClass {
    SimpleRoot,
    SimpleProject,
    Packages,
    Metadata,
    JsonApi,
    Other,
}

impl RouteClass {
    pub fn of(path: &str) -> RouteClass {
        if path == "/simple/" || path == "/simple" {
            RouteClass::SimpleRoot
        } else if path.starts_with("/simple/") {
            RouteClass::SimpleProject
        } else if let Some(rest) = path.strip_prefix("/packages/") {
            if rest.ends_with(".metadata") {
                RouteClass::Metadata
            } else {
                RouteClass::Packages
            }
        } else if path.starts_with("/pypi/") && path.ends_with("/json") {
            RouteClass::JsonApi
        } else {
            RouteClass::Other
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RouteClass::SimpleRoot => "simple_root",
            RouteClass::SimpleProject => "simple_project",
            RouteClass::Packages => "packages",
            RouteClass::Metadata => "metadata",
            RouteClass::JsonApi => "json_api",
            RouteClass::Other => "other",
        }
    }
}

/// Upper bounds of the duration histogram, seconds.
const BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Series {
    requests: BTreeMap<(RouteClass, u16), u64>,
    durations: BTreeMap<RouteClass, Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
    bytes_sent: AtomicU64,
    open_connections: AtomicI64,
    connections_total: AtomicU64,
}

/// What `/metrics` reports about the mirror itself.
pub struct MirrorGauges {
    pub serial: Option<i64>,
    pub last_sync_unix: Option<i64>,
}

impl Metrics {
    pub fn record(&self, route: RouteClass, status: u16, bytes: u64, elapsed: Duration) {
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let mut s = self.series.lock().unwrap_or_else(|p| p.into_inner());
        *s.requests.entry((route, status)).or_default() += 1;
        let h = s.durations.entry(route).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    pub fn connection_opened(&self) {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.open_connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn render(&self, mirror: &MirrorGauges) -> String {
        let mut out = String::new();
        let (requests, durations) = {
            let s = self.series.lock().unwrap_or_else(|p| p.into_inner());
            (s.requests.clone(), s.durations.clone())
        };
        out.push_str(
            "# HELP vorpal_requests_total HTTP requests answered, by route class and status.\n",
        );
        out.push_str("# TYPE vorpal_requests_total counter\n");
        for ((route, status), n) in &requests {
            let _ = writeln!(
                out,
                "vorpal_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                route.label()
            );
        }
        out.push_str("# HELP vorpal_bytes_sent_total Response body bytes sent.\n");
        out.push_str("# TYPE vorpal_bytes_sent_total counter\n");
        let _ = writeln!(
            out,
            "vorpal_bytes_sent_total {}",
            self.bytes_sent.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP vorpal_request_duration_seconds Time from request to last body byte.\n",
        );
        out.push_str("# TYPE vorpal_request_duration_seconds histogram\n");
        for (route, h) in &durations {
            let label = route.label();
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "vorpal_request_duration_seconds_bucket{{route=\"{label}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "vorpal_request_duration_seconds_bucket{{route=\"{label}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "vorpal_request_duration_seconds_sum{{route=\"{label}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "vorpal_request_duration_seconds_count{{route=\"{label}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP vorpal_open_connections Client connections currently open.\n");
        out.push_str("# TYPE vorpal_open_connections gauge\n");
        let _ = writeln!(
            out,
            "vorpal_open_connections {}",
            self.open_connections.load(Ordering::Relaxed)
        );
        out.push_str("# HELP vorpal_connections_total Client connections accepted.\n");
        out.push_str("# TYPE vorpal_connections_total counter\n");
        let _ = writeln!(
            out,
            "vorpal_connections_total {}",
            self.connections_total.load(Ordering::Relaxed)
        );
        if let Some(serial) = mirror.serial {
            out.push_str("# HELP vorpal_mirror_serial Serial of the served mirror (root index).\n");
            out.push_str("# TYPE vorpal_mirror_serial gauge\n");
            let _ = writeln!(out, "vorpal_mirror_serial {serial}");
        }
        if let Some(ts) = mirror.last_sync_unix {
            out.push_str("# HELP vorpal_mirror_last_sync_timestamp_seconds End of the last successful sync (web/last-modified).\n");
            out.push_str("# TYPE vorpal_mirror_last_sync_timestamp_seconds gauge\n");
            let _ = writeln!(out, "vorpal_mirror_last_sync_timestamp_seconds {ts}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(RouteClass::of("/simple/"), RouteClass::SimpleRoot);
        assert_eq!(RouteClass::of("/simple/foo/"), RouteClass::SimpleProject);
        assert_eq!(RouteClass::of("/packages/a/b/c.whl"), RouteClass::Packages);
        assert_eq!(
            RouteClass::of("/packages/a/b/c.whl.metadata"),
            RouteClass::Metadata
        );
        assert_eq!(RouteClass::of("/pypi/foo/json"), RouteClass::JsonApi);
        assert_eq!(RouteClass::of("/health"), RouteClass::Other);
    }

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.record(RouteClass::Packages, 200, 10, Duration::from_millis(3));
        m.connection_opened();
        let text = m.render(&MirrorGauges {
            serial: Some(5),
            last_sync_unix: Some(100),
        });
        assert!(text.contains("vorpal_requests_total{route=\"packages\",status=\"200\"} 1\n"));
        assert!(text.contains("vorpal_bytes_sent_total 10\n"));
        assert!(text.contains(
            "vorpal_request_duration_seconds_bucket{route=\"packages\",le=\"0.005\"} 1\n"
        ));
        assert!(text.contains("vorpal_open_connections 1\n"));
        assert!(text.contains("vorpal_mirror_serial 5\n"));
        assert!(text.contains("vorpal_mirror_last_sync_timestamp_seconds 100\n"));
    }
}
