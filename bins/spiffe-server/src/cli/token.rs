//! `token generate`: a join token over the Agent API, with SPIRE's flags, texts and
//! `-output json`.

use serde_json::json;
use spire_api_proto::server::agent::v1 as agentv1;
use spire_config::flags::{Flag, FlagSet};

use super::client::{run_admin, Env, SocketFlags};
use super::common::{int64, output_flag, parse_id, print_json, Output};
use super::Command;

/// `token generate`.
#[derive(Debug)]
pub(super) struct TokenGenerateCommand;

struct TokenFlags {
    fs: FlagSet,
    socket: SocketFlags,
    ttl: Flag<i64>,
    spiffe_id: Flag<String>,
    output: Flag<Output>,
}

fn token_flags() -> TokenFlags {
    // SPIRE names this command's flag set `generate`.
    let mut fs = FlagSet::new("generate");
    let socket = SocketFlags::define(&mut fs);
    let ttl = fs.int("ttl", 600, "Token TTL in seconds");
    let spiffe_id = fs.string(
        "spiffeID",
        "",
        "Additional SPIFFE ID to assign the token owner (optional)",
    );
    let output = output_flag(&mut fs);
    TokenFlags {
        fs,
        socket,
        ttl,
        spiffe_id,
        output,
    }
}

impl Command for TokenGenerateCommand {
    fn name(&self) -> &'static str {
        "token generate"
    }
    fn synopsis(&self) -> &'static str {
        "Generates a join token"
    }
    fn help(&self) -> String {
        token_flags().fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = token_flags();
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let text = p.get(&f.spiffe_id);
            let agent_id = if text.is_empty() {
                None
            } else {
                Some(parse_id(text)?)
            };
            let ttl = *p.get(&f.ttl);
            let ttl = i32::try_from(ttl)
                .map_err(|_| format!("invalid value for TTL: value {ttl} overflows int32"))?;
            let token = client
                .call(
                    client
                        .agent()
                        .create_join_token(agentv1::CreateJoinTokenRequest {
                            ttl,
                            token: String::new(),
                            agent_id,
                        }),
                )
                .map_err(|s| client.error_text(&s))?
                .into_inner();
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({"value": token.value, "expires_at": int64(token.expires_at)}),
                );
                return Ok(());
            }
            env.println(&format!("Token: {}", token.value));
            if text.is_empty() {
                env.println("Warning: Missing SPIFFE ID.");
            }
            Ok(())
        })
    }
}
