//! The HCL1 parser (`hashicorp/hcl` v1 `hcl/parser`), and HCL1's JSON form.
//!
//! HCL1's grammar is small: a body is a list of items, each a run of keys (identifiers or
//! strings) then either `= value` (one key) or `{ body }` (a block whose first key is its type
//! and the rest its labels), optionally followed by a comma. Values are literals, `[ … ]`
//! lists (of literals, objects and lists) and `{ … }` objects (bodies again). Newlines mean
//! nothing, so `plugin_data { a = 1 b = 2 }` and `{ address = "x" env = "dev" }` are fine, as
//! SPIRE users write them.
//!
//! A file whose first non-space character is `{` is JSON, as HCL1 decides.

use super::lexer::{syntax, Lexer, Token};
use super::tree::{Attribute, Block, Body, Item, Key, Number, NumberValue, Value, ValueKind};
use crate::error::{ConfigError, SyntaxError};
use crate::pos::Pos;

/// How deep objects, blocks and lists may nest. Deeper input is refused rather than risking
/// the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// Parses HCL1 (or JSON) text into a body.
pub(crate) fn parse(src: &str) -> Result<Body, ConfigError> {
    // HCL1 normalizes line endings first.
    let normalized;
    let src = if src.contains("\r\n") {
        normalized = src.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        src
    };
    let json = src.trim_start().starts_with('{');
    let mut parser = Parser {
        lexer: Lexer::new(src, json),
        peeked: None,
        depth: 0,
    };
    if json {
        parser.json_file()
    } else {
        parser.object_list(false)
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<(Token, Pos)>,
    depth: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<(Token, Pos), ConfigError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    fn peek(&mut self) -> Result<&Token, ConfigError> {
        let next = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        Ok(&self.peeked.insert(next).0)
    }

    fn nested<T>(
        &mut self,
        pos: Pos,
        f: impl FnOnce(&mut Self) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        if self.depth >= MAX_DEPTH {
            return Err(syntax(pos, SyntaxError::TooDeep { limit: MAX_DEPTH }));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn close_brace(&mut self) -> Result<(), ConfigError> {
        match self.next()? {
            (Token::RBrace, _) => Ok(()),
            (t, pos) => Err(syntax(
                pos,
                SyntaxError::ExpectedCloseBrace { found: t.kind() },
            )),
        }
    }

    /// Items up to the end of the file, or up to (not including) `}` when `in_object`.
    fn object_list(&mut self, in_object: bool) -> Result<Body, ConfigError> {
        let mut body = Body::default();
        loop {
            if in_object && matches!(self.peek()?, Token::RBrace) {
                return Ok(body);
            }
            let mut keys = Vec::new();
            let (token, pos) = loop {
                match self.next()? {
                    (Token::Ident(name) | Token::Str(name), pos) => keys.push(Key { name, pos }),
                    other => break other,
                }
            };
            match token {
                Token::Eof if keys.is_empty() => {
                    if in_object {
                        return Err(syntax(
                            pos,
                            SyntaxError::ExpectedCloseBrace {
                                found: token.kind(),
                            },
                        ));
                    }
                    return Ok(body);
                }
                Token::Assign if keys.len() == 1 => {
                    let value = self.value()?;
                    let key = keys.remove(0);
                    body.items.push(Item::Attribute(Attribute { key, value }));
                }
                Token::Assign if keys.len() > 1 => {
                    return Err(syntax(pos, SyntaxError::LabelsBeforeAssign));
                }
                Token::LBrace if !keys.is_empty() => {
                    let inner = self.nested(pos, |p| p.object_list(true))?;
                    self.close_brace()?;
                    let ident = keys.remove(0);
                    body.items.push(Item::Block(Block {
                        ident,
                        labels: keys,
                        body: inner,
                        open: pos,
                    }));
                }
                other if keys.is_empty() => {
                    return Err(syntax(
                        pos,
                        SyntaxError::ExpectedKey {
                            found: other.kind(),
                        },
                    ));
                }
                other => {
                    return Err(syntax(
                        pos,
                        SyntaxError::ExpectedAssignOrBrace {
                            found: other.kind(),
                        },
                    ));
                }
            }
            if matches!(self.peek()?, Token::Comma) {
                self.next()?;
            }
        }
    }

    fn literal(token: Token, pos: Pos) -> Result<Value, (Token, Pos)> {
        let kind = match token {
            Token::Int { text, value } => ValueKind::Number(Number {
                text,
                value: NumberValue::Int(value),
            }),
            Token::Float { text, value } => ValueKind::Number(Number {
                text,
                value: NumberValue::Float(value),
            }),
            Token::Bool(b) => ValueKind::Bool(b),
            Token::Str(s) | Token::Heredoc(s) => ValueKind::String(s),
            Token::Null => ValueKind::Null,
            other => return Err((other, pos)),
        };
        Ok(Value { kind, pos })
    }

    fn value(&mut self) -> Result<Value, ConfigError> {
        let (token, pos) = self.next()?;
        match Self::literal(token, pos) {
            Ok(v) => Ok(v),
            Err((Token::LBrace, pos)) => {
                let body = self.nested(pos, |p| p.object_list(true))?;
                self.close_brace()?;
                Ok(Value {
                    kind: ValueKind::Object(body),
                    pos,
                })
            }
            Err((Token::LBrack, pos)) => self.nested(pos, |p| p.list(pos)),
            Err((other, pos)) => Err(syntax(
                pos,
                SyntaxError::ExpectedValue {
                    found: other.kind(),
                },
            )),
        }
    }

    /// After `[`: elements up to `]`. Like HCL1, a comma is needed after a literal or an
    /// object, and tolerated (not needed) after a nested list.
    fn list(&mut self, open: Pos) -> Result<Value, ConfigError> {
        let mut items = Vec::new();
        let mut need_comma = false;
        loop {
            let (token, pos) = self.next()?;
            if need_comma && !matches!(token, Token::Comma | Token::RBrack) {
                return Err(syntax(
                    pos,
                    SyntaxError::ExpectedListSeparator {
                        found: token.kind(),
                    },
                ));
            }
            match token {
                Token::Comma => need_comma = false,
                Token::RBrack => {
                    return Ok(Value {
                        kind: ValueKind::List(items),
                        pos: open,
                    })
                }
                Token::LBrace => {
                    let body = self.nested(pos, |p| p.object_list(true))?;
                    self.close_brace()?;
                    items.push(Value {
                        kind: ValueKind::Object(body),
                        pos,
                    });
                    need_comma = true;
                }
                Token::LBrack => items.push(self.nested(pos, |p| p.list(pos))?),
                Token::Null => {
                    return Err(syntax(
                        pos,
                        SyntaxError::ExpectedValue {
                            found: token.kind(),
                        },
                    ))
                }
                token => match Self::literal(token, pos) {
                    Ok(v) => {
                        items.push(v);
                        need_comma = true;
                    }
                    Err((other, pos)) => {
                        return Err(syntax(
                            pos,
                            SyntaxError::ExpectedValue {
                                found: other.kind(),
                            },
                        ))
                    }
                },
            }
        }
    }

    fn json_file(&mut self) -> Result<Body, ConfigError> {
        let (token, pos) = self.next()?;
        if token != Token::LBrace {
            return Err(syntax(
                pos,
                SyntaxError::ExpectedValue {
                    found: token.kind(),
                },
            ));
        }
        let body = self.nested(pos, |p| p.json_members())?;
        match self.next()? {
            (Token::Eof, _) => Ok(body),
            (t, pos) => Err(syntax(pos, SyntaxError::TrailingInput { found: t.kind() })),
        }
    }

    /// After `{`: `"name": value` members separated by commas, through `}`.
    fn json_members(&mut self) -> Result<Body, ConfigError> {
        let mut body = Body::default();
        if matches!(self.peek()?, Token::RBrace) {
            self.next()?;
            return Ok(body);
        }
        loop {
            let key = match self.next()? {
                (Token::Str(name), pos) => Key { name, pos },
                (t, pos) => return Err(syntax(pos, SyntaxError::ExpectedKey { found: t.kind() })),
            };
            match self.next()? {
                (Token::Colon, _) => {}
                (t, pos) => {
                    return Err(syntax(pos, SyntaxError::ExpectedColon { found: t.kind() }))
                }
            }
            let value = self.json_value()?;
            body.items.push(Item::Attribute(Attribute { key, value }));
            match self.next()? {
                (Token::Comma, _) => {}
                (Token::RBrace, _) => return Ok(body),
                (t, pos) => {
                    return Err(syntax(
                        pos,
                        SyntaxError::ExpectedCloseBrace { found: t.kind() },
                    ))
                }
            }
        }
    }

    fn json_value(&mut self) -> Result<Value, ConfigError> {
        let (token, pos) = self.next()?;
        match Self::literal(token, pos) {
            Ok(v) => Ok(v),
            Err((Token::LBrace, pos)) => {
                let body = self.nested(pos, |p| p.json_members())?;
                Ok(Value {
                    kind: ValueKind::Object(body),
                    pos,
                })
            }
            Err((Token::LBrack, pos)) => self.nested(pos, |p| {
                let mut items = Vec::new();
                if matches!(p.peek()?, Token::RBrack) {
                    p.next()?;
                    return Ok(Value {
                        kind: ValueKind::List(items),
                        pos,
                    });
                }
                loop {
                    items.push(p.json_value()?);
                    match p.next()? {
                        (Token::Comma, _) => {}
                        (Token::RBrack, _) => {
                            return Ok(Value {
                                kind: ValueKind::List(items),
                                pos,
                            })
                        }
                        (t, at) => {
                            return Err(syntax(
                                at,
                                SyntaxError::ExpectedListSeparator { found: t.kind() },
                            ))
                        }
                    }
                }
            }),
            Err((other, pos)) => Err(syntax(
                pos,
                SyntaxError::ExpectedValue {
                    found: other.kind(),
                },
            )),
        }
    }
}
