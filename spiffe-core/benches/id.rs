//! SPIFFE ID parsing, ours beside the `spiffe` crate's, in the same run.
//!
//! No target figure: parsing an ID is a few tens of nanoseconds either way; this bench guards
//! against regressions and keeps the comparison honest.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

const IDS: &[&str] = &[
    "spiffe://example.org/ns/prod/sa/web",
    "spiffe://cluster.local/ns/payments/sa/api-server-v2",
    "spiffe://td",
];

fn id_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("id_parse");
    g.bench_function("ours", |b| {
        b.iter(|| {
            for id in IDS {
                black_box(spiffe_core::SpiffeId::new(black_box(id)).is_ok());
            }
        })
    });
    g.bench_function("spiffe_crate", |b| {
        b.iter(|| {
            for id in IDS {
                black_box(spiffe::SpiffeId::new(black_box(*id)).is_ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, id_parse);
criterion_main!(benches);
