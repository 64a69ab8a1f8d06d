//! The Prometheus text exposition format, version 0.0.4.

use super::{lock, Family, Histogram};
use crate::gofmt;
use std::fmt::Write;
use std::sync::atomic::Ordering;

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `{a="x",b="y"}` (empty when there are no labels), with `extra` appended (histogram `le`).
fn labels(names: &[String], values: &[String], extra: Option<(&str, &str)>) -> String {
    let pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(extra)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_value(v)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub(super) fn scalar<M: Clone>(
    out: &mut String,
    name: &str,
    help: &str,
    kind: &str,
    family: &Family<M>,
    value: impl Fn(&M) -> String,
) {
    let series = lock(&family.0.series);
    if series.is_empty() {
        return;
    }
    header(out, name, help, kind);
    for (values, metric) in series.iter() {
        let _ = writeln!(
            out,
            "{name}{} {}",
            labels(&family.0.labels, values, None),
            value(metric)
        );
    }
}

pub(super) fn histogram(out: &mut String, name: &str, help: &str, family: &Family<Histogram>) {
    let series = lock(&family.0.series);
    if series.is_empty() {
        return;
    }
    header(out, name, help, "histogram");
    for (values, h) in series.iter() {
        let core = &h.0;
        let mut cumulative = 0u64;
        for (i, count) in core.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = core
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| gofmt::float(*b));
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                labels(&family.0.labels, values, Some(("le", &le)))
            );
        }
        let plain = labels(&family.0.labels, values, None);
        let sum = f64::from_bits(core.sum.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_sum{plain} {}", gofmt::float(sum));
        // The +Inf bucket and the count agree even if an observation lands mid-scrape.
        let _ = writeln!(out, "{name}_count{plain} {cumulative}");
    }
}
