//! The figures of a load run: per-operation statistics, error classes, process figures, and
//! the recorder the load tasks write to.

use super::*;

/// Latency figures of one operation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpStats {
    /// Completed without error.
    pub count: u64,
    /// `count` per second of the load window.
    pub per_second: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
}

/// One class of error (operation and gRPC code or kind): how often, and the first message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorClass {
    /// Occurrences.
    pub count: u64,
    /// The first occurrence's message.
    pub example: String,
}

/// Memory and CPU of one daemon process over the run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProcessStats {
    /// `server-a`, `server-b`, `agent`.
    pub name: String,
    /// Its pid.
    pub pid: u32,
    /// The kernel's peak resident set (`VmHWM`), MiB, since the process started.
    pub peak_rss_mib: f64,
    /// The highest `VmRSS` sampled (every 250 ms) during the load window, MiB.
    pub peak_sampled_rss_mib: f64,
    /// CPU time (user + system) spent during the load window, seconds.
    pub cpu_seconds: f64,
}

/// The outcome of a load run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadReport {
    /// The topology's name.
    pub topology: String,
    /// The configuration, as text (for the JSON and the table's heading).
    pub config: Value,
    /// The measured load window, seconds (from the first request to the last task's end).
    pub window_seconds: f64,
    /// Timed operations by name.
    pub ops: BTreeMap<String, OpStats>,
    /// Counters by name.
    pub counters: BTreeMap<String, u64>,
    /// Errors by class (`<operation>: <code>`).
    pub errors: BTreeMap<String, ErrorClass>,
    /// The daemons.
    pub processes: Vec<ProcessStats>,
    /// CPU time of this process (the load generator) in the window, seconds.
    pub generator_cpu_seconds: f64,
    /// Conditions worth printing beside the figures.
    pub notes: Vec<String>,
}

impl LoadReport {
    /// All errors of all classes.
    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }

    /// Completed operations named `name` (0 when none).
    pub fn count(&self, name: &str) -> u64 {
        self.ops.get(name).map_or(0, |o| o.count)
    }

    /// The report as a plain-text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "== load: topology {} , window {:.1} s ==",
            self.topology, self.window_seconds
        );
        for note in &self.notes {
            let _ = writeln!(out, "   {note}");
        }
        let _ = writeln!(
            out,
            "{:<50} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "operation", "count", "per s", "p50 ms", "p99 ms", "max ms"
        );
        for (name, o) in &self.ops {
            let _ = writeln!(
                out,
                "{:<50} {:>9} {:>9.1} {:>9.2} {:>9.2} {:>9.2}",
                name, o.count, o.per_second, o.p50_ms, o.p99_ms, o.max_ms
            );
        }
        for (name, count) in &self.counters {
            let _ = writeln!(
                out,
                "{:<50} {:>9} {:>9.1}",
                name,
                count,
                *count as f64 / self.window_seconds.max(0.001)
            );
        }
        let _ = writeln!(
            out,
            "{:<50} {:>8} {:>14} {:>16} {:>9}",
            "process", "pid", "peak RSS MiB", "sampled max MiB", "CPU s"
        );
        for p in &self.processes {
            let _ = writeln!(
                out,
                "{:<50} {:>8} {:>14.1} {:>16.1} {:>9.1}",
                p.name, p.pid, p.peak_rss_mib, p.peak_sampled_rss_mib, p.cpu_seconds
            );
        }
        let _ = writeln!(
            out,
            "{:<50} {:>8} {:>14} {:>16} {:>9.1}",
            "load generator (this process)",
            std::process::id(),
            "-",
            "-",
            self.generator_cpu_seconds
        );
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: 0");
        } else {
            let _ = writeln!(
                out,
                "errors: {} in {} classes",
                self.error_count(),
                self.errors.len()
            );
            for (class, e) in &self.errors {
                let _ = writeln!(out, "  {class}: {} (first: {})", e.count, e.example);
            }
        }
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "topology": self.topology,
            "config": self.config,
            "window_seconds": self.window_seconds,
            "ops": self.ops.iter().map(|(k, o)| (k.clone(), json!({
                "count": o.count,
                "per_second": o.per_second,
                "p50_ms": o.p50_ms,
                "p99_ms": o.p99_ms,
                "max_ms": o.max_ms,
            }))).collect::<serde_json::Map<_, _>>(),
            "counters": self.counters,
            "error_count": self.error_count(),
            "errors": self.errors.iter().map(|(k, e)| (k.clone(), json!({
                "count": e.count,
                "example": e.example,
            }))).collect::<serde_json::Map<_, _>>(),
            "processes": self.processes.iter().map(|p| json!({
                "name": p.name,
                "pid": p.pid,
                "peak_rss_mib": p.peak_rss_mib,
                "peak_sampled_rss_mib": p.peak_sampled_rss_mib,
                "cpu_seconds": p.cpu_seconds,
            })).collect::<Vec<_>>(),
            "generator_cpu_seconds": self.generator_cpu_seconds,
            "notes": self.notes,
        })
    }
}

// --- recording ---------------------------------------------------------------------------

#[derive(Default)]
pub(super) struct Recorder {
    pub(super) latencies: Mutex<HashMap<&'static str, Vec<u32>>>,
    pub(super) counters: Mutex<BTreeMap<&'static str, u64>>,
    pub(super) errors: Mutex<BTreeMap<String, ErrorClass>>,
}

impl Recorder {
    pub(super) fn ok(&self, op: &'static str, started: Instant) {
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        lock(&self.latencies).entry(op).or_default().push(micros);
    }

    pub(super) fn add(&self, counter: &'static str, n: u64) {
        *lock(&self.counters).entry(counter).or_default() += n;
    }

    /// One error of class `<op>: <kind>`.
    pub(super) fn error(&self, op: &str, kind: &str, message: impl std::fmt::Display) {
        let mut errors = lock(&self.errors);
        let class = errors.entry(format!("{op}: {kind}")).or_insert(ErrorClass {
            count: 0,
            example: String::new(),
        });
        class.count += 1;
        if class.example.is_empty() {
            let mut text = message.to_string().replace('\n', " ");
            text.truncate(300);
            class.example = text;
        }
    }

    pub(super) fn status(&self, op: &str, status: &tonic::Status) {
        self.error(op, &format!("{:?}", status.code()), status.message());
    }
}

/// How long one call (or one stream's first answer) may take before it counts as an error.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// `call`, or DEADLINE_EXCEEDED after [`CALL_TIMEOUT`].
pub(super) async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(tonic::Status::deadline_exceeded(format!(
                "no answer in {CALL_TIMEOUT:?}"
            )))
        })
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

// --- process figures -----------------------------------------------------------------------

/// A `/proc/<pid>/status` field in MiB (`VmRSS`, `VmHWM`); 0 when unreadable.
pub fn status_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU time (user + system) of a process from `/proc/<pid>/stat`, at 100 ticks a second.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// Samples each daemon's `VmRSS` every 250 ms until `stop`; the highest per pid.
pub(super) async fn sample_rss(
    pids: Vec<u32>,
    stop: Arc<tokio::sync::Notify>,
) -> HashMap<u32, f64> {
    let mut peaks: HashMap<u32, f64> = pids.iter().map(|p| (*p, 0.0)).collect();
    loop {
        for (pid, peak) in peaks.iter_mut() {
            *peak = peak.max(status_mib(*pid, "VmRSS"));
        }
        tokio::select! {
            () = stop.notified() => return peaks,
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}
