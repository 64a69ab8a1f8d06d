//! The agent ID path template: which certificate facts name the agent.

use std::fmt;

use super::X509PopError;

/// A template for the part of the agent ID after `/spire/agent`, such as SPIRE's default
/// `/{{ .PluginName }}/{{ .Fingerprint }}`.
///
/// Placeholders use SPIRE's field names so simple SPIRE templates carry over: `.PluginName`
/// (`x509pop`), `.TrustDomain`, `.Fingerprint` (SHA-1 of the leaf DER, lowercase hex),
/// `.SerialNumberHex` and `.Subject.CommonName`. Only plain field references are supported,
/// no functions or pipelines; anything else is rejected when the template is parsed. The
/// rendered path must be a valid SPIFFE ID path, or attestation fails.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentPathTemplate {
    parts: Vec<Part>,
    source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    PluginName,
    TrustDomain,
    Fingerprint,
    SerialNumberHex,
    SubjectCommonName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// The facts a template can name.
pub(crate) struct TemplateFacts<'a> {
    pub(crate) trust_domain: &'a str,
    pub(crate) fingerprint: &'a str,
    pub(crate) serial_number_hex: &'a str,
    pub(crate) subject_common_name: Option<&'a str>,
}

// === impl AgentPathTemplate ===

impl AgentPathTemplate {
    /// The longest template accepted, in bytes.
    const MAX_LEN: usize = 1024;

    /// Parses a template.
    pub fn parse(template: &str) -> Result<Self, X509PopError> {
        if template.len() > Self::MAX_LEN {
            return Err(X509PopError::BadTemplate);
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(X509PopError::BadTemplate)?;
            let field = match after[..close].trim() {
                ".PluginName" => Field::PluginName,
                ".TrustDomain" => Field::TrustDomain,
                ".Fingerprint" => Field::Fingerprint,
                ".SerialNumberHex" => Field::SerialNumberHex,
                ".Subject.CommonName" => Field::SubjectCommonName,
                _ => return Err(X509PopError::BadTemplate),
            };
            parts.push(Part::Field(field));
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return Err(X509PopError::BadTemplate);
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        if !template.starts_with('/') {
            return Err(X509PopError::BadTemplate);
        }
        Ok(Self {
            parts,
            source: template.to_owned(),
        })
    }

    /// Renders the path; `None` when a named fact is missing (no subject CN).
    pub(crate) fn render(&self, facts: &TemplateFacts<'_>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(Field::PluginName) => out.push_str(super::PLUGIN_NAME),
                Part::Field(Field::TrustDomain) => out.push_str(facts.trust_domain),
                Part::Field(Field::Fingerprint) => out.push_str(facts.fingerprint),
                Part::Field(Field::SerialNumberHex) => out.push_str(facts.serial_number_hex),
                Part::Field(Field::SubjectCommonName) => out.push_str(facts.subject_common_name?),
            }
        }
        Some(out)
    }
}

impl Default for AgentPathTemplate {
    /// SPIRE's default: `/{{ .PluginName }}/{{ .Fingerprint }}`.
    fn default() -> Self {
        Self {
            parts: vec![
                Part::Text("/".to_owned()),
                Part::Field(Field::PluginName),
                Part::Text("/".to_owned()),
                Part::Field(Field::Fingerprint),
            ],
            source: "/{{ .PluginName }}/{{ .Fingerprint }}".to_owned(),
        }
    }
}

impl fmt::Debug for AgentPathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgentPathTemplate({:?})", self.source)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn facts() -> TemplateFacts<'static> {
        TemplateFacts {
            trust_domain: "td",
            fingerprint: "ab12",
            serial_number_hex: "1f",
            subject_common_name: Some("node-1"),
        }
    }

    #[test]
    fn default_matches_its_parsed_form() {
        let parsed = AgentPathTemplate::parse("/{{ .PluginName }}/{{ .Fingerprint }}").unwrap();
        assert_eq!(parsed.parts, AgentPathTemplate::default().parts);
        assert_eq!(parsed.render(&facts()).unwrap(), "/x509pop/ab12");
    }

    #[test]
    fn renders_fields_and_rejects_the_unknown() {
        let t =
            AgentPathTemplate::parse("/n/{{.Subject.CommonName}}-{{ .SerialNumberHex }}").unwrap();
        assert_eq!(t.render(&facts()).unwrap(), "/n/node-1-1f");
        let no_cn = TemplateFacts {
            subject_common_name: None,
            ..facts()
        };
        assert_eq!(t.render(&no_cn), None);
        for bad in [
            "/{{ .Nope }}",
            "/{{ .Fingerprint ",
            "/x}}",
            "x509pop/{{ .Fingerprint }}",
        ] {
            assert_eq!(
                AgentPathTemplate::parse(bad),
                Err(X509PopError::BadTemplate),
                "{bad}"
            );
        }
    }
}
