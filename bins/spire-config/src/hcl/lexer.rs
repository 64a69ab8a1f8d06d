//! The HCL1 scanner (`hashicorp/hcl` v1 `hcl/scanner`), and the JSON variant of it.
//!
//! Token rules follow HCL1, which SPIRE parses its files with: identifiers may hold `-` and
//! `.`; numbers are Go integers (`0x1F`, octal `017`) or floats; strings keep `${…}` verbatim
//! (HCL1 does not interpolate) and process Go escapes elsewhere; heredocs are `<<ANCHOR` or
//! `<<-ANCHOR` (indented); comments are `#`, `//` and `/* */`. Whitespace, newlines included,
//! separates tokens and means nothing more: HCL1 has no one-line-block rule.
//!
//! Two leniencies over HCL1, both accepting text HCL1 rejects and never changing the meaning of
//! text it accepts: a heredoc's closing anchor may be the last line of the file without a
//! newline, and an `<<-EOF` heredoc may close with an unindented `EOF`.

use super::strings::{unquote_hcl, unquote_json};
use crate::error::{ConfigError, SyntaxError, TokenKind};
use crate::goparse;
use crate::pos::Pos;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Ident(String),
    Bool(bool),
    Int { text: String, value: i64 },
    Float { text: String, value: f64 },
    Str(String),
    Heredoc(String),
    Null,
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Comma,
    Assign,
    Colon,
    Eof,
}

impl Token {
    pub(crate) fn kind(&self) -> TokenKind {
        match self {
            Token::Ident(_) => TokenKind::Ident,
            Token::Bool(_) => TokenKind::Bool,
            Token::Int { .. } | Token::Float { .. } => TokenKind::Number,
            Token::Str(_) => TokenKind::String,
            Token::Heredoc(_) => TokenKind::Heredoc,
            Token::Null => TokenKind::Null,
            Token::LBrace => TokenKind::LBrace,
            Token::RBrace => TokenKind::RBrace,
            Token::LBrack => TokenKind::LBrack,
            Token::RBrack => TokenKind::RBrack,
            Token::Comma => TokenKind::Comma,
            Token::Assign => TokenKind::Assign,
            Token::Colon => TokenKind::Colon,
            Token::Eof => TokenKind::Eof,
        }
    }
}

/// Turns text into tokens with their positions.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    at: usize,
    line: u32,
    column: u32,
    json: bool,
}

pub(crate) fn syntax(pos: Pos, kind: SyntaxError) -> ConfigError {
    ConfigError::Syntax { pos, kind }
}

/// HCL1's `isLetter`: ASCII letters, `_`, and non-ASCII letters.
fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && c.is_alphabetic())
}

/// HCL1's `isDigit`: ASCII digits and non-ASCII decimal digits.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

impl<'a> Lexer<'a> {
    /// A lexer over HCL text, or over JSON text when `json`.
    pub(crate) fn new(src: &'a str, json: bool) -> Self {
        Lexer {
            src,
            at: 0,
            line: 1,
            column: 1,
            json,
        }
    }

    fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }

    fn peek(&self) -> Option<char> {
        self.src[self.at..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut chars = self.src[self.at..].chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    fn bump_while(&mut self, mut f: impl FnMut(char) -> bool) {
        while self.peek().is_some_and(&mut f) {
            self.bump();
        }
    }

    /// The next token and where it starts.
    pub(crate) fn next_token(&mut self) -> Result<(Token, Pos), ConfigError> {
        loop {
            self.bump_while(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
            let pos = self.pos();
            let Some(c) = self.peek() else {
                return Ok((Token::Eof, pos));
            };
            let token = match c {
                '#' if !self.json => {
                    self.skip_line();
                    continue;
                }
                '/' if !self.json => {
                    self.skip_slash_comment(pos)?;
                    continue;
                }
                '\0' => return Err(syntax(pos, SyntaxError::NulChar)),
                '"' => self.string(pos)?,
                '<' if !self.json => self.heredoc(pos)?,
                '{' => self.single(Token::LBrace),
                '}' => self.single(Token::RBrace),
                '[' => self.single(Token::LBrack),
                ']' => self.single(Token::RBrack),
                ',' => self.single(Token::Comma),
                '=' if !self.json => self.single(Token::Assign),
                ':' if self.json => self.single(Token::Colon),
                '-' if self.peek2().is_some_and(|d| d.is_ascii_digit()) => self.number(pos)?,
                '.' if !self.json && self.peek2().is_some_and(|d| d.is_ascii_digit()) => {
                    self.number(pos)?
                }
                c if c.is_ascii_digit() => self.number(pos)?,
                c if is_letter(c) => self.word(pos)?,
                _ => return Err(syntax(pos, SyntaxError::IllegalChar)),
            };
            return Ok((token, pos));
        }
    }

    fn single(&mut self, token: Token) -> Token {
        self.bump();
        token
    }

    fn skip_line(&mut self) {
        self.bump_while(|c| c != '\n');
    }

    fn skip_slash_comment(&mut self, pos: Pos) -> Result<(), ConfigError> {
        self.bump();
        match self.bump() {
            Some('/') => {
                self.skip_line();
                Ok(())
            }
            Some('*') => loop {
                match self.bump() {
                    Some('*') if self.peek() == Some('/') => {
                        self.bump();
                        return Ok(());
                    }
                    Some(_) => {}
                    None => return Err(syntax(pos, SyntaxError::UnterminatedComment)),
                }
            },
            _ => Err(syntax(pos, SyntaxError::IllegalChar)),
        }
    }

    fn word(&mut self, pos: Pos) -> Result<Token, ConfigError> {
        let start = self.at;
        self.bump();
        self.bump_while(|c| is_letter(c) || is_digit(c) || c == '-' || c == '.');
        let word = &self.src[start..self.at];
        Ok(match word {
            "true" => Token::Bool(true),
            "false" => Token::Bool(false),
            "null" if self.json => Token::Null,
            _ if self.json => return Err(syntax(pos, SyntaxError::IllegalChar)),
            _ => Token::Ident(word.to_owned()),
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        self.bump_while(|c| c.is_ascii_digit());
        self.at - start
    }

    /// After a mantissa: an optional fraction and exponent. Returns whether either was there.
    fn fraction_and_exponent(&mut self) -> bool {
        let mut float = false;
        if self.peek() == Some('.') {
            self.bump();
            self.digits();
            float = true;
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            self.digits();
            float = true;
        }
        float
    }

    fn number(&mut self, pos: Pos) -> Result<Token, ConfigError> {
        let start = self.at;
        if self.peek() == Some('-') {
            self.bump();
        }
        let float = if self.peek() == Some('.') {
            self.fraction_and_exponent()
        } else if !self.json && self.peek() == Some('0') && matches!(self.peek2(), Some('x' | 'X'))
        {
            self.bump();
            self.bump();
            if self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.bump_while(|c| c.is_ascii_hexdigit());
            } else {
                return Err(syntax(pos, SyntaxError::BadNumber));
            }
            false
        } else {
            self.digits();
            self.fraction_and_exponent()
        };
        // HCL1 would read `1h` as the number 1 then the key `h`, which can only end in a
        // confusing error; say what it is.
        if self.peek().is_some_and(is_letter) {
            return Err(syntax(pos, SyntaxError::NumberWithSuffix));
        }
        let text = &self.src[start..self.at];
        let bad = || syntax(pos, SyntaxError::BadNumber);
        if float {
            let value: f64 = text.parse().map_err(|_| bad())?;
            Ok(Token::Float {
                text: text.to_owned(),
                value,
            })
        } else {
            // HCL reads integers as Go does (`strconv.ParseInt(text, 0, 64)`): a leading 0 is
            // octal. JSON integers are decimal.
            let value = if self.json {
                text.parse::<i64>().map_err(|_| bad())?
            } else {
                goparse::parse_int(text).map_err(|_| bad())?
            };
            Ok(Token::Int {
                text: text.to_owned(),
                value,
            })
        }
    }

    /// A quoted string; the value is unescaped. In HCL, a newline may appear only inside `${…}`.
    fn string(&mut self, pos: Pos) -> Result<Token, ConfigError> {
        self.bump();
        let start = self.at;
        let mut braces = 0usize;
        loop {
            let Some(c) = self.bump() else {
                return Err(syntax(pos, SyntaxError::UnterminatedString));
            };
            match c {
                '\n' if braces == 0 => return Err(syntax(pos, SyntaxError::UnterminatedString)),
                '"' if braces == 0 => break,
                // Skip the escaped character so an escaped quote does not end the string; the
                // escape itself is checked when unquoting.
                '\\' if self.bump().is_none() => {
                    return Err(syntax(pos, SyntaxError::UnterminatedString));
                }
                '$' if !self.json && braces == 0 && self.peek() == Some('{') => {
                    self.bump();
                    braces = 1;
                }
                '{' if braces > 0 => braces += 1,
                '}' if braces > 0 => braces -= 1,
                _ => {}
            }
        }
        let raw = &self.src[start..self.at - 1];
        let value = if self.json {
            unquote_json(raw)
        } else {
            unquote_hcl(raw)
        };
        value.map(Token::Str).map_err(|kind| syntax(pos, kind))
    }

    fn heredoc(&mut self, pos: Pos) -> Result<Token, ConfigError> {
        let bad_anchor = || syntax(pos, SyntaxError::BadHeredocAnchor);
        self.bump();
        if self.bump() != Some('<') {
            return Err(bad_anchor());
        }
        let indented = self.peek() == Some('-');
        if indented {
            self.bump();
        }
        let anchor_start = self.at;
        self.bump_while(|c| is_letter(c) || is_digit(c));
        let anchor = &self.src[anchor_start..self.at];
        if anchor.is_empty() {
            return Err(bad_anchor());
        }
        if self.peek() == Some('\r') {
            self.bump();
        }
        if self.bump() != Some('\n') {
            return Err(bad_anchor());
        }
        let body_start = self.at;
        loop {
            let line_start = self.at;
            self.skip_line();
            let line = &self.src[line_start..self.at];
            let at_end = self.peek().is_none();
            if self.peek() == Some('\n') {
                self.bump();
            }
            let trimmed = line.trim_end_matches('\r');
            let leading = trimmed.len() - trimmed.trim_start().len();
            if &trimmed[leading..] == anchor {
                let body = &self.src[body_start..line_start];
                let closing_indent = &trimmed[..leading];
                return Ok(Token::Heredoc(heredoc_value(
                    body,
                    closing_indent,
                    indented,
                )));
            }
            if at_end {
                return Err(syntax(pos, SyntaxError::UnterminatedHeredoc));
            }
        }
    }
}

/// HCL1's `unindentHeredoc`: the body plus the closing line's indentation (HCL1 slices the
/// token so that indentation stays in the value); for `<<-`, that indentation is removed from
/// every line when all lines have it.
fn heredoc_value(body: &str, closing_indent: &str, indented: bool) -> String {
    let value = format!("{body}{closing_indent}");
    if !indented {
        return value;
    }
    let lines: Vec<&str> = value.split('\n').collect();
    let prefix = lines.last().copied().unwrap_or_default();
    if !lines.iter().all(|l| l.starts_with(prefix)) {
        return value.trim_end_matches([' ', '\t']).to_owned();
    }
    let last = lines.len() - 1;
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| if i == last { "" } else { &l[prefix.len()..] })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[path = "lexer_tests.rs"]
mod tests;
