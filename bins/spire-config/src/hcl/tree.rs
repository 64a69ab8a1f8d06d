//! The parsed file: bodies of attributes and blocks, values, each with its position.
//!
//! The shapes are HCL1's: `key = value` is an [`Attribute`]; `ident "label" … { … }` is a
//! [`Block`] (HCL1 allows any number of labels, quoted or not, and treats `a "b" { }` exactly
//! as `a { b { } }`; the decoder does too). A value is a string, number, bool, list or object,
//! or `null` (JSON files only).

use crate::pos::Pos;

/// A name as written in the file (an attribute key, a block identifier or label, an object
/// key), with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The name, unquoted.
    pub name: String,
    /// Where it is written.
    pub pos: Pos,
}

/// `key = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
}

/// `ident "label" … { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The block type, e.g. `server`, `DataStore`.
    pub ident: Key,
    /// The labels, e.g. `"sql"` in `DataStore "sql" { … }`.
    pub labels: Vec<Key>,
    /// The contents.
    pub body: Body,
    /// Where `{` is.
    pub open: Pos,
}

/// One item of a body.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `key = value`.
    Attribute(Attribute),
    /// `ident "label" { … }`.
    Block(Block),
}

impl Item {
    /// The first key: the attribute's key or the block's identifier.
    pub fn key(&self) -> &Key {
        match self {
            Item::Attribute(a) => &a.key,
            Item::Block(b) => &b.ident,
        }
    }
}

/// The items of a file, a block or an object, in order. Keys may repeat (HCL1 allows it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    /// The items.
    pub items: Vec<Item>,
}

/// A number: an integer (Go syntax, so `0x1F` and octal `017` are integers) or a float. The
/// text as written is kept: HCL1 reads `trust_domain = 123` as the string `"123"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// The literal as written.
    pub text: String,
    /// Its value.
    pub value: NumberValue,
}

/// The value of a [`Number`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberValue {
    /// An integer literal.
    Int(i64),
    /// A literal with a fraction or an exponent.
    Float(f64),
}

/// A value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// What it is.
    pub kind: ValueKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The kinds of values.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// A quoted string or a heredoc, unescaped.
    String(String),
    /// A number.
    Number(Number),
    /// `true` or `false`.
    Bool(bool),
    /// `[ … ]`.
    List(Vec<Value>),
    /// `{ … }`: its items are attributes (and, in HCL, may be blocks).
    Object(Body),
    /// JSON `null`.
    Null,
}

impl ValueKind {
    /// A short name of the kind, for messages: `a string`, `a list`…
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::String(_) => "a string",
            ValueKind::Number(_) => "a number",
            ValueKind::Bool(_) => "a bool",
            ValueKind::List(_) => "a list",
            ValueKind::Object(_) => "a block",
            ValueKind::Null => "null",
        }
    }
}
