//! The `tracing` layer that writes logrus-style lines at a level that can change at run time.
//!
//! Level checks are cached per call site by `tracing` (interest `always`/`never`, and the
//! layer's maximum level as a hint); changing the level rebuilds that cache, so a disabled
//! `debug!` costs what it costs under a fixed filter.

use super::format::{json_line, text_line, FieldValue, Record};
use super::{LogFormat, LogLevel, Output};
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::metadata::LevelFilter;
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The level shared by the layer and its handle.
pub(crate) struct SharedLevel(AtomicU8);

impl SharedLevel {
    pub(crate) fn new(level: LogLevel) -> Self {
        SharedLevel(AtomicU8::new(level as u8))
    }

    pub(crate) fn get(&self) -> LogLevel {
        LogLevel::from_index(self.0.load(Ordering::Relaxed))
    }

    pub(crate) fn set(&self, level: LogLevel) {
        self.0.store(level as u8, Ordering::Relaxed);
    }
}

/// Fields recorded on a span, kept in its extensions.
#[derive(Default)]
struct SpanFields(Vec<(String, FieldValue)>);

/// Collects `tracing` fields as logrus fields; `message` becomes the message.
#[derive(Default)]
struct Collector {
    message: Option<String>,
    fields: Vec<(String, FieldValue)>,
}

impl Collector {
    fn put(&mut self, field: &Field, value: FieldValue) {
        if field.name() == "message" {
            if let FieldValue::Str(s) = value {
                self.message = Some(s);
                return;
            }
        }
        self.fields.push((field.name().to_owned(), value));
    }
}

impl Visit for Collector {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, FieldValue::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, FieldValue::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, FieldValue::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, FieldValue::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, FieldValue::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, FieldValue::Str(value.to_string()));
    }
}

/// logrus's name for a `tracing` level (`WARN` is `warning`).
fn logrus_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

pub(crate) struct LogrusLayer {
    pub(crate) level: Arc<SharedLevel>,
    pub(crate) format: LogFormat,
    pub(crate) source_location: bool,
    pub(crate) output: Arc<Output>,
}

impl LogrusLayer {
    fn enabled_for(&self, level: &Level) -> bool {
        self.level.get().allows(level)
    }
}

impl<S> Layer<S> for LogrusLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled_for(metadata.level()) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.enabled_for(metadata.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.level.get().filter())
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut collector = Collector::default();
        attrs.record(&mut collector);
        if let Some(message) = collector.message {
            collector
                .fields
                .push(("message".to_owned(), FieldValue::Str(message)));
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(collector.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, ctx: Context<'_, S>) {
        let mut collector = Collector::default();
        values.record(&mut collector);
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(fields) = extensions.get_mut::<SpanFields>() {
                fields.0.extend(collector.fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    fields.extend(span_fields.0.iter().cloned());
                }
            }
        }
        let mut collector = Collector {
            message: None,
            fields,
        };
        event.record(&mut collector);
        let metadata = event.metadata();
        if self.source_location {
            // logrus's `file` and `func` fields, from what tracing knows of the call site.
            if let (Some(file), Some(line)) = (metadata.file(), metadata.line()) {
                let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
                collector
                    .fields
                    .push(("file".to_owned(), FieldValue::Str(format!("{base}:{line}"))));
            }
            if let Some(module) = metadata.module_path() {
                collector
                    .fields
                    .push(("func".to_owned(), FieldValue::Str(module.to_owned())));
            }
        }
        let record = Record {
            time: SystemTime::now(),
            level: logrus_name(metadata.level()),
            message: collector.message.as_deref(),
            fields: &collector.fields,
        };
        let line = match self.format {
            LogFormat::Text => text_line(&record),
            LogFormat::Json => json_line(&record),
        };
        self.output.write_line(line.as_bytes());
    }
}
