//! The Prometheus export of a [`Telemetry`]: [`serve_prometheus`] answers `GET /metrics` with
//! the OpenMetrics text format (Prometheus's standard text exposition; Prometheus scrapes it
//! natively), encoded by the `prometheus-client` crate from exactly one
//! [`Telemetry::snapshot`] per scrape, so the export is always the model and never a copy kept
//! in step with it.
//!
//! Metrics (counters end in `_total`, as the format requires):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tutti_frames_delivered_total` | counter | `adapter` |
//! | `tutti_frames_failed_total` | counter | `adapter` |
//! | `tutti_stage_seconds_total` | counter | `adapter`, `stage` |
//! | `tutti_queue_depth` | gauge | `adapter`, `queue` |
//! | `tutti_adapter_retired` | gauge (1 per retired adapter) | `adapter`, `reason` |
//! | `tutti_jobs_{started,completed,failed,timed_out,cancelled,retried}_total` | counter | |
//! | `tutti_jobs_running`, `tutti_jobs_workers`, `tutti_jobs_in_flight_limit` | gauge | |
//! | `tutti_jobs_queued` | gauge | `priority` |
//! | `tutti_jobs_start_latency_p99_seconds` | gauge (priorities with a started job) | `priority` |
//! | `tutti_jobs_profile` | gauge (1) | `profile` |
//! | `tutti_uptime_seconds` | gauge | |

use super::{Telemetry, TelemetryError, TelemetrySnapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const PRIORITIES: [&str; 4] = ["background", "normal", "high", "critical"];

/// A `prometheus-client` collector that takes one snapshot per scrape.
#[derive(Debug)]
struct SnapshotCollector(Arc<Telemetry>);

impl Collector for SnapshotCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        encode_snapshot(&self.0.snapshot(), encoder)
    }
}

/// A registry holding one snapshot (used to encode it as text).
#[derive(Debug)]
struct FixedCollector(TelemetrySnapshot);

impl Collector for FixedCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        encode_snapshot(&self.0, encoder)
    }
}

/// A value: a count, a signed integer or a real number (written as `1`, `-2` or `0.25`).
#[derive(Debug, Clone, Copy)]
enum Num {
    Count(u64),
    Int(i64),
    Real(f64),
}

/// One series: its labels and value.
type Row<'a> = (Vec<(&'a str, &'a str)>, Num);

fn put(kind: MetricType, m: MetricEncoder, v: Num) -> fmt::Result {
    match (kind, v) {
        (MetricType::Counter, Num::Count(n)) => ConstCounter::new(n).encode(m),
        (MetricType::Counter, Num::Int(n)) => ConstCounter::new(n.max(0).unsigned_abs()).encode(m),
        (MetricType::Counter, Num::Real(x)) => ConstCounter::new(x).encode(m),
        (_, Num::Count(n)) => ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX)).encode(m),
        (_, Num::Int(n)) => ConstGauge::new(n).encode(m),
        (_, Num::Real(x)) => ConstGauge::new(x).encode(m),
    }
}

/// A metric family and its series (a single series without labels is written without `{}`).
fn family(
    e: &mut DescriptorEncoder,
    kind: MetricType,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: &[Row],
) -> fmt::Result {
    let mut family = e.encode_descriptor(name, help, unit, kind)?;
    match rows {
        [(labels, v)] if labels.is_empty() => put(kind, family, *v),
        _ => {
            for (labels, v) in rows {
                put(kind, family.encode_family(labels)?, *v)?;
            }
            Ok(())
        }
    }
}

fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: &[Row],
) -> fmt::Result {
    family(e, MetricType::Counter, name, help, unit, rows)
}

fn gauge(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: &[Row],
) -> fmt::Result {
    family(e, MetricType::Gauge, name, help, unit, rows)
}

/// Write every metric of `s` (see the module doc for the list).
fn encode_snapshot(s: &TelemetrySnapshot, mut e: DescriptorEncoder) -> fmt::Result {
    let e = &mut e;
    let per_adapter = |f: &dyn Fn(&super::AdapterTelemetry) -> Num| -> Vec<Row> {
        s.adapters
            .iter()
            .map(|a| (vec![("adapter", a.adapter.as_str())], f(a)))
            .collect()
    };
    let delivered = per_adapter(&|a| Num::Count(a.frames_delivered));
    counter(
        e,
        "tutti_frames_delivered",
        "Frames delivered, per adapter.",
        None,
        &delivered,
    )?;
    let failed = per_adapter(&|a| Num::Count(a.frames_failed));
    counter(
        e,
        "tutti_frames_failed",
        "Frames that failed, per adapter.",
        None,
        &failed,
    )?;
    let stages: Vec<Row> = s
        .adapters
        .iter()
        .flat_map(|a| {
            a.stages.iter().map(|st| {
                (
                    vec![
                        ("adapter", a.adapter.as_str()),
                        ("stage", st.stage.as_str()),
                    ],
                    Num::Real(st.seconds),
                )
            })
        })
        .collect();
    counter(
        e,
        "tutti_stage",
        "Summed time per pipeline stage, per adapter.",
        Some(&Unit::Seconds),
        &stages,
    )?;
    let queues: Vec<Row> = s
        .adapters
        .iter()
        .flat_map(|a| {
            a.queues.iter().map(|q| {
                (
                    vec![("adapter", a.adapter.as_str()), ("queue", q.queue.as_str())],
                    Num::Int(q.depth),
                )
            })
        })
        .collect();
    gauge(
        e,
        "tutti_queue_depth",
        "Items in a queue, per adapter.",
        None,
        &queues,
    )?;
    let retired: Vec<Row> = s
        .adapters
        .iter()
        .filter_map(|a| {
            a.retired.as_deref().map(|reason| {
                (
                    vec![("adapter", a.adapter.as_str()), ("reason", reason)],
                    Num::Count(1),
                )
            })
        })
        .collect();
    gauge(
        e,
        "tutti_adapter_retired",
        "1 for each adapter retired from service, with the reason.",
        None,
        &retired,
    )?;
    gauge(
        e,
        "tutti_uptime",
        "Seconds since the telemetry started.",
        Some(&Unit::Seconds),
        &[(vec![], Num::Real(s.uptime_s))],
    )?;
    let Some(j) = &s.jobs else {
        return Ok(());
    };
    for (name, help, v) in [
        ("tutti_jobs_started", "Job attempts started.", j.started),
        ("tutti_jobs_completed", "Jobs that succeeded.", j.completed),
        ("tutti_jobs_failed", "Jobs that failed for good.", j.failed),
        ("tutti_jobs_timed_out", "Jobs that timed out.", j.timed_out),
        ("tutti_jobs_cancelled", "Jobs cancelled.", j.cancelled),
        ("tutti_jobs_retried", "Retries scheduled.", j.retried),
    ] {
        counter(e, name, help, None, &[(vec![], Num::Count(v))])?;
    }
    for (name, help, v) in [
        ("tutti_jobs_running", "Jobs running now.", j.running),
        ("tutti_jobs_workers", "Job workers.", j.workers),
        (
            "tutti_jobs_in_flight_limit",
            "Jobs allowed to run at once (adaptive profile), else the worker count.",
            j.in_flight_limit,
        ),
    ] {
        gauge(e, name, help, None, &[(vec![], Num::Count(v as u64))])?;
    }
    let queued: Vec<Row> = PRIORITIES
        .iter()
        .zip(j.queued)
        .map(|(p, n)| (vec![("priority", *p)], Num::Count(n as u64)))
        .collect();
    gauge(
        e,
        "tutti_jobs_queued",
        "Ready jobs waiting, per priority.",
        None,
        &queued,
    )?;
    let latency: Vec<Row> = PRIORITIES
        .iter()
        .zip(j.start_latency_p99_s)
        .filter_map(|(p, v)| v.map(|v| (vec![("priority", *p)], Num::Real(v))))
        .collect();
    gauge(
        e,
        "tutti_jobs_start_latency_p99",
        "99th percentile of the time from a job becoming ready to its first attempt starting, per priority, since the executor started (log-linear buckets at most 12.5 % wide; the bucket end is given).",
        Some(&Unit::Seconds),
        &latency,
    )?;
    gauge(
        e,
        "tutti_jobs_profile",
        "1, labelled with the job system's performance profile.",
        None,
        &[(vec![("profile", j.profile.name())], Num::Count(1))],
    )?;
    Ok(())
}

/// `snapshot` in the OpenMetrics text format, ending with `# EOF`.
pub fn encode_text(snapshot: &TelemetrySnapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(FixedCollector(snapshot.clone())));
    let mut text = String::new();
    // Writing to a String cannot fail, and every value is plain data.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::error!("cannot encode the metrics: {e}");
    }
    text
}

/// A running metrics server (see [`serve_prometheus`]). Stopping it (or dropping it) answers
/// the requests already queued and joins its thread; the listening socket closes just after,
/// when tiny_http's accept thread wakes (a request that lands in between gets tiny_http's 500).
pub struct MetricsServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MetricsServer(http://{}/metrics)", self.addr)
    }
}

impl MetricsServer {
    /// The address it listens on (the port the OS chose, when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop serving: when this returns the serving thread has ended and no more scrapes are
    /// answered.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the metrics server thread panicked");
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serve `telemetry` for Prometheus at `http://ADDR/metrics`, from a background thread, until
/// the returned server is stopped or dropped. Binds exactly `addr` (give `127.0.0.1:PORT` to
/// serve this machine only, or an interface's address to be scraped from elsewhere); there is
/// no default address. Every scrape encodes one fresh [`Telemetry::snapshot`].
pub fn serve_prometheus(
    addr: SocketAddr,
    telemetry: Arc<Telemetry>,
) -> Result<MetricsServer, TelemetryError> {
    let listener =
        TcpListener::bind(addr).map_err(|source| TelemetryError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| TelemetryError::Bind { addr, source })?;
    let server =
        tiny_http::Server::from_listener(listener, None).map_err(|e| TelemetryError::Server {
            addr,
            reason: e.to_string(),
        })?;
    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(telemetry)));
    let thread = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::Builder::new()
            .name("tutti-metrics".into())
            .spawn(move || serve(&server, &stop, &registry))
            .map_err(|e| TelemetryError::Server {
                addr,
                reason: format!("cannot start its thread: {e}"),
            })?
    };
    Ok(MetricsServer {
        addr: local,
        server,
        stop,
        thread: Some(thread),
    })
}

/// Answer requests until `stop` is set (and `unblock` wakes the wait), then those already
/// queued (tiny_http would answer a request dropped unanswered with a 500).
fn serve(server: &tiny_http::Server, stop: &AtomicBool, registry: &Registry) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv() {
            Ok(request) => answer(request, registry),
            Err(e) => {
                if !stop.load(Ordering::SeqCst) {
                    tracing::warn!("metrics server: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
    }
    while let Ok(Some(request)) = server.try_recv() {
        answer(request, registry);
    }
}

/// `GET /metrics`: the registry's text; anything else: 404 or 405.
fn answer(request: tiny_http::Request, registry: &Registry) {
    let path = request.url().split('?').next().unwrap_or("");
    let response = if *request.method() != tiny_http::Method::Get {
        tiny_http::Response::from_string("only GET is served\n").with_status_code(405)
    } else if path == "/metrics" {
        let mut text = String::new();
        match prometheus_client::encoding::text::encode(&mut text, registry) {
            Ok(()) => header(tiny_http::Response::from_string(text), CONTENT_TYPE),
            Err(e) => tiny_http::Response::from_string(format!("cannot encode: {e}\n"))
                .with_status_code(500),
        }
    } else {
        tiny_http::Response::from_string("tutti serves its metrics at /metrics\n")
            .with_status_code(404)
    };
    // A scraper that hung up is not our problem.
    let _ = request.respond(response);
}

fn header<R: std::io::Read>(
    response: tiny_http::Response<R>,
    value: &str,
) -> tiny_http::Response<R> {
    match tiny_http::Header::from_bytes(&b"Content-Type"[..], value.as_bytes()) {
        Ok(h) => response.with_header(h),
        Err(()) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn the_text_has_every_family_with_escaped_labels() {
        let t = Telemetry::new();
        t.record_frame(
            "llvmpipe (LLVM 15, 256 bits) \"gl\"",
            &[("render", Duration::from_millis(250))],
        );
        t.retire("gpu\\1", "device lost\nat frame 3");
        let text = encode_text(&t.snapshot());
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains("# TYPE tutti_frames_delivered counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "tutti_frames_delivered_total{adapter=\"llvmpipe (LLVM 15, 256 bits) \\\"gl\\\"\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("tutti_stage_seconds_total{adapter=\"llvmpipe (LLVM 15, 256 bits) \\\"gl\\\"\",stage=\"render\"} 0.25\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "tutti_adapter_retired{adapter=\"gpu\\\\1\",reason=\"device lost\\nat frame 3\"} 1\n"
            ),
            "{text}"
        );
        // No executor attached: no job metrics.
        assert!(!text.contains("tutti_jobs_"), "{text}");
    }

    #[test]
    fn a_scrape_sees_the_model_now_and_stopping_closes_the_port() {
        let t = Arc::new(Telemetry::new());
        t.attach_executor(crate::jobs::Executor::with_workers(1).expect("executor"));
        let server =
            serve_prometheus("127.0.0.1:0".parse().expect("addr"), t.clone()).expect("serve");
        let addr = server.addr();
        assert_ne!(addr.port(), 0);
        t.frame_delivered("a");
        let first = get(addr, "/metrics");
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(first.contains(CONTENT_TYPE), "{first}");
        assert!(
            first.contains("tutti_frames_delivered_total{adapter=\"a\"} 1\n"),
            "{first}"
        );
        assert!(
            first.contains("tutti_jobs_profile{profile=\"performance\"} 1\n"),
            "{first}"
        );
        t.frame_delivered("a");
        let second = get(addr, "/metrics");
        assert!(
            second.contains("tutti_frames_delivered_total{adapter=\"a\"} 2\n"),
            "{second}"
        );
        assert!(get(addr, "/").starts_with("HTTP/1.1 404"));
        // The same address cannot be bound twice: the error names it and says what to do.
        let e = serve_prometheus(addr, t.clone()).expect_err("port in use");
        let message = e.to_string();
        assert!(message.contains(&addr.to_string()), "{message}");
        assert!(message.contains("pass another --metrics-addr"), "{message}");
        server.stop();
        // tiny_http's accept thread lets go of the socket just after the stop (it is woken by
        // a connection of its own): give it a moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "still listening after stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
