//! What a run must do: which projects changed upstream since the local state, and
//! which are gone. The plan is persisted before any work starts so that a killed run
//! resumes: the next plan is the union of a fresh diff and what was left pending.

use std::collections::BTreeMap;

use crate::config::ApiMethod;
use crate::index::{is_valid_name, normalize};
use crate::sync::SyncEnv;
use crate::sync::state::StateError;
use crate::upstream::UpstreamError;

#[derive(Debug, Default)]
pub struct Plan {
    /// The serial the mirror reaches when every entry succeeds.
    pub target_serial: u64,
    /// Normalized name → serial to expect (0: unknown, e.g. a removal candidate).
    pub projects: BTreeMap<String, u64>,
    /// Display names seen in the upstream list.
    pub display: BTreeMap<String, String>,
    /// Names the upstream listed that are not valid project names (never used as paths).
    pub rejected: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Build the plan for a normal run. `status` is the last fully synced serial
/// (0: first sync or `--force-check`).
pub async fn make_plan(env: &SyncEnv, status: u64, force_check: bool) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    let incremental_changelog =
        env.cfg.api_method == ApiMethod::Xmlrpc && status > 0 && !force_check;
    if incremental_changelog {
        let changes = env.upstream.changes_since(status).await?;
        plan.target_serial = changes.iter().map(|c| c.serial).max().unwrap_or(status);
        for c in changes {
            if !is_valid_name(&c.name) {
                plan.rejected.push(c.name);
                continue;
            }
            let n = normalize(&c.name);
            if !allowed(env, &n) {
                continue;
            }
            let e = plan.projects.entry(n.clone()).or_insert(0);
            // "remove project" has no page to wait for; anything else must be at least this fresh.
            if c.action != "remove project" {
                *e = (*e).max(c.serial);
            }
            plan.display.insert(n, c.name);
        }
    } else {
        let (serial, listed) = env.upstream.list_projects().await?;
        plan.target_serial = serial;
        let local: BTreeMap<String, u64> = env
            .db
            .projects()?
            .into_iter()
            .map(|p| (p.name, p.serial))
            .collect();
        let mut seen = std::collections::HashSet::with_capacity(listed.len());
        for p in listed {
            if !is_valid_name(&p.name) {
                plan.rejected.push(p.name);
                continue;
            }
            let n = normalize(&p.name);
            seen.insert(n.clone());
            if !allowed(env, &n) {
                continue;
            }
            let changed = force_check || local.get(&n).is_none_or(|s| *s < p.serial);
            if changed {
                plan.projects.insert(n.clone(), p.serial);
            }
            plan.display.insert(n, p.name);
        }
        if !env.cfg.keep_deleted {
            for name in local.keys().filter(|n| !seen.contains(*n)) {
                plan.projects.entry(name.clone()).or_insert(0);
            }
        }
    }
    // Whatever an interrupted or failed run left pending is done again.
    for (name, serial) in env.db.plan_pending()? {
        let e = plan.projects.entry(name).or_insert(serial);
        *e = (*e).max(serial);
    }
    if let Some(t) = env.db.plan_target()? {
        plan.target_serial = plan.target_serial.max(t);
    }
    Ok(plan)
}

fn allowed(env: &SyncEnv, name: &str) -> bool {
    env.filters.as_ref().is_none_or(|f| f.allows_project(name))
}
