//! What a run must do: which projects changed upstream since the local state, and
//! which are gone. The plan is persisted before any work starts so that a killed run
//! resumes: the next plan is the union of a fresh diff and what was left pending.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::config::ApiMethod;
use crate::index::{ListedProject, is_valid_name, normalize, normalize_cow};
use crate::sync::SyncEnv;
use crate::sync::state::{StateDb, StateError};
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
    #[error("reading the local state for the plan stopped: {0}")]
    Stopped(String),
}

/// Build the plan for a normal run. `status` is the last fully synced serial
/// (0: first sync or `--force-check`).
pub async fn make_plan(env: &SyncEnv, status: u64, force_check: bool) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    let incremental_changelog =
        env.cfg.api_method == ApiMethod::Xmlrpc && status > 0 && !force_check;
    let pending: HashMap<String, u64> = if incremental_changelog {
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
        add_new_allowlisted(env, &mut plan).await?;
        env.db.plan_pending()?.into_iter().collect()
    } else {
        // State is read on another thread while the list is fetched and parsed.
        let db = env.db.clone();
        let local = tokio::task::spawn_blocking(move || LocalView::read(&db));
        let listing = env.upstream.list_projects().await;
        let local = local
            .await
            .map_err(|e| PlanError::Stopped(e.to_string()))??;
        let (serial, listed) = listing?;
        plan.target_serial = serial;
        local.diff(env, &mut plan, listed, force_check)
    };
    // Whatever an interrupted or failed run left pending is done again.
    for (name, serial) in pending {
        let e = plan.projects.entry(name).or_insert(serial);
        *e = (*e).max(serial);
    }
    if let Some(t) = env.db.plan_target()? {
        plan.target_serial = plan.target_serial.max(t);
    }
    Ok(plan)
}

/// A project as the plan sees it locally: the serial it was last judged at
/// (mirrored, or skipped by a filter), and whether the upstream still lists it.
struct Judged {
    serial: u64,
    mirrored: bool,
    listed: bool,
}

/// What the plan compares the upstream's full list with. One lookup per listed
/// name and no copy of either side: on PyPI both hold some 700,000 names.
struct LocalView {
    judged: HashMap<String, Judged>,
    /// Projects an earlier run left pending, with their serials (merged by the caller).
    pending: HashMap<String, u64>,
}

impl LocalView {
    fn read(db: &StateDb) -> Result<LocalView, StateError> {
        let mut judged: HashMap<String, Judged> = db
            .project_serials()?
            .into_iter()
            .map(|(name, serial)| {
                let j = Judged {
                    serial,
                    mirrored: true,
                    listed: false,
                };
                (name, j)
            })
            .collect();
        for (name, serial) in db.filtered()? {
            let j = judged.entry(name).or_insert(Judged {
                serial,
                mirrored: false,
                listed: false,
            });
            j.serial = j.serial.max(serial);
        }
        let pending = db.plan_pending()?.into_iter().collect();
        Ok(LocalView { judged, pending })
    }

    /// Fills `plan` from the list; returns the pending projects for the caller to merge.
    fn diff(
        mut self,
        env: &SyncEnv,
        plan: &mut Plan,
        listed: Vec<ListedProject>,
        force_check: bool,
    ) -> HashMap<String, u64> {
        for p in listed {
            if !is_valid_name(&p.name) {
                plan.rejected.push(p.name);
                continue;
            }
            let n = normalize_cow(&p.name);
            let known = self.judged.get_mut(n.as_ref()).map(|j| {
                j.listed = true;
                j.serial
            });
            if !allowed(env, &n) {
                continue;
            }
            let changed = force_check || known.is_none_or(|s| s < p.serial);
            // The display spelling is kept only for the projects a job runs for.
            if changed || self.pending.contains_key(n.as_ref()) {
                let n = n.into_owned();
                if changed {
                    let e = plan.projects.entry(n.clone()).or_insert(p.serial);
                    *e = (*e).max(p.serial);
                }
                plan.display.insert(n, p.name);
            }
        }
        if !env.cfg.keep_deleted {
            let gone = self
                .judged
                .into_iter()
                .filter(|(_, j)| j.mirrored && !j.listed);
            for (name, _) in gone {
                plan.projects.entry(name).or_insert(0);
            }
        }
        self.pending
    }
}

/// The changelog names only projects that changed upstream, so a name just added to
/// an allowlist would wait for its next upload. While any allowlisted project is not
/// mirrored yet, read the full list once and plan those it has.
async fn add_new_allowlisted(env: &SyncEnv, plan: &mut Plan) -> Result<(), PlanError> {
    let Some(wanted) = env.filters.as_ref().and_then(|f| f.allowlisted_names()) else {
        return Ok(());
    };
    let mut local: HashSet<String> = env.db.project_serials()?.into_keys().collect();
    local.extend(env.db.filtered()?.into_iter().map(|(name, _)| name));
    let mut missing: BTreeSet<String> = wanted
        .into_iter()
        .filter(|n| !local.contains(n) && !plan.projects.contains_key(n) && allowed(env, n))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let (_, listed) = env.upstream.list_projects().await?;
    for p in listed {
        if !is_valid_name(&p.name) {
            continue;
        }
        let n = normalize(&p.name);
        if missing.remove(&n) {
            plan.projects.insert(n.clone(), p.serial);
            plan.display.insert(n, p.name);
        }
    }
    for name in missing {
        tracing::warn!(project = %name, "allowlisted project is not on the upstream; check its spelling");
    }
    Ok(())
}

fn allowed(env: &SyncEnv, name: &str) -> bool {
    env.filters.as_ref().is_none_or(|f| f.allows_project(name))
}
