//! Go's `flag.PrintDefaults` layout (Go 1.21 and later): for each flag, sorted by name,
//! two spaces, the flag, its type word (none for booleans), then a newline, four spaces and a
//! tab before the usage; a one-letter boolean keeps its usage on the same line after a tab. A
//! back-quoted word in the usage replaces the type word (Go's `UnquoteUsage`).

pub(super) struct FlagDoc<'a> {
    pub(super) name: &'a str,
    pub(super) usage: &'a str,
    pub(super) type_name: &'a str,
    pub(super) default_text: Option<&'a str>,
}

/// Go's `UnquoteUsage`: the first back-quoted word names the argument and loses its quotes.
fn unquote_usage<'a>(usage: &'a str, type_name: &'a str) -> (String, String) {
    if let Some(i) = usage.find('`') {
        if let Some(len) = usage[i + 1..].find('`') {
            let name = &usage[i + 1..i + 1 + len];
            let rest = format!("{}{}{}", &usage[..i], name, &usage[i + 2 + len..]);
            return (name.to_owned(), rest);
        }
    }
    (type_name.to_owned(), usage.to_owned())
}

pub(super) fn print_defaults<'a>(docs: impl Iterator<Item = FlagDoc<'a>>) -> String {
    let mut docs: Vec<FlagDoc<'a>> = docs.collect();
    docs.sort_by(|a, b| a.name.cmp(b.name));
    let mut out = String::new();
    for doc in docs {
        let mut line = format!("  -{}", doc.name);
        let (arg, usage) = unquote_usage(doc.usage, doc.type_name);
        if !arg.is_empty() {
            line.push(' ');
            line.push_str(&arg);
        }
        if line.len() <= 4 {
            line.push('\t');
        } else {
            line.push_str("\n    \t");
        }
        line.push_str(&usage.replace('\n', "\n    \t"));
        if let Some(default) = doc.default_text {
            line.push_str(&format!(" (default {default})"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
