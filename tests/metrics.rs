//! The Prometheus export: `tutti render --offscreen --metrics-addr` serves metrics while the
//! batch runs, and a batch run through the library with `serve_prometheus` ends with counters
//! that match its manifest exactly.
//!
//! Scrapes are parsed by the strict OpenMetrics line parser below, not by the
//! `prometheus-parse` crate: that crate splits label sets on every comma (an adapter label such
//! as `llvmpipe (LLVM 15.0.7, 256 bits)` contains commas) and silently skips lines it does not
//! understand, so it would hide the very mistakes this test looks for.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn number(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => {
            s.parse().map_err(|e| format!("{s:?}: {e}"))
        }
        _ => Err(format!("{s:?} is not a number")),
    }
}

/// Parse `{a="x",b="y\"z"}` from the start of `s`; returns the labels and the rest.
fn labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut out = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("no {")?;
    if let Some(r) = rest.strip_prefix('}') {
        return Ok((out, r));
    }
    loop {
        let eq = rest.find('=').ok_or("label without =")?;
        let key = &rest[..eq];
        if !is_name(key, false) {
            return Err(format!("bad label name {key:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (_, '\n') => return Err("newline in a label value".into()),
                (_, c) => value.push(c),
            }
        };
        if out.insert(key.to_string(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        rest = rest.strip_prefix(',').ok_or("labels not separated by ,")?;
    }
}

/// A strict parse of the OpenMetrics text format: `# HELP`/`# TYPE`/`# UNIT` lines, samples
/// that belong to the family declared just before them (counters as `NAME_total`), escaped
/// label values, no series twice, and `# EOF` as the last line. Returns the samples and each
/// family's type.
fn parse_openmetrics(text: &str) -> Result<(Vec<Sample>, HashMap<String, String>), String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("the exposition does not end with # EOF")?;
    let mut types: HashMap<String, String> = HashMap::new();
    let mut family: Option<(String, String)> = None;
    let mut samples = Vec::new();
    let mut seen = HashSet::new();
    for (n, line) in body.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, name, rest) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts
                    .next()
                    .ok_or_else(|| at("metadata without a value".into()))?,
            );
            if !is_name(name, true) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            match kind {
                "HELP" | "UNIT" => {}
                "TYPE" => {
                    if ![
                        "counter",
                        "gauge",
                        "info",
                        "unknown",
                        "histogram",
                        "summary",
                    ]
                    .contains(&rest)
                    {
                        return Err(at(format!("unknown type {rest:?}")));
                    }
                    if types.insert(name.into(), rest.into()).is_some() {
                        return Err(at("family declared twice".into()));
                    }
                    family = Some((name.into(), rest.into()));
                }
                _ => return Err(at(format!("unknown metadata {kind:?}"))),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !is_name(name, true) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            labels(&line[name_end..]).map_err(at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("no space before the value".into()))?;
        let mut fields = rest.split(' ');
        let value = number(fields.next().unwrap_or("")).map_err(at)?;
        if let Some(ts) = fields.next() {
            number(ts).map_err(at)?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let (fam, kind) = family
            .as_ref()
            .ok_or_else(|| at("sample before any # TYPE".into()))?;
        let ok = match kind.as_str() {
            "counter" => name == format!("{fam}_total") || name == format!("{fam}_created"),
            _ => name == fam,
        };
        if !ok {
            return Err(at(format!("sample does not belong to the {kind} {fam}")));
        }
        if kind == "counter" && (value.is_nan() || value < 0.0) {
            return Err(at("negative counter".into()));
        }
        if !seen.insert((name.to_string(), labels.clone())) {
            return Err(at("series twice".into()));
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok((samples, types))
}

/// The strict parser refuses what a lenient one lets through.
#[test]
fn the_strict_parser_rejects_malformed_expositions() {
    let good = "# HELP a_b x.\n# TYPE a_b counter\na_b_total{adapter=\"x, \\\"y\\\"\"} 3\n# EOF\n";
    let (samples, types) = parse_openmetrics(good).expect("good");
    assert_eq!(samples[0].labels["adapter"], "x, \"y\"");
    assert_eq!(types["a_b"], "counter");
    for bad in [
        "# TYPE a counter\na_total 1\n",                       // no EOF
        "# TYPE a counter\na 1\n# EOF\n",                      // counter without _total
        "a 1\n# EOF\n",                                        // no TYPE
        "# TYPE a gauge\na{x=\"1} 1\n# EOF\n",                 // unterminated value
        "# TYPE a gauge\na{x=\"\\t\"} 1\n# EOF\n",             // bad escape
        "# TYPE a gauge\na{x=\"1\"} one\n# EOF\n",             // not a number
        "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n# EOF\n", // series twice
        "# TYPE a gauge\na{x=\"1\" y=\"2\"} 1\n# EOF\n",       // missing comma
    ] {
        assert!(parse_openmetrics(bad).is_err(), "accepted {bad:?}");
    }
}

/// `GET /metrics` over a plain TCP stream: the status line and the body.
fn scrape(addr: SocketAddr) -> std::io::Result<(String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let status = head.lines().next().unwrap_or("").to_string();
    Ok((status, body.to_string()))
}

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

fn sum(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

fn manifest_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .expect("manifest")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// The CLI serves the metrics while the batch runs: every scrape parses strictly, some scrape
/// sees the batch part-way, counters never go down, and the frames counted never exceed what
/// the manifest holds at the end. (300 frames: about 3 s on two software adapters, so scrapes
/// 50 ms apart land mid-run.)
#[test]
fn render_with_metrics_addr_serves_openmetrics_while_the_batch_runs() {
    if common::software_adapters().is_empty() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let addr = free_port();
    let addr_text = addr.to_string();
    let log = std::fs::File::create(tmp.path().join("stderr.txt")).expect("log");
    let mut child = common::tutti_cmd(
        &[
            "render",
            "--offscreen",
            "--out",
            "out",
            "--frames",
            "0..300",
            "--metrics-addr",
            &addr_text,
        ],
        tmp.path(),
    )
    .stdout(Stdio::null())
    .stderr(log)
    .spawn()
    .expect("tutti starts");
    let started = Instant::now();
    let mut scrapes: Vec<Vec<Sample>> = Vec::new();
    // A scrape racing the server's stop at the end of the batch may be refused (tiny_http
    // answers a request still queued when it closes with a 500); any other must succeed.
    let mut refused: Option<String> = None;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the batch did not end"
        );
        if let Ok((head, body)) = scrape(addr) {
            if !head.starts_with("HTTP/1.1 200") {
                refused = Some(head);
                continue;
            }
            assert!(refused.is_none(), "refused mid-run: {refused:?}");
            let (samples, types) =
                parse_openmetrics(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
            assert_eq!(types["tutti_frames_delivered"], "counter");
            // The job families appear once the batch has attached its executor.
            if let Some(kind) = types.get("tutti_jobs_start_latency_p99_seconds") {
                assert_eq!(kind, "gauge");
            }
            scrapes.push(samples);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(tmp.path().join("stderr.txt")).unwrap_or_default();
    assert!(status.success(), "{stderr}");
    assert!(!scrapes.is_empty(), "no scrape succeeded during the batch");
    // Counters never go down from one scrape to the next.
    for pair in scrapes.windows(2) {
        for name in [
            "tutti_frames_delivered_total",
            "tutti_jobs_completed_total",
            "tutti_stage_seconds_total",
        ] {
            assert!(
                sum(&pair[1], name) >= sum(&pair[0], name),
                "{name} went down"
            );
        }
    }
    assert!(
        scrapes.iter().any(|s| {
            let f = sum(s, "tutti_frames_delivered_total");
            f > 0.0 && f < 300.0
        }),
        "no scrape saw the batch part-way ({} scrapes)",
        scrapes.len()
    );
    let last = scrapes.last().expect("a scrape");
    // Every adapter is listed from the start, with the job system's profile and workers.
    assert!(
        last.iter()
            .any(|s| s.name == "tutti_frames_delivered_total" && s.labels.contains_key("adapter"))
    );
    assert!(last.iter().any(|s| s.name == "tutti_jobs_profile"
        && s.labels.get("profile").map(String::as_str) == Some("performance")));
    assert!(sum(last, "tutti_jobs_workers") >= 1.0);
    // The default scene has two targets: each frame is two manifest lines.
    let lines = manifest_lines(&tmp.path().join("out").join("manifest.jsonl"));
    assert_eq!(lines, 600);
    let frames = sum(last, "tutti_frames_delivered_total");
    assert!(
        frames <= (lines / 2) as f64,
        "{frames} frames scraped, {lines} manifest lines"
    );
    // The server is gone with the process.
    assert!(scrape(addr).is_err());
}

/// A batch through the library with `serve_prometheus`: after it, one scrape's counters match
/// the report and the manifest exactly, queues are empty and every stage has time.
#[test]
fn a_scrape_after_a_library_batch_matches_its_manifest_exactly() {
    let devices = common::software_adapters();
    if devices.is_empty() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let scene = tutti::default_scene(&tutti::AssetLibrary::new()).expect("default scene");
    let targets = scene.desc.targets.len();
    let telemetry = Arc::new(tutti::telemetry::Telemetry::new());
    let server =
        tutti::telemetry::serve_prometheus("127.0.0.1:0".parse().expect("addr"), telemetry.clone())
            .expect("serve");
    let options = tutti::OffscreenOptions {
        out_dir: tmp.path().join("out"),
        frames: Some((0, 12)),
        executor: Some(tutti::jobs::Executor::with_workers(2).expect("executor")),
        telemetry: Some(telemetry.clone()),
        ..Default::default()
    };
    let report = tutti::render_offscreen(&devices, &[scene], &options).expect("batch");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let (head, body) = scrape(server.addr()).expect("scrape");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (samples, _) = parse_openmetrics(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    let lines = manifest_lines(&tmp.path().join("out").join("manifest.jsonl"));
    let frames = sum(&samples, "tutti_frames_delivered_total");
    assert_eq!(frames as usize * targets, lines);
    assert_eq!(frames as usize, report.frames());
    assert_eq!(sum(&samples, "tutti_frames_failed_total"), 0.0);
    // Per adapter: frames and stage seconds as in the report.
    for a in &report.adapters {
        let of = |name: &str, stage: Option<&str>| {
            samples
                .iter()
                .find(|s| {
                    s.name == name
                        && s.labels["adapter"] == a.adapter
                        && s.labels.get("stage").map(String::as_str) == stage
                })
                .map(|s| s.value)
        };
        assert_eq!(
            of("tutti_frames_delivered_total", None),
            Some(a.frames as f64)
        );
        for (stage, seconds) in [
            ("render", a.stages.render_s),
            ("animate", a.stages.animate_s),
            ("encode", a.stages.encode_s),
        ] {
            if a.frames > 0 {
                let got = of("tutti_stage_seconds_total", Some(stage)).expect(stage);
                assert!((got - seconds).abs() < 1e-6 + seconds * 1e-6, "{stage}");
            }
        }
    }
    // Every queue is empty once the batch is over; nothing was retired.
    for s in samples.iter().filter(|s| s.name == "tutti_queue_depth") {
        assert_eq!(s.value, 0.0, "{:?}", s.labels);
    }
    assert!(samples.iter().all(|s| s.name != "tutti_adapter_retired"));
    // The executor the batch ran on: its frame-graph jobs completed, and their
    // start latency is known for the priorities that ran.
    assert!(sum(&samples, "tutti_jobs_completed_total") > 0.0);
    assert!(
        samples
            .iter()
            .any(|s| s.name == "tutti_jobs_start_latency_p99_seconds" && s.value >= 0.0)
    );
    server.stop();
}

/// A port in use fails at once, before any adapter is opened, with a message that names the
/// address and says what to do.
#[test]
fn a_metrics_addr_in_use_fails_naming_the_address() {
    let tmp = tempfile::tempdir().expect("tmp");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let o = common::tutti(
        &[
            "render",
            "--offscreen",
            "--frames",
            "0..2",
            "--metrics-addr",
            &addr,
        ],
        tmp.path(),
    );
    assert!(!o.status.success());
    let err = common::stderr(&o);
    assert!(
        err.contains(&format!("cannot serve metrics on {addr}")),
        "{err}"
    );
    assert!(err.contains("pass another --metrics-addr"), "{err}");
    assert!(
        !tmp.path().join("out").exists(),
        "it rendered before failing"
    );
}
