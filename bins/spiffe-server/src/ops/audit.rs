//! The audit log (`audit_log_enabled`): one line per admin call, with SPIRE's field names
//! (`doc/auditlog.md`): `type=audit`, `request_id`, `status` (`success`/`error`),
//! `status_code` and `status_message` on errors, the caller (`caller_uid`, `caller_gid`,
//! `caller_path` on the admin socket; `caller_addr`, `caller_id` over TLS), and the RPC
//! (`service`, `method`).
//!
//! Request fields are not logged by this layer (the request body is not decoded here), so no
//! secret a request carries (a join token, a CSR) can reach the line.

use crate::caller::{Caller, Role};

/// Whether `method` is an admin RPC (its policy lets local or admin callers in).
pub(crate) fn is_admin_method(method: &str) -> bool {
    crate::authz::roles_for(method)
        .is_some_and(|roles| roles.iter().any(|r| matches!(r, Role::Local | Role::Admin)))
}

/// `%XX` escapes of `grpc-message` decoded (invalid ones kept as written).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn request_id() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Writes the audit line of one call.
pub(crate) fn log(method: &str, caller: Option<&Caller>, code: tonic::Code, message: &str) {
    let path = method.trim_start_matches('/');
    let (service, rpc) = path.split_once('/').unwrap_or((path, ""));
    let service = service.strip_prefix("spire.api.server.").unwrap_or(service);
    let status = if code == tonic::Code::Ok {
        "success"
    } else {
        "error"
    };
    let code_text = if code == tonic::Code::Ok {
        String::new()
    } else {
        super::metrics::code_name(code).to_owned()
    };
    let id = request_id();
    match caller {
        Some(Caller::Local { pid, uid, gid }) => {
            let exe = pid
                .and_then(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            tracing::info!(
                r#type = "audit",
                request_id = %id,
                status,
                status_code = %code_text,
                status_message = %message,
                caller_uid = uid,
                caller_gid = gid,
                caller_path = %exe,
                service,
                method = rpc,
                "API accessed"
            );
        }
        Some(Caller::Tls {
            addr, spiffe_id, ..
        }) => {
            let id_text = spiffe_id
                .as_ref()
                .map(|i| i.to_string())
                .unwrap_or_default();
            tracing::info!(
                r#type = "audit",
                request_id = %id,
                status,
                status_code = %code_text,
                status_message = %message,
                caller_addr = %addr.ip(),
                caller_id = %id_text,
                service,
                method = rpc,
                "API accessed"
            );
        }
        None => {}
    }
}
