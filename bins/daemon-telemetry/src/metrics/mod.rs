//! Prometheus metrics: a registry of counters, gauges and histograms, with or without labels,
//! exposed in Prometheus's text format (version 0.0.4, what SPIRE's `promhttp` handler
//! serves).
//!
//! Names are used exactly as given, so the daemons can use SPIRE's metric names (a counter is
//! not renamed `…_total`). Updating a metric is a few atomic operations; a labeled family
//! finds its series under a lock, so hot paths should keep the returned handle.
//!
//! ```
//! use daemon_telemetry::metrics::Registry;
//!
//! let registry = Registry::new();
//! let signed = registry.counter_family("spire_server_svid_signed", "SVIDs signed", &["type"])?;
//! signed.with(&["x509"]).inc();
//! let latency = registry.histogram("spire_server_sign_seconds", "Signing latency", &[0.001, 0.01, 0.1])?;
//! latency.observe(0.004);
//! let text = registry.encode();
//! assert!(text.contains("spire_server_svid_signed{type=\"x509\"} 1\n"));
//! assert!(text.contains("spire_server_sign_seconds_bucket{le=\"0.01\"} 1\n"));
//! # Ok::<(), daemon_telemetry::metrics::MetricsError>(())
//! ```

mod encode;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use thiserror::Error;

/// Prometheus's default histogram buckets, in seconds.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Why a metric could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name \"{0}\"")]
    InvalidName(String),
    /// Not `[a-zA-Z_][a-zA-Z0-9_]*`, reserved (`__…`, `le` on a histogram), or repeated.
    #[error("invalid label name \"{0}\"")]
    InvalidLabel(String),
    /// A metric of that name is already registered.
    #[error("metric \"{0}\" is already registered")]
    Duplicate(String),
    /// Histogram buckets must be finite and increasing, and there must be at least one.
    #[error("histogram buckets must be finite and strictly increasing")]
    InvalidBuckets,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Adds to an `f64` stored as bits.
fn add_f64(cell: &AtomicU64, delta: f64) {
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        Some((f64::from_bits(bits) + delta).to_bits())
    });
}

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `delta` (negative to subtract).
    pub fn add(&self, delta: f64) {
        add_f64(&self.0, delta);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

#[derive(Debug)]
struct HistogramCore {
    bounds: Arc<[f64]>,
    /// Per-bucket counts (not cumulative), the last for `+Inf`.
    counts: Vec<AtomicU64>,
    sum: AtomicU64,
    count: AtomicU64,
}

/// Observations counted into buckets, with their sum and count.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCore>);

impl Histogram {
    fn new(bounds: Arc<[f64]>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(HistogramCore {
            bounds,
            counts,
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }))
    }

    /// Records one observation.
    pub fn observe(&self, v: f64) {
        let core = &self.0;
        let bucket = core
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(core.bounds.len());
        core.counts[bucket].fetch_add(1, Ordering::Relaxed);
        add_f64(&core.sum, v);
        core.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a duration, in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }
}

/// What a family makes for each new label set.
trait Make: Clone + Send + Sync + 'static {
    fn make(proto: &Proto) -> Self;
}

/// The shape new series are made from.
#[derive(Debug, Clone)]
enum Proto {
    Scalar,
    Buckets(Arc<[f64]>),
}

impl Make for Counter {
    fn make(_: &Proto) -> Self {
        Counter::default()
    }
}

impl Make for Gauge {
    fn make(_: &Proto) -> Self {
        Gauge::default()
    }
}

impl Make for Histogram {
    fn make(proto: &Proto) -> Self {
        match proto {
            Proto::Buckets(b) => Histogram::new(b.clone()),
            Proto::Scalar => Histogram::new(Arc::from(DEFAULT_BUCKETS.as_slice())),
        }
    }
}

#[derive(Debug)]
struct FamilyCore<M> {
    labels: Vec<String>,
    proto: Proto,
    series: Mutex<BTreeMap<Vec<String>, M>>,
}

/// A metric with labels: one series per distinct set of label values.
#[derive(Debug)]
pub struct Family<M>(Arc<FamilyCore<M>>);

impl<M> Clone for Family<M> {
    fn clone(&self) -> Self {
        Family(self.0.clone())
    }
}

#[allow(private_bounds)]
impl<M: Make> Family<M> {
    /// The series for these label values (in the order the labels were declared), created on
    /// first use.
    ///
    /// # Panics
    /// If the number of values differs from the number of labels: a bug at the call site, as
    /// with Go's `WithLabelValues`.
    pub fn with(&self, values: &[&str]) -> M {
        assert_eq!(
            values.len(),
            self.0.labels.len(),
            "label values do not match the family's labels {:?}",
            self.0.labels
        );
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        lock(&self.0.series)
            .entry(key)
            .or_insert_with(|| M::make(&self.0.proto))
            .clone()
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug)]
enum AnyFamily {
    Counter(Family<Counter>),
    Gauge(Family<Gauge>),
    Histogram(Family<Histogram>),
}

#[derive(Debug)]
struct Entry {
    help: String,
    family: AnyFamily,
}

/// A set of metrics, encoded together for a scrape.
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<BTreeMap<String, Entry>>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    fn register<M: Make>(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        kind: Kind,
        proto: Proto,
    ) -> Result<Family<M>, MetricsError>
    where
        AnyFamily: From<Family<M>>,
    {
        if !valid_name(name) {
            return Err(MetricsError::InvalidName(name.to_owned()));
        }
        for (i, label) in labels.iter().enumerate() {
            let reserved = matches!(kind, Kind::Histogram) && *label == "le";
            if !valid_label(label) || reserved || labels[..i].contains(label) {
                return Err(MetricsError::InvalidLabel((*label).to_owned()));
            }
        }
        let mut entries = lock(&self.entries);
        if entries.contains_key(name) {
            return Err(MetricsError::Duplicate(name.to_owned()));
        }
        let family = Family(Arc::new(FamilyCore {
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            proto,
            series: Mutex::new(BTreeMap::new()),
        }));
        entries.insert(
            name.to_owned(),
            Entry {
                help: help.to_owned(),
                family: family.clone().into(),
            },
        );
        Ok(family)
    }

    /// A counter without labels.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, MetricsError> {
        Ok(self.counter_family(name, help, &[])?.with(&[]))
    }

    /// A counter with labels.
    pub fn counter_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Family<Counter>, MetricsError> {
        self.register(name, help, labels, Kind::Counter, Proto::Scalar)
    }

    /// A gauge without labels.
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, MetricsError> {
        Ok(self.gauge_family(name, help, &[])?.with(&[]))
    }

    /// A gauge with labels.
    pub fn gauge_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Family<Gauge>, MetricsError> {
        self.register(name, help, labels, Kind::Gauge, Proto::Scalar)
    }

    /// A histogram without labels, with these bucket upper bounds (`+Inf` is implied).
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        buckets: &[f64],
    ) -> Result<Histogram, MetricsError> {
        Ok(self.histogram_family(name, help, &[], buckets)?.with(&[]))
    }

    /// A histogram with labels.
    pub fn histogram_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<Family<Histogram>, MetricsError> {
        let increasing = buckets.windows(2).all(|w| w[0] < w[1]);
        if buckets.is_empty() || !increasing || buckets.iter().any(|b| !b.is_finite()) {
            return Err(MetricsError::InvalidBuckets);
        }
        self.register(
            name,
            help,
            labels,
            Kind::Histogram,
            Proto::Buckets(Arc::from(buckets)),
        )
    }

    /// Every metric in Prometheus's text format, sorted by name; families without any series
    /// yet are left out, as Go's client does.
    pub fn encode(&self) -> String {
        let entries = lock(&self.entries);
        let mut out = String::new();
        for (name, entry) in entries.iter() {
            match &entry.family {
                AnyFamily::Counter(f) => {
                    encode::scalar(&mut out, name, &entry.help, "counter", f, |c| {
                        c.get().to_string()
                    })
                }
                AnyFamily::Gauge(f) => {
                    encode::scalar(&mut out, name, &entry.help, "gauge", f, |g| {
                        crate::gofmt::float(g.get())
                    })
                }
                AnyFamily::Histogram(f) => encode::histogram(&mut out, name, &entry.help, f),
            }
        }
        out
    }
}

impl From<Family<Counter>> for AnyFamily {
    fn from(f: Family<Counter>) -> Self {
        AnyFamily::Counter(f)
    }
}

impl From<Family<Gauge>> for AnyFamily {
    fn from(f: Family<Gauge>) -> Self {
        AnyFamily::Gauge(f)
    }
}

impl From<Family<Histogram>> for AnyFamily {
    fn from(f: Family<Histogram>) -> Self {
        AnyFamily::Histogram(f)
    }
}
