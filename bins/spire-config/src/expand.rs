//! `-expandEnv`: `$VAR` and `${VAR}` substitution in the config text before parsing, with
//! Go's `os.Expand` rules as SPIRE uses them (`pkg/common/config.ExpandEnv`).

/// Expands `$NAME` and `${NAME}` in `text` with `lookup` (unset variables expand to nothing).
///
/// The rules are Go's `os.Expand`: a name is `[A-Za-z0-9_]+`, or one special character
/// (`$*#@!?-` or a digit) after `$`, or anything up to `}` after `${`; `$$` is a literal `$`
/// (SPIRE's mapping); a `$` followed by nothing nameable is kept; `${}` and an unterminated
/// `${` are dropped.
///
/// ```
/// let env = |name: &str| (name == "TD").then(|| "example.org".to_owned());
/// assert_eq!(
///     spire_config::expand_env("trust_domain = \"${TD}\" # $$5, $UNSET.", env),
///     "trust_domain = \"example.org\" # $5, ."
/// );
/// ```
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mapping = |name: &str| -> String {
        if name == "$" {
            "$".to_owned()
        } else {
            lookup(name).unwrap_or_default()
        }
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&text[copied..j]);
            let (name, width) = shell_name(&text[j + 1..]);
            match name {
                None if width > 0 => {}
                None => out.push('$'),
                Some(name) => out.push_str(&mapping(name)),
            }
            j += width;
            copied = j + 1;
        }
        j += 1;
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

fn is_special(b: u8) -> bool {
    matches!(
        b,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

/// Go's `getShellName`: the name after a `$` and how many bytes it spans. `None` with a width
/// means bad syntax to be dropped; `None` with width 0 means no name.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_special(b[1]) && b[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        return match s[1..].find('}') {
            Some(0) => (None, 2),
            Some(end) => (Some(&s[1..1 + end]), end + 2),
            None => (None, 1),
        };
    }
    if is_special(b[0]) {
        return (Some(&s[..1]), 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if n == 0 {
        (None, 0)
    } else {
        (Some(&s[..n]), n)
    }
}

#[cfg(test)]
mod tests {
    use super::expand_env;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "HOME" => Some("/home/x".into()),
            "1" => Some("one".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_as_go_os_expand() {
        let cases = [
            ("$A", "alpha"),
            ("${A}", "alpha"),
            ("x${A}y", "xalphay"),
            ("$A_B", ""),
            ("$A-b", "alpha-b"),
            ("$HOME/.data", "/home/x/.data"),
            ("$$", "$"),
            ("$$A", "$A"),
            ("$1", "one"),
            ("${1}", "one"),
            ("$", "$"),
            ("a$", "a$"),
            ("$ x", "$ x"),
            ("${}", ""),
            ("${}x", "x"),
            ("${A", "A"),
            ("${UNSET}", ""),
            ("${A B}", ""),
            ("é$A€", "éalpha€"),
            ("no vars", "no vars"),
        ];
        for (input, want) in cases {
            assert_eq!(expand_env(input, env), want, "{input:?}");
        }
    }
}
