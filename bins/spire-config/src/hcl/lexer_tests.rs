//! Unit tests of the HCL1 scanner.

use super::*;

fn tokens(src: &str) -> Vec<Token> {
    let mut lexer = Lexer::new(src, false);
    let mut out = Vec::new();
    loop {
        let (t, _) = lexer.next_token().expect("lexes");
        if t == Token::Eof {
            return out;
        }
        out.push(t);
    }
}

fn error(src: &str) -> SyntaxError {
    let mut lexer = Lexer::new(src, false);
    loop {
        match lexer.next_token() {
            Ok((Token::Eof, _)) => panic!("no error in {src:?}"),
            Ok(_) => {}
            Err(ConfigError::Syntax { kind, .. }) => return kind,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn identifiers_hold_dashes_and_dots() {
    assert_eq!(
        tokens("cert-manager a.b _x"),
        [
            Token::Ident("cert-manager".into()),
            Token::Ident("a.b".into()),
            Token::Ident("_x".into())
        ]
    );
}

#[test]
fn numbers_are_go_integers_or_floats() {
    let ints: Vec<i64> = tokens("8081 0x1F 017 -5")
        .into_iter()
        .map(|t| match t {
            Token::Int { value, .. } => value,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ints, [8081, 31, 15, -5]);
    assert!(matches!(&tokens("1.5e3")[0], Token::Float { value, .. } if *value == 1500.0));
    assert!(matches!(&tokens(".5")[0], Token::Float { value, .. } if *value == 0.5));
    assert_eq!(error("08081"), SyntaxError::BadNumber);
    assert_eq!(error("0x"), SyntaxError::BadNumber);
    assert_eq!(error("1e"), SyntaxError::BadNumber);
    assert_eq!(error("1h"), SyntaxError::NumberWithSuffix);
    assert_eq!(error("0x1Fg"), SyntaxError::NumberWithSuffix);
    assert_eq!(error("99999999999999999999"), SyntaxError::BadNumber);
}

#[test]
fn comments_are_skipped() {
    assert_eq!(
        tokens("# a\n// b\n/* c\n d */ x"),
        [Token::Ident("x".into())]
    );
    assert_eq!(error("/* never closed"), SyntaxError::UnterminatedComment);
    assert_eq!(error("/ x"), SyntaxError::IllegalChar);
}

#[test]
fn heredocs() {
    assert_eq!(
        tokens("<<EOF\nhello\nworld\nEOF\n"),
        [Token::Heredoc("hello\nworld\n".into())]
    );
    assert_eq!(
        tokens("<<EOF\nhello\nEOF"),
        [Token::Heredoc("hello\n".into())]
    );
    assert_eq!(
        tokens("<<-EOF\n    a\n      b\n    EOF\n"),
        [Token::Heredoc("a\n  b\n".into())]
    );
    assert_eq!(
        tokens("<<-EOF\n  a\nEOF\n"),
        [Token::Heredoc("  a\n".into())]
    );
    // HCL1 keeps the closing line's indentation in a plain heredoc.
    assert_eq!(
        tokens("<<EOF\nx\n  EOF\n"),
        [Token::Heredoc("x\n  ".into())]
    );
    assert_eq!(tokens("<<EOF\nEOF\n"), [Token::Heredoc(String::new())]);
    assert_eq!(
        error("<<EOF\nnever closed\n"),
        SyntaxError::UnterminatedHeredoc
    );
    assert_eq!(error("<<\nx\n"), SyntaxError::BadHeredocAnchor);
    assert_eq!(error("<x"), SyntaxError::BadHeredocAnchor);
}

#[test]
fn positions_count_lines_and_characters() {
    let mut lexer = Lexer::new("a = \"é\"\n  b", false);
    let mut positions = Vec::new();
    loop {
        let (t, p) = lexer.next_token().expect("lexes");
        positions.push(p);
        if t == Token::Eof {
            break;
        }
    }
    assert_eq!(
        positions,
        [
            Pos::new(1, 1),
            Pos::new(1, 3),
            Pos::new(1, 5),
            Pos::new(2, 3),
            Pos::new(2, 4)
        ]
    );
}

#[test]
fn illegal_characters() {
    for src in [";", "+", "- x", "@", "\0", "'a'"] {
        let kind = error(src);
        assert!(
            matches!(kind, SyntaxError::IllegalChar | SyntaxError::NulChar),
            "{src:?}: {kind:?}"
        );
    }
}

#[test]
fn json_tokens() {
    let mut lexer = Lexer::new("{\"a\": [1, 2.5, true, null]}", true);
    let mut kinds = Vec::new();
    loop {
        let (t, _) = lexer.next_token().expect("lexes");
        kinds.push(t.kind());
        if t == Token::Eof {
            break;
        }
    }
    use TokenKind as K;
    assert_eq!(
        kinds,
        [
            K::LBrace,
            K::String,
            K::Colon,
            K::LBrack,
            K::Number,
            K::Comma,
            K::Number,
            K::Comma,
            K::Bool,
            K::Comma,
            K::Null,
            K::RBrack,
            K::RBrace,
            K::Eof
        ]
    );
}
