//! SPIRE config files: the HCL1/JSON parser and the section decoder.
//!
//! Any UTF-8 text: `Config::parse` (and `-expandEnv` expansion before it) never panics; an
//! accepted tree re-printed as canonical HCL parses back to the same tree (positions aside);
//! every position lies within the text; decoding every key with every typed reader, walking
//! every section as a map, and reading the plugin declarations never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spire_config::hcl::{Body, Item, NumberValue, Value, ValueKind};
use spire_config::{decode_plugins, expand_env, Config, ConfigError, Decoder, Pos, Section};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = expand_env(text, |name| (name.len() % 2 == 0).then(|| name.to_owned()));
    let Ok(config) = Config::parse(text) else { return };

    let lines = text.lines().count() as u32 + 1;
    check_positions(config.body(), lines);

    if printable(config.body()) {
        let printed = print_body(config.body());
        let reparsed = Config::parse(&printed)
            .unwrap_or_else(|e| panic!("canonical form does not parse: {e}\n{printed}"));
        assert_eq!(
            strip(config.body()),
            strip(reparsed.body()),
            "canonical form parses to another tree:\n{printed}"
        );
    }

    let _ = config.decode(|top| {
        let _ = decode_plugins(top);
        Ok(())
    });
    walk(&config.root(), 0);
});

fn check_pos(pos: Pos, lines: u32) {
    assert!(pos.line >= 1 && pos.line <= lines && pos.column >= 1, "position {pos:?} outside the text");
}

fn check_positions(body: &Body, lines: u32) {
    for item in &body.items {
        check_pos(item.key().pos, lines);
        match item {
            Item::Attribute(a) => check_value(&a.value, lines),
            Item::Block(b) => {
                check_pos(b.open, lines);
                b.labels.iter().for_each(|l| check_pos(l.pos, lines));
                check_positions(&b.body, lines);
            }
        }
    }
}

fn check_value(value: &Value, lines: u32) {
    check_pos(value.pos, lines);
    match &value.kind {
        ValueKind::List(items) => items.iter().for_each(|v| check_value(v, lines)),
        ValueKind::Object(body) => check_positions(body, lines),
        _ => {}
    }
}

/// Reads every key of the section with every reader, then recurses into it as a map.
fn walk(section: &Section, depth: usize) {
    if depth > 8 {
        return;
    }
    let keys: Vec<String> = section.keys().map(|k| k.name.clone()).collect();
    let _ = section.decode(|d: &mut Decoder<'_>| {
        for key in &keys {
            let _ = d.optional_str(key);
            let _ = d.optional_bool(key);
            let _ = d.optional_i64(key);
            let _ = d.optional_u16(key);
            let _ = d.optional_duration(key);
            let _ = d.optional_duration_or_seconds(key);
            let _ = d.optional_byte_size(key);
            let _ = d.optional_str_list(key);
            let _ = d.repeated_sections(key);
            let _ = d.named_sections(key);
        }
        Ok::<(), ConfigError>(())
    });
    if let Ok(children) = section.children() {
        for (_, child) in children {
            walk(&child, depth + 1);
        }
    }
}

/// Whether the canonical printer can express the tree: `${` inside a string and JSON `null`
/// have no HCL1 spelling that reads back the same.
/// Whether the canonical printer can print the tree: strings holding `${…}` (kept verbatim,
/// escapes and all, by the parser) are left out, in values, keys and block labels alike.
fn printable(body: &Body) -> bool {
    body.items.iter().all(|item| match item {
        Item::Attribute(a) => !a.key.name.contains("${") && printable_value(&a.value),
        Item::Block(b) => {
            !b.ident.name.contains("${")
                && b.labels.iter().all(|l| !l.name.contains("${"))
                && printable(&b.body)
        }
    })
}

fn printable_value(value: &Value) -> bool {
    match &value.kind {
        ValueKind::String(s) => !s.contains("${"),
        ValueKind::Null => false,
        ValueKind::List(items) => items.iter().all(printable_value),
        ValueKind::Object(body) => printable(body),
        _ => true,
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn print_body(body: &Body) -> String {
    let mut out = String::new();
    for item in &body.items {
        match item {
            Item::Attribute(a) => out.push_str(&format!("{} = {}\n", quote(&a.key.name), print_value(&a.value))),
            Item::Block(b) => {
                out.push_str(&quote(&b.ident.name));
                for label in &b.labels {
                    out.push(' ');
                    out.push_str(&quote(&label.name));
                }
                out.push_str(" {\n");
                out.push_str(&print_body(&b.body));
                out.push_str("}\n");
            }
        }
    }
    out
}

fn print_value(value: &Value) -> String {
    match &value.kind {
        ValueKind::String(s) => quote(s),
        // Integers as decimal: a JSON "0123" is 123, while HCL reads 0123 as octal.
        ValueKind::Number(n) => match n.value {
            NumberValue::Int(i) => i.to_string(),
            NumberValue::Float(_) => n.text.clone(),
        },
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::List(items) => {
            let items: Vec<String> = items.iter().map(print_value).collect();
            format!("[{}]", items.iter().map(|i| format!("{i},")).collect::<String>())
        }
        ValueKind::Object(body) => format!("{{\n{}}}", print_body(body)),
        ValueKind::Null => String::new(),
    }
}

/// The tree without positions, for comparison.
#[derive(Debug, PartialEq)]
enum Shape {
    Attr(String, Box<Shape>),
    Block(String, Vec<String>, Vec<Shape>),
    Str(String),
    Int(i64),
    Float(u64),
    Bool(bool),
    List(Vec<Shape>),
    Object(Vec<Shape>),
    Null,
}

fn strip(body: &Body) -> Vec<Shape> {
    body.items
        .iter()
        .map(|item| match item {
            Item::Attribute(a) => Shape::Attr(a.key.name.clone(), Box::new(strip_value(&a.value))),
            Item::Block(b) => {
                Shape::Block(b.ident.name.clone(), b.labels.iter().map(|l| l.name.clone()).collect(), strip(&b.body))
            }
        })
        .collect()
}

fn strip_value(value: &Value) -> Shape {
    match &value.kind {
        ValueKind::String(s) => Shape::Str(s.clone()),
        ValueKind::Number(n) => match n.value {
            NumberValue::Int(i) => Shape::Int(i),
            NumberValue::Float(f) => Shape::Float(f.to_bits()),
        },
        ValueKind::Bool(b) => Shape::Bool(*b),
        ValueKind::List(items) => Shape::List(items.iter().map(strip_value).collect()),
        ValueKind::Object(body) => Shape::Object(strip(body)),
        ValueKind::Null => Shape::Null,
    }
}
