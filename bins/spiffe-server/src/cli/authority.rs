//! `localauthority x509|jwt show|prepare|activate|taint|revoke` and
//! `upstreamauthority taint|revoke`: authority rotation over the LocalAuthority API, with
//! SPIRE's texts and `-output json`.

use std::io::Write;

use serde_json::{json, Value};
use spire_api_proto::server::localauthority::v1 as la;
use spire_config::flags::{Flag, FlagSet};

use super::client::{run_admin, Env, SocketFlags};
use super::common::{go_time_utc, int64, output_flag, print_json, Output};
use super::Command;

/// Which authority kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    X509,
    Jwt,
}

/// The operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Show,
    Prepare,
    Activate,
    Taint,
    Revoke,
}

/// `localauthority <kind> <op>`.
#[derive(Debug)]
pub(super) struct LocalAuthorityCommand(pub Kind, pub Op);

fn state_json(s: Option<&la::AuthorityState>) -> Value {
    match s {
        Some(s) => json!({
            "authority_id": s.authority_id,
            "expires_at": int64(s.expires_at),
            "upstream_authority_subject_key_id": s.upstream_authority_subject_key_id,
        }),
        None => Value::Null,
    }
}

/// SPIRE's `prettyPrintAuthorityState`.
fn state_text(s: &la::AuthorityState, kind: Kind) -> String {
    let mut out = format!(
        "  Authority ID: {}\n  Expires at: {}\n",
        s.authority_id,
        go_time_utc(s.expires_at)
    );
    if kind == Kind::X509 {
        if s.upstream_authority_subject_key_id.is_empty() {
            out.push_str("  Upstream authority ID: No upstream authority\n");
        } else {
            out.push_str(&format!(
                "  Upstream authority Subject Key ID: {}\n",
                s.upstream_authority_subject_key_id
            ));
        }
    }
    out
}

impl LocalAuthorityCommand {
    fn word(&self) -> &'static str {
        match self.0 {
            Kind::X509 => "X.509",
            Kind::Jwt => "JWT",
        }
    }

    fn op_word(&self) -> &'static str {
        match self.1 {
            Op::Show => "show",
            Op::Prepare => "prepare",
            Op::Activate => "activate",
            Op::Taint => "taint",
            Op::Revoke => "revoke",
        }
    }

    fn flags(&self) -> (FlagSet, SocketFlags, Option<Flag<String>>, Flag<Output>) {
        let mut fs = FlagSet::new(self.name());
        let socket = SocketFlags::define(&mut fs);
        let id = matches!(self.1, Op::Activate | Op::Taint | Op::Revoke).then(|| {
            fs.string(
                "authorityID",
                "",
                &format!(
                    "The authority ID of the {} authority to {}",
                    self.word(),
                    self.op_word()
                ),
            )
        });
        let output = output_flag(&mut fs);
        (fs, socket, id, output)
    }
}

impl Command for LocalAuthorityCommand {
    fn name(&self) -> &'static str {
        match (self.0, self.1) {
            (Kind::X509, Op::Show) => "localauthority x509 show",
            (Kind::X509, Op::Prepare) => "localauthority x509 prepare",
            (Kind::X509, Op::Activate) => "localauthority x509 activate",
            (Kind::X509, Op::Taint) => "localauthority x509 taint",
            (Kind::X509, Op::Revoke) => "localauthority x509 revoke",
            (Kind::Jwt, Op::Show) => "localauthority jwt show",
            (Kind::Jwt, Op::Prepare) => "localauthority jwt prepare",
            (Kind::Jwt, Op::Activate) => "localauthority jwt activate",
            (Kind::Jwt, Op::Taint) => "localauthority jwt taint",
            (Kind::Jwt, Op::Revoke) => "localauthority jwt revoke",
        }
    }

    fn synopsis(&self) -> &'static str {
        match (self.0, self.1) {
            (Kind::X509, Op::Show) => "Shows the local X.509 authorities",
            (Kind::X509, Op::Prepare) => "Prepares a new X.509 authority for use by generating a new key and injecting the resulting CA certificate into the bundle",
            (Kind::X509, Op::Activate) => "Activates a prepared X.509 authority for use, which will cause it to be used for all X.509 signing operations serviced by this server going forward",
            (Kind::X509, Op::Taint) => "Marks the previously active X.509 authority as being tainted",
            (Kind::X509, Op::Revoke) => "Revokes the previously active X.509 authority by removing it from the bundle and propagating this update throughout the cluster",
            (Kind::Jwt, Op::Show) => "Shows the local JWT authorities",
            (Kind::Jwt, Op::Prepare) => "Prepares a new JWT authority for use by generating a new key and injecting it into the bundle",
            (Kind::Jwt, Op::Activate) => "Activates a prepared JWT authority for use, which will cause it to be used for all JWT signing operations serviced by this server going forward",
            (Kind::Jwt, Op::Taint) => "Marks the previously active JWT authority as being tainted",
            (Kind::Jwt, Op::Revoke) => "Revokes the previously active JWT authority by removing it from the bundle and propagating this update throughout the cluster",
        }
    }

    fn help(&self) -> String {
        self.flags().0.help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, id_flag, output) = self.flags();
        let kind = self.0;
        let word = self.word();
        run_admin(&fs, &socket, args, env, |p, client, env| {
            let id = id_flag.map(|f| p.get(&f).clone()).unwrap_or_default();
            if id_flag.is_some() && id.is_empty() {
                return Err("an authority ID is required".into());
            }
            let json_out = *p.get(&output) == Output::Json;
            let c = client.local_authority();
            let fail = |s: tonic::Status, verb: &str| {
                let what = if verb == "get" {
                    "authorities"
                } else {
                    "authority"
                };
                format!("could not {verb} {word} {what}: {}", client.error_text(&s))
            };
            if self.1 == Op::Show {
                let (active, prepared, old) = match kind {
                    Kind::X509 => {
                        let r = client
                            .call(
                                c.clone()
                                    .get_x509_authority_state(la::GetX509AuthorityStateRequest {}),
                            )
                            .map_err(|s| fail(s, "get"))?
                            .into_inner();
                        (r.active, r.prepared, r.old)
                    }
                    Kind::Jwt => {
                        let r = client
                            .call(
                                c.clone()
                                    .get_jwt_authority_state(la::GetJwtAuthorityStateRequest {}),
                            )
                            .map_err(|s| fail(s, "get"))?
                            .into_inner();
                        (r.active, r.prepared, r.old)
                    }
                };
                if json_out {
                    print_json(
                        env,
                        json!({
                            "active": state_json(active.as_ref()),
                            "prepared": state_json(prepared.as_ref()),
                            "old": state_json(old.as_ref()),
                        }),
                    );
                    return Ok(());
                }
                let mut out = String::new();
                for (i, (title, lower, s)) in [
                    ("Active", "active", &active),
                    ("Prepared", "prepared", &prepared),
                    ("Old", "old", &old),
                ]
                .into_iter()
                .enumerate()
                {
                    if i != 0 {
                        out.push('\n');
                    }
                    out.push_str(&format!("{title} {word} authority:\n"));
                    match s {
                        Some(s) => out.push_str(&state_text(s, kind)),
                        None => out.push_str(&format!("  No {lower} {word} authority found\n")),
                    }
                }
                let _ = env.stdout.write_all(out.as_bytes());
                return Ok(());
            }
            let (field, title, state) =
                match (kind, self.1) {
                    (Kind::X509, Op::Prepare) => (
                        "prepared_authority",
                        "Prepared",
                        client
                            .call(
                                c.clone()
                                    .prepare_x509_authority(la::PrepareX509AuthorityRequest {}),
                            )
                            .map_err(|s| fail(s, "prepare"))?
                            .into_inner()
                            .prepared_authority,
                    ),
                    (Kind::Jwt, Op::Prepare) => (
                        "prepared_authority",
                        "Prepared",
                        client
                            .call(
                                c.clone()
                                    .prepare_jwt_authority(la::PrepareJwtAuthorityRequest {}),
                            )
                            .map_err(|s| fail(s, "prepare"))?
                            .into_inner()
                            .prepared_authority,
                    ),
                    (Kind::X509, Op::Activate) => (
                        "activated_authority",
                        "Activated",
                        client
                            .call(c.clone().activate_x509_authority(
                                la::ActivateX509AuthorityRequest { authority_id: id },
                            ))
                            .map_err(|s| fail(s, "activate"))?
                            .into_inner()
                            .activated_authority,
                    ),
                    (Kind::Jwt, Op::Activate) => (
                        "activated_authority",
                        "Activated",
                        client
                            .call(c.clone().activate_jwt_authority(
                                la::ActivateJwtAuthorityRequest { authority_id: id },
                            ))
                            .map_err(|s| fail(s, "activate"))?
                            .into_inner()
                            .activated_authority,
                    ),
                    (Kind::X509, Op::Taint) => {
                        (
                            "tainted_authority",
                            "Tainted",
                            client
                                .call(c.clone().taint_x509_authority(
                                    la::TaintX509AuthorityRequest { authority_id: id },
                                ))
                                .map_err(|s| fail(s, "taint"))?
                                .into_inner()
                                .tainted_authority,
                        )
                    }
                    (Kind::Jwt, Op::Taint) => (
                        "tainted_authority",
                        "Tainted",
                        client
                            .call(c.clone().taint_jwt_authority(la::TaintJwtAuthorityRequest {
                                authority_id: id,
                            }))
                            .map_err(|s| fail(s, "taint"))?
                            .into_inner()
                            .tainted_authority,
                    ),
                    (Kind::X509, _) => {
                        (
                            "revoked_authority",
                            "Revoked",
                            client
                                .call(c.clone().revoke_x509_authority(
                                    la::RevokeX509AuthorityRequest { authority_id: id },
                                ))
                                .map_err(|s| fail(s, "revoke"))?
                                .into_inner()
                                .revoked_authority,
                        )
                    }
                    (Kind::Jwt, _) => {
                        (
                            "revoked_authority",
                            "Revoked",
                            client
                                .call(c.clone().revoke_jwt_authority(
                                    la::RevokeJwtAuthorityRequest { authority_id: id },
                                ))
                                .map_err(|s| fail(s, "revoke"))?
                                .into_inner()
                                .revoked_authority,
                        )
                    }
                };
            if json_out {
                let mut m = serde_json::Map::new();
                m.insert(field.to_owned(), state_json(state.as_ref()));
                print_json(env, Value::Object(m));
                return Ok(());
            }
            env.println(&format!("{title} {word} authority:"));
            let Some(state) = state else {
                return Err(format!(
                    "internal error: expected to have {} {word} authority information",
                    title.to_lowercase()
                ));
            };
            let _ = env.stdout.write_all(state_text(&state, kind).as_bytes());
            Ok(())
        })
    }
}

/// `upstreamauthority taint|revoke`.
#[derive(Debug)]
pub(super) struct UpstreamCommand(pub Op);

impl UpstreamCommand {
    fn flags(&self) -> (FlagSet, SocketFlags, Flag<String>, Flag<Output>) {
        let mut fs = FlagSet::new(self.name());
        let socket = SocketFlags::define(&mut fs);
        let id = fs.string(
            "subjectKeyID",
            "",
            if self.0 == Op::Taint {
                "The X.509 Subject Key Identifier (or SKID) of the authority's CA certificate of the upstream X.509 authority to taint"
            } else {
                "The X.509 Subject Key Identifier (or SKID) of the authority's CA certificate of the X.509 upstream authority to revoke"
            },
        );
        let output = output_flag(&mut fs);
        (fs, socket, id, output)
    }
}

impl Command for UpstreamCommand {
    fn name(&self) -> &'static str {
        if self.0 == Op::Taint {
            "upstreamauthority taint"
        } else {
            "upstreamauthority revoke"
        }
    }
    fn synopsis(&self) -> &'static str {
        if self.0 == Op::Taint {
            "Marks the provided X.509 upstream authority as being tainted"
        } else {
            "Revokes the previously active X.509 upstream authority by removing it from the bundle and propagating this update throughout the cluster"
        }
    }
    fn help(&self) -> String {
        self.flags().0.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, id_flag, output) = self.flags();
        let taint = self.0 == Op::Taint;
        run_admin(&fs, &socket, args, env, |p, client, env| {
            let skid = p.get(&id_flag).clone();
            if skid.is_empty() {
                return Err(
                    "the Subject Key ID of the X.509 upstream authority is required".into(),
                );
            }
            let c = client.local_authority();
            let verb = if taint { "taint" } else { "revoke" };
            let fail = |s: tonic::Status| {
                format!(
                    "could not {verb} X.509 upstream authority: {}",
                    client.error_text(&s)
                )
            };
            let skid = if taint {
                client
                    .call(c.clone().taint_x509_upstream_authority(
                        la::TaintX509UpstreamAuthorityRequest {
                            subject_key_id: skid,
                        },
                    ))
                    .map_err(fail)?
                    .into_inner()
                    .upstream_authority_subject_key_id
            } else {
                client
                    .call(c.clone().revoke_x509_upstream_authority(
                        la::RevokeX509UpstreamAuthorityRequest {
                            subject_key_id: skid,
                        },
                    ))
                    .map_err(fail)?
                    .into_inner()
                    .upstream_authority_subject_key_id
            };
            if *p.get(&output) == Output::Json {
                print_json(env, json!({ "upstream_authority_subject_key_id": skid }));
                return Ok(());
            }
            env.println(if taint {
                "Tainted X.509 upstream authority:"
            } else {
                "Revoked X.509 upstream authority:"
            });
            env.println(&format!("  Subject Key ID: {skid}"));
            Ok(())
        })
    }
}
