//! `vorpal https`: PEP 493 feature detection and the effective policy.
//!
//! `--json` prints one object with these stable keys:
//!
//! ```text
//! {
//!   "capabilities": {
//!     "runtime_switch": "--https-verify",
//!     "library_switch": "ClientBuilder::verify_certificates",
//!     "environment_variable": "VORPAL_HTTPS_VERIFY",
//!     "environment_ignored": false,          // -E in force
//!     "environment_value": "0" | null,       // as seen (null: unset or ignored)
//!     "system_config": "/etc/vorpal/cert-verification.cfg",
//!     "system_config_exists": false
//!   },
//!   "verify": true,
//!   "source": "runtime_flag" | "library" | "environment_variable" | "mirror_config"
//!             | "system_file" | "platform_default",
//!   "source_detail": "the platform default (enable)",
//!   "source_path": null | "/path/of/the/deciding/file",
//!   "roots": { "total": 146,
//!              "sources": [ { "kind": "SSL_CERT_FILE" | "SSL_CERT_DIR" | "platform"
//!                                     | "webpki_fallback" | "extra_bundle",
//!                             "path": "/etc/ssl/certs/ca-certificates.crt" | null,
//!                             "count": 146 } ] },  // new to the store: a root
//!                                                  // an earlier source held is not counted
//!   "insecure_hosts": ["host:port", ...],
//!   "client_cert": null | "/path.pem",
//!   "proxies": [ { "source": "HTTPS_PROXY", "url": "http://proxy:3128" } ],
//!   "no_proxy": null | "localhost,.internal",
//!   "warnings": ["..."],
//!   "check": { "ok": true, "url", "host", "port", "verified", "tls_version", "alpn",
//!              "peer_certificate_sha256", "proxy", "http_status" }
//!          | { "ok": false, "url": "...", "error": "..." }   // only with --check
//! }
//! ```
//!
//! Exit codes: 0 fine (and the check succeeded); 1 the check failed; 2 bad
//! configuration (policy file, config, certificate files, variables).

use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::Context;
use crate::exit::CommandError;
use crate::https::{
    HandshakeReport, HttpClient, HttpsError, HttpsSettings, VERIFY_ENV_VAR, check_upstream_url,
};

#[derive(Debug, Args)]
pub struct HttpsArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
    /// Perform one TLS handshake with URL under the effective policy and report the result.
    #[arg(long, value_name = "URL")]
    pub check: Option<String>,
}

fn usage(err: HttpsError) -> anyhow::Error {
    match err {
        HttpsError::Config(c) => c.into(),
        other => other.into(),
    }
}

pub fn run(ctx: &Context, args: HttpsArgs) -> anyhow::Result<ExitCode> {
    let settings = HttpsSettings::from_context(ctx)?;
    let client = HttpClient::new(&settings, &ctx.env).map_err(usage)?;
    let mut warnings = settings.decision.warnings.clone();
    warnings.extend(ctx.config.warnings.iter().cloned());

    let check = match &args.check {
        None => None,
        Some(url) => {
            warnings.extend(check_upstream_url(url, true)?);
            let result = super::runtime()?.block_on(client.handshake(url));
            Some((url.clone(), result))
        }
    };

    let report = report_json(ctx, &client, &warnings, check.as_ref());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    match check {
        Some((_, Err(e))) => Err(CommandError::Failed(e.to_string()).into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn report_json(
    ctx: &Context,
    client: &HttpClient,
    warnings: &[String],
    check: Option<&(String, Result<HandshakeReport, crate::https::FetchError>)>,
) -> Value {
    let decision = client.decision();
    let system = &ctx.global.cert_verification_config;
    let roots: Vec<Value> = client
        .roots()
        .iter()
        .map(|r| json!({"kind": r.kind.key(), "path": r.path, "count": r.count}))
        .collect();
    let (proxies, no_proxy) = client.proxies();
    let mut out = json!({
        "capabilities": {
            "runtime_switch": "--https-verify",
            "library_switch": "ClientBuilder::verify_certificates",
            "environment_variable": VERIFY_ENV_VAR,
            "environment_ignored": ctx.env.ignores_vorpal_vars(),
            "environment_value": ctx.env.get_os(VERIFY_ENV_VAR).map(|v| v.to_string_lossy()),
            "system_config": system,
            "system_config_exists": system.exists(),
        },
        "verify": decision.verify,
        "source": decision.source.key(),
        "source_detail": decision.source.to_string(),
        "source_path": decision.source.path(),
        "roots": {
            "total": client.roots().iter().map(|r| r.count).sum::<usize>(),
            "sources": roots,
        },
        "insecure_hosts": client.insecure_hosts(),
        "client_cert": client.client_cert(),
        "proxies": proxies.iter().map(|(s, u)| json!({"source": s, "url": u})).collect::<Vec<_>>(),
        "no_proxy": no_proxy,
        "warnings": warnings,
    });
    if let Some((url, result)) = check {
        out["check"] = match result {
            Ok(r) => {
                let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                v["ok"] = json!(true);
                v
            }
            Err(e) => json!({"ok": false, "url": url, "error": e.to_string()}),
        };
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

fn print_text(r: &Value) {
    let caps = &r["capabilities"];
    println!("PEP 493 controls (highest precedence first):");
    println!(
        "  runtime switch:       {} enable|disable (library: {})",
        text(&caps["runtime_switch"]),
        text(&caps["library_switch"])
    );
    let env_state = if caps["environment_ignored"] == json!(true) {
        "ignored (-E)".to_string()
    } else {
        match &caps["environment_value"] {
            Value::Null => "not set".into(),
            v => format!("set to {v}"),
        }
    };
    println!(
        "  environment variable: {} ({env_state})",
        text(&caps["environment_variable"])
    );
    println!("  mirror config:        [https] verify");
    let exists = if caps["system_config_exists"] == json!(true) {
        "exists"
    } else {
        "missing"
    };
    println!(
        "  system file:          {} ({exists})",
        text(&caps["system_config"])
    );
    let on = if r["verify"] == json!(true) {
        "ON"
    } else {
        "OFF"
    };
    println!("Certificate verification: {on}");
    println!("  decided by: {}", text(&r["source_detail"]));
    println!("Trust roots ({} certificates):", text(&r["roots"]["total"]));
    for s in r["roots"]["sources"].as_array().into_iter().flatten() {
        println!(
            "  {:<16} {:>5}  {}",
            text(&s["kind"]),
            text(&s["count"]),
            text(&s["path"])
        );
    }
    let hosts: Vec<String> = r["insecure_hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    println!(
        "Insecure hosts: {}",
        if hosts.is_empty() {
            "none".into()
        } else {
            hosts.join(", ")
        }
    );
    println!("Client certificate: {}", text(&r["client_cert"]));
    let proxies: Vec<String> = r["proxies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("{} (from {})", text(&p["url"]), text(&p["source"])))
        .collect();
    println!(
        "Proxies: {}",
        if proxies.is_empty() {
            "none".into()
        } else {
            proxies.join(", ")
        }
    );
    for w in r["warnings"].as_array().into_iter().flatten() {
        println!("warning: {}", text(w));
    }
    let c = &r["check"];
    if c.is_object() {
        if c["ok"] == json!(true) {
            println!(
                "Check {}: OK ({}, TLS {}, ALPN {}, certificate {}, sha256 {})",
                text(&c["url"]),
                text(&c["host"]),
                text(&c["tls_version"]),
                text(&c["alpn"]),
                if c["verified"] == json!(true) {
                    "verified"
                } else {
                    "NOT verified"
                },
                text(&c["peer_certificate_sha256"])
            );
        } else {
            println!("Check {}: FAILED: {}", text(&c["url"]), text(&c["error"]));
        }
    }
}
