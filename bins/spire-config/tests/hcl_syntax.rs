//! HCL1 syntax as SPIRE accepts it, including what HCL2 parsers refuse.

use spire_config::hcl::{parse, Body, Item, NumberValue, ValueKind};
use spire_config::{ConfigError, Pos, SyntaxError, TokenKind};

fn body(src: &str) -> Body {
    parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

fn syntax_error(src: &str) -> (Pos, SyntaxError) {
    match parse(src) {
        Err(ConfigError::Syntax { pos, kind }) => (pos, kind),
        other => panic!("{src:?}: expected a syntax error, got {other:?}"),
    }
}

fn block(item: &Item) -> &spire_config::hcl::Block {
    match item {
        Item::Block(b) => b,
        Item::Attribute(a) => panic!("{} is an attribute", a.key.name),
    }
}

fn attr_value(item: &Item) -> &ValueKind {
    match item {
        Item::Attribute(a) => &a.value.kind,
        Item::Block(b) => panic!("{} is a block", b.ident.name),
    }
}

fn string(v: &ValueKind) -> &str {
    match v {
        ValueKind::String(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

/// Each of these is accepted by SPIRE's HCL1 and refused by the HCL2 parser `hcl-edit`
/// (checked with hcl-edit 0.10).
#[test]
fn hcl1_constructs_that_hcl2_refuses() {
    let cases = [
        // One-line block holding a block.
        "NodeAttestor \"join_token\" { plugin_data {} }",
        // One-line block holding several attributes, with or without commas.
        "ratelimit { attestation = true, signing = false }",
        "ratelimit { attestation = true signing = false }",
        // Object items without separators (SPIRE's server_full.conf, M3 sinks).
        "M3 = [ { address = \"localhost:9000\" env = \"dev\" }, ]",
        // A key repeated: the last one wins in SPIRE.
        "a = 1\na = 2",
        // Interpolation syntax is text in HCL1.
        "a = \"${foo bar}\"",
        "a = \"%{x}\"",
        // Quoted block types, as SPIRE's catalog documents.
        "\"NodeAttestor\" \"k8s_psat\" { plugin_data { } }",
        // Hex and octal numbers.
        "a = 0x10\nb = 017",
        // Identifiers with dots.
        "a.b = 1",
        // A list without commas between nested lists (HCL1 tolerates it).
        "a = [[\"x\"] [\"y\"]]",
        // The closing brace on the last item's line.
        "server {\n  trust_domain = \"x\" }",
        // Several labels, the last one a bare identifier.
        "NodeAttestor \"k8s_psat\" plugin_data {\n  cluster = \"c\"\n}",
    ];
    for src in cases {
        body(src);
    }
}

#[test]
fn blocks_have_idents_labels_and_positions() {
    let b = body("plugins {\n  DataStore \"sql\" {\n    plugin_data { database_type = \"sqlite3\" }\n  }\n}\n");
    let plugins = block(&b.items[0]);
    assert_eq!(plugins.ident.name, "plugins");
    assert_eq!(plugins.ident.pos, Pos::new(1, 1));
    assert_eq!(plugins.open, Pos::new(1, 9));
    let ds = block(&plugins.body.items[0]);
    assert_eq!(ds.ident.name, "DataStore");
    assert_eq!(ds.ident.pos, Pos::new(2, 3));
    assert_eq!(ds.labels.len(), 1);
    assert_eq!(ds.labels[0].name, "sql");
    assert_eq!(ds.labels[0].pos, Pos::new(2, 13));
    let data = block(&ds.body.items[0]);
    match &data.body.items[0] {
        Item::Attribute(a) => {
            assert_eq!(a.key.name, "database_type");
            assert_eq!(a.key.pos, Pos::new(3, 19));
            assert_eq!(a.value.pos, Pos::new(3, 35));
            assert_eq!(string(&a.value.kind), "sqlite3");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn values_of_every_kind() {
    let b = body(
        "s = \"x\\ty\"\ni = 8081\nq = \"8081\"\nf = 1.5\nt = true\nl = [\"a\", 2, false,]\no = { k = \"v\", n = { m = 1 } }\nh = <<EOF\nline\nEOF\n",
    );
    let kinds: Vec<&ValueKind> = b.items.iter().map(attr_value).collect();
    assert_eq!(string(kinds[0]), "x\ty");
    match kinds[1] {
        ValueKind::Number(n) => {
            assert_eq!(n.text, "8081");
            assert_eq!(n.value, NumberValue::Int(8081));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(string(kinds[2]), "8081");
    assert!(matches!(kinds[3], ValueKind::Number(n) if n.value == NumberValue::Float(1.5)));
    assert_eq!(kinds[4], &ValueKind::Bool(true));
    match kinds[5] {
        ValueKind::List(items) => {
            assert_eq!(items.len(), 3);
            assert_eq!(string(&items[0].kind), "a");
            assert_eq!(items[2].kind, ValueKind::Bool(false));
            assert_eq!(items[1].pos, Pos::new(6, 11));
        }
        other => panic!("{other:?}"),
    }
    match kinds[6] {
        ValueKind::Object(body) => {
            assert_eq!(body.items.len(), 2);
            assert!(matches!(attr_value(&body.items[1]), ValueKind::Object(_)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(string(kinds[7]), "line\n");
}

#[test]
fn strings_keep_interpolations_literally() {
    let b = body(r#"a = "${VAULT_ADDR}/v1" "#);
    assert_eq!(string(attr_value(&b.items[0])), "${VAULT_ADDR}/v1");
}

#[test]
fn windows_line_endings_and_comments() {
    let b = body("# c\r\nserver {\r\n  // x\r\n  a = 1 /* y */\r\n}\r\n");
    let server = block(&b.items[0]);
    assert_eq!(server.ident.pos, Pos::new(2, 1));
    assert_eq!(server.body.items[0].key().pos, Pos::new(4, 3));
}

#[test]
fn json_files() {
    let b = body("{\n  \"server\": {\"trust_domain\": \"example.org\", \"bind_port\": 8081},\n  \"x\": [1, null]\n}");
    assert_eq!(b.items.len(), 2);
    assert_eq!(b.items[0].key().name, "server");
    assert_eq!(b.items[0].key().pos, Pos::new(2, 3));
    match attr_value(&b.items[1]) {
        ValueKind::List(items) => assert_eq!(items[1].kind, ValueKind::Null),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        syntax_error("{\"a\": 1} {}").1,
        SyntaxError::TrailingInput { .. }
    ));
    assert!(matches!(
        syntax_error("{\"a\" 1}").1,
        SyntaxError::ExpectedColon { .. }
    ));
    assert!(matches!(syntax_error("{a: 1}").1, SyntaxError::IllegalChar));
}

#[test]
fn syntax_errors_name_a_position() {
    let cases: [(&str, Pos, SyntaxError); 12] = [
        (
            "server {\n  a = 1\n",
            Pos::new(3, 1),
            SyntaxError::ExpectedCloseBrace {
                found: TokenKind::Eof,
            },
        ),
        (
            "a = ",
            Pos::new(1, 5),
            SyntaxError::ExpectedValue {
                found: TokenKind::Eof,
            },
        ),
        ("a b = 1", Pos::new(1, 5), SyntaxError::LabelsBeforeAssign),
        (
            "a",
            Pos::new(1, 2),
            SyntaxError::ExpectedAssignOrBrace {
                found: TokenKind::Eof,
            },
        ),
        (
            "a 1",
            Pos::new(1, 3),
            SyntaxError::ExpectedAssignOrBrace {
                found: TokenKind::Number,
            },
        ),
        (
            "= 1",
            Pos::new(1, 1),
            SyntaxError::ExpectedKey {
                found: TokenKind::Assign,
            },
        ),
        (
            "}",
            Pos::new(1, 1),
            SyntaxError::ExpectedKey {
                found: TokenKind::RBrace,
            },
        ),
        (
            "a = [1 2]",
            Pos::new(1, 8),
            SyntaxError::ExpectedListSeparator {
                found: TokenKind::Number,
            },
        ),
        (
            "a = ident",
            Pos::new(1, 5),
            SyntaxError::ExpectedValue {
                found: TokenKind::Ident,
            },
        ),
        (
            "a = \"open\nb = 1",
            Pos::new(1, 5),
            SyntaxError::UnterminatedString,
        ),
        (
            "\n\n  ttl = 1h",
            Pos::new(3, 9),
            SyntaxError::NumberWithSuffix,
        ),
        (
            "a = true { }",
            Pos::new(1, 10),
            SyntaxError::ExpectedKey {
                found: TokenKind::LBrace,
            },
        ),
    ];
    for (src, pos, kind) in cases {
        assert_eq!(syntax_error(src), (pos, kind), "{src:?}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("a = {}{}", "[".repeat(200), "]".repeat(200));
    assert!(matches!(syntax_error(&deep).1, SyntaxError::TooDeep { .. }));
    let deep_blocks = format!("{}{}", "a {\n".repeat(100), "}\n".repeat(100));
    assert!(matches!(
        syntax_error(&deep_blocks).1,
        SyntaxError::TooDeep { .. }
    ));
    let ok = format!("{}{}", "a {\n".repeat(60), "}\n".repeat(60));
    body(&ok);
}

#[test]
fn syntax_errors_do_not_echo_the_file() {
    let err = parse("join_token = \"s3cr3t-token\nx")
        .expect_err("fails")
        .to_string();
    assert!(!err.contains("s3cr3t"), "{err}");
    assert_eq!(
        err,
        "syntax error at line 1, column 14: string literal not terminated"
    );
}
