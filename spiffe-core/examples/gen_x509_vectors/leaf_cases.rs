//! X.509 vector cases #36–#56: leaves directly under a trust-domain root.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CustomExtension, DistinguishedName,
    ExtendedKeyUsagePurpose as Eku, IsCa, KeyUsagePurpose as Ku, SanType,
};
use serde_json::json;

use super::pki::{ca_params, leaf_params, p256, sign, tlv, uri, Gen};
use super::Roots;

impl Gen {
    pub(crate) fn leaf_cases(&mut self, roots: &Roots) -> Result<(), Box<dyn std::error::Error>> {
        let Roots { td, td_a, td_b, .. } = roots;
        let b_td = json!({ "td": "root-td.pem" });

        // Plain leaves directly under the td root.
        let leaf = |g: &mut Gen,
                    id: &str,
                    req: &str,
                    case: &str,
                    p: CertificateParams,
                    verify: Option<&str>,
                    svid: Option<&str>,
                    openssl: bool| {
            let key = p256();
            let pem = sign(&p, &key, td);
            let files = g.chain(id, &pem, &key, &[]);
            g.vector(id, req, case, files, b_td.clone(), verify, svid, openssl);
        };

        leaf(
            self,
            "36",
            "X509-1..25",
            "conformant leaf",
            leaf_params("spiffe://td/w"),
            Some("accept"),
            Some("accept"),
            true,
        );
        let mut p = leaf_params("spiffe://td/a");
        p.subject_alt_names.push(uri("spiffe://td/b"));
        leaf(
            self,
            "37",
            "X509-2/25",
            "two spiffe URI SANs",
            p,
            Some("MultipleUriSans"),
            Some("MultipleUriSans"),
            false,
        );
        let mut p = leaf_params("spiffe://td/a");
        p.subject_alt_names.push(uri("https://x"));
        leaf(
            self,
            "38",
            "X509-2",
            "spiffe and https URI SANs",
            p,
            Some("MultipleUriSans"),
            Some("MultipleUriSans"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.subject_alt_names = vec![SanType::DnsName("w.td".try_into()?)];
        leaf(
            self,
            "39",
            "X509-1",
            "no URI SAN",
            p,
            Some("MissingUriSan"),
            Some("MissingUriSan"),
            false,
        );
        leaf(
            self,
            "40",
            "X509-23",
            "https URI SAN",
            leaf_params("https://td/w"),
            Some("InvalidSpiffeId"),
            Some("InvalidSpiffeId"),
            false,
        );
        leaf(
            self,
            "41",
            "X509-5/24",
            "ID without path",
            leaf_params("spiffe://td"),
            Some("LeafIdWithoutPath"),
            Some("LeafIdWithoutPath"),
            false,
        );
        leaf(
            self,
            "42a",
            "X509-23/ID-11",
            "trailing slash",
            leaf_params("spiffe://td/w/"),
            Some("InvalidSpiffeId"),
            Some("InvalidSpiffeId"),
            false,
        );
        leaf(
            self,
            "42b",
            "X509-23/ID-5",
            "uppercase trust domain",
            leaf_params("spiffe://TD/w"),
            Some("InvalidSpiffeId"),
            Some("InvalidSpiffeId"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.subject_alt_names.extend([
            SanType::DnsName("w.td".try_into()?),
            SanType::DnsName("*.w.td".try_into()?),
            SanType::IpAddress([10, 0, 0, 1].into()),
            SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
        ]);
        leaf(
            self,
            "43",
            "X509-3",
            "URI plus DNS and IP SANs",
            p,
            Some("accept"),
            Some("accept"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        leaf(
            self,
            "44",
            "X509-13/21",
            "leaf with cA=TRUE",
            p,
            Some("LeafIsCa"),
            Some("LeafIsCa"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.is_ca = IsCa::NoCa;
        leaf(
            self,
            "45",
            "X509-13",
            "no basicConstraints",
            p,
            Some("accept"),
            Some("accept"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages.push(Ku::KeyCertSign);
        leaf(
            self,
            "46",
            "X509-17/22",
            "leaf with keyCertSign",
            p,
            Some("LeafCanSign"),
            Some("LeafHasCertSign"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages.push(Ku::CrlSign);
        leaf(
            self,
            "47",
            "X509-17/22",
            "leaf with cRLSign",
            p,
            Some("LeafCanSign"),
            Some("LeafHasCertSign"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages = vec![Ku::KeyEncipherment];
        leaf(
            self,
            "48",
            "X509-17",
            "no digitalSignature",
            p,
            Some("LeafMissingDigitalSignature"),
            Some("LeafMissingDigitalSignature"),
            false, // a SPIFFE leaf rule (X509-17), not RFC 5280 path validation
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages = vec![];
        leaf(
            self,
            "49a",
            "X509-15",
            "no keyUsage",
            p,
            Some("LeafMissingKeyUsage"),
            Some("LeafKeyUsageNotCritical"),
            false, // a SPIFFE leaf rule (X509-17), not RFC 5280 path validation
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages = vec![];
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &[2, 5, 29, 15],
            vec![0x03, 0x02, 0x07, 0x80],
        ));
        leaf(
            self,
            "49b",
            "X509-15",
            "keyUsage not critical",
            p,
            Some("accept"),
            Some("LeafKeyUsageNotCritical"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.extended_key_usages = vec![Eku::ServerAuth];
        leaf(
            self,
            "50",
            "X509-18",
            "EKU serverAuth only",
            p,
            Some("accept"),
            Some("LeafExtendedKeyUsage"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.extended_key_usages = vec![];
        leaf(
            self,
            "51",
            "X509-18",
            "no EKU",
            p,
            Some("accept"),
            Some("accept"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.distinguished_name = DistinguishedName::new();
        p.subject_alt_names = vec![];
        let san = tlv(0x30, &tlv(0x86, b"spiffe://td/w"));
        p.custom_extensions
            .push(CustomExtension::from_oid_content(&[2, 5, 29, 17], san));
        leaf(
            self,
            "52",
            "X509-6",
            "empty subject, non-critical SAN",
            p,
            Some("Malformed"),
            Some("EmptySubjectNonCriticalSan"),
            false,
        );
        let mut p = ca_params("td ca", Some("spiffe://td/ca"));
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        leaf(
            self,
            "53",
            "X509-11/21",
            "CA presented as peer",
            p,
            Some("LeafIsCa"),
            Some("LeafIsCa"),
            false,
        );

        // 54/55: trust-domain selection.
        let key = p256();
        let pem = sign(&leaf_params("spiffe://td-a/w"), &key, td_b);
        let files = self.chain("54", &pem, &key, &[]);
        self.vector(
            "54",
            "WAPI-11/X509-20",
            "td-a leaf chaining to td-b root",
            files,
            json!({ "td-a": "root-td-a.pem", "td-b": "root-td-b.pem" }),
            Some("UnknownIssuer"),
            None,
            false,
        );
        let key = p256();
        let pem = sign(&leaf_params("spiffe://td-a/w"), &key, td_a);
        let files = self.chain("55", &pem, &key, &[]);
        self.vector(
            "55",
            "WAPI-11",
            "no bundle for td-a",
            files,
            b_td.clone(),
            Some("NoBundle"),
            None,
            false,
        );

        // 56: validity.
        let mut p = leaf_params("spiffe://td/w");
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
        leaf(
            self,
            "56a",
            "X509-20",
            "leaf expired",
            p,
            Some("Expired"),
            None,
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.not_before = date_time_ymd(2030, 1, 1);
        p.not_after = date_time_ymd(2031, 1, 1);
        leaf(
            self,
            "56b",
            "X509-20",
            "leaf not yet valid",
            p,
            Some("Expired"),
            None,
            true,
        );

        Ok(())
    }
}
