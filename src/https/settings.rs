//! Everything the HTTP client needs, resolved from flags, environment and config.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::hosts::InsecureHosts;
use super::policy::{self, Decision, MirrorSetting, RuntimeSwitch};
use super::retry::RetryPolicy;
use crate::cli::{Context, OnOff};
use crate::config::{Config, ConfigError};
use crate::environment::Environment;

#[derive(Debug, Clone)]
pub struct HttpsSettings {
    pub decision: Decision,
    /// Extra trusted roots: `--cert` flags, then `[https] ca-bundle`.
    pub extra_ca: Vec<PathBuf>,
    /// `host`, `host:port`, `[v6]:port` entries (validated).
    pub insecure_hosts: Vec<String>,
    pub client_cert: Option<PathBuf>,
    /// `[mirror] proxy`; when `None` the proxy variables of the snapshot apply.
    pub proxy: Option<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub total_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for HttpsSettings {
    /// Verification on (platform default), no extras, bandersnatch's timeouts.
    fn default() -> Self {
        Self {
            decision: Decision {
                verify: true,
                source: policy::DecisionSource::PlatformDefault,
                warnings: Vec::new(),
            },
            extra_ca: Vec::new(),
            insecure_hosts: Vec::new(),
            client_cert: None,
            proxy: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(1800),
            retry: RetryPolicy::default(),
        }
    }
}

fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(10))
}

impl HttpsSettings {
    /// Resolve the policy (PEP 493 precedence) and collect the client settings.
    /// `runtime` is the `--https-verify` flag; `extra_certs` the `--cert` flags.
    pub fn resolve(
        runtime: Option<bool>,
        extra_certs: &[PathBuf],
        system_file: &Path,
        env: &Environment,
        config: &Config,
    ) -> Result<HttpsSettings, ConfigError> {
        let config_path = config
            .source
            .clone()
            .unwrap_or_else(|| PathBuf::from("vorpal.toml"));
        let mirror = config.https.verify.map(|v| MirrorSetting {
            verify: Some(v),
            path: &config_path,
        });
        let decision = policy::resolve(runtime.map(RuntimeSwitch::Flag), env, mirror, system_file)?;
        // Validate now so a typo is a config error, not a surprise at request time.
        InsecureHosts::parse(&config.https.insecure_hosts)?;
        let m = &config.mirror;
        Ok(HttpsSettings {
            decision,
            extra_ca: extra_certs
                .iter()
                .chain(&config.https.ca_bundle)
                .cloned()
                .collect(),
            insecure_hosts: config.https.insecure_hosts.clone(),
            client_cert: config.https.client_cert.clone(),
            proxy: m.proxy.clone(),
            connect_timeout: seconds(m.timeout),
            read_timeout: seconds(m.timeout),
            total_timeout: seconds(m.global_timeout),
            retry: RetryPolicy::default(),
        })
    }

    /// The settings for a CLI run: flags, snapshot and loaded config of `ctx`.
    pub fn from_context(ctx: &Context) -> Result<HttpsSettings, ConfigError> {
        let runtime = ctx.global.https_verify.map(|v| v == OnOff::Enable);
        HttpsSettings::resolve(
            runtime,
            &ctx.global.cert,
            &ctx.global.cert_verification_config,
            &ctx.env,
            &ctx.config,
        )
    }
}
