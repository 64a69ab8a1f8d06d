//! The case type of `SPIFFE-CONFORMANCE.md` §4.3 vectors and the token helpers the case lists share.

use crate::tokens::{token, Keys, Sig};

pub(crate) struct Case {
    pub(crate) id: &'static str,
    pub(crate) req: &'static str,
    pub(crate) desc: &'static str,
    pub(crate) token: String,
    pub(crate) audience: Vec<&'static str>,
    pub(crate) leeway: u64,
    pub(crate) expect: &'static str,
    pub(crate) spiffe_crate: bool,
}

pub(crate) fn case(id: &'static str, req: &'static str, desc: &'static str, token: String) -> Case {
    Case {
        id,
        req,
        desc,
        token,
        audience: vec!["svc"],
        leeway: 0,
        expect: "accept",
        spiffe_crate: false,
    }
}

impl Case {
    pub(crate) fn reject(mut self, kind: &'static str) -> Self {
        self.expect = kind;
        self
    }
    pub(crate) fn cross_check(mut self) -> Self {
        self.spiffe_crate = true;
        self
    }
    pub(crate) fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }
}

/// `{"alg":…,"kid":…,"typ":"JWT"}`.
pub(crate) fn h(alg: &str, kid: &str) -> String {
    format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#)
}

/// A token signed with the `ec256` key under `header`.
pub(crate) fn es256(k: &Keys, header: &str, claims: &str) -> String {
    token(k, header, claims, Sig::Ec(&k.ec256))
}

/// An ES256 token with the standard header.
pub(crate) fn es(k: &Keys, claims: &str) -> String {
    es256(k, &h("ES256", "ec256"), claims)
}

/// Claims for `spiffe://td/w` and `svc` with the given `exp` member and extras.
pub(crate) fn with_exp(exp: &str, extra: &str) -> String {
    format!(r#"{{"sub":"spiffe://td/w","aud":["svc"]{exp}{extra}}}"#)
}

/// Every case, in the order written to `vectors.json`.
pub(crate) fn all(keys: &Keys) -> Vec<Case> {
    let mut all = crate::header_cases::cases(keys);
    all.extend(crate::claim_cases::cases(keys));
    all
}
