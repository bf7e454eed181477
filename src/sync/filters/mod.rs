//! Release and project filters, compatible with bandersnatch's plugins and applied in
//! its order:
//!
//! 1. project filters on the name, before anything is fetched ([`Filters::allows_project`]):
//!    `allowlist_project`, `project_requirements`, `blocklist_project`, `regex_project`;
//! 2. metadata filters that skip the whole project: `size_project_metadata`,
//!    `versions_count_project_metadata`, `regex_project_metadata`,
//!    `version_range_project_metadata`;
//! 3. release-file filters on each file: `exclude_platform`,
//!    `regex_release_file_metadata`, `version_range_release_file_metadata`; a release
//!    left without files is dropped;
//! 4. release filters on each remaining version: `allowlist_release`,
//!    `project_requirements_pinned`, `blocklist_release`, `regex_release`,
//!    `prerelease_release`, then `latest_release` over the survivors.
//!
//! Where bandersnatch's result depends on dict iteration order (`latest_release` next to
//! other release filters), vorpal runs `latest_release` last, so `keep = 3` with
//! `prerelease_release` keeps the three newest non-pre-releases. An allowlist filter
//! enabled with an empty list filters nothing (bandersnatch's `allowlist_release` would
//! drop every release).

mod latest;
mod metadata;
mod names;
mod platform;
mod prerelease;
mod regex;

use std::collections::BTreeSet;

pub use platform::is_known_platform;

use crate::config::ConfigError;
use crate::config::filters::{FilterConfig, Plugin, SortBy};
use crate::index::{Project, normalize};

use metadata::{FileMetadataFilters, ProjectMetadataFilters, ProjectView, RangeRules, RegexRules};
use names::Req;
use platform::PlatformFilter;
use prerelease::PrereleaseFilter;
use regex::RegexList;

/// What to do with a fetched project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterOutcome {
    /// Mirror it (its files and versions may have been reduced).
    Keep,
    /// Do not mirror it; the reason names the filter.
    SkipProject(String),
}

/// The enabled filters, ready to apply.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    enabled: bool,
    allowlist: Option<BTreeSet<String>>,
    requirement_names: Option<BTreeSet<String>>,
    blocklist: BTreeSet<String>,
    regex_project: RegexList,
    metadata: ProjectMetadataFilters,
    platform: PlatformFilter,
    file_metadata: FileMetadataFilters,
    allow_release: Option<Vec<Req>>,
    pinned_release: Option<Vec<Req>>,
    block_release: Vec<Req>,
    regex_release: RegexList,
    prerelease: Option<PrereleaseFilter>,
    latest: Option<(u64, SortBy)>,
}

impl Filters {
    /// Build the enabled filters; reads requirement files now, so a missing file is a
    /// configuration error at start-up rather than a surprise mid-sync.
    pub fn from_config(cfg: &FilterConfig) -> Result<Filters, ConfigError> {
        let on = |p: Plugin| cfg.is_enabled(p);
        let mut f = Filters {
            enabled: !cfg.enabled.is_empty(),
            ..Filters::default()
        };
        let allow = names::parse_lines(&cfg.allowlist_packages, "allowlist", "packages")?;
        let block = names::parse_lines(&cfg.blocklist_packages, "blocklist", "packages")?;
        let wants_requirements =
            on(Plugin::ProjectRequirements) || on(Plugin::ProjectRequirementsPinned);
        let required = if wants_requirements {
            names::read_requirement_files(&names::requirement_files(cfg)?)?
        } else {
            Vec::new()
        };

        if on(Plugin::AllowlistProject) && !allow.is_empty() {
            f.allowlist = Some(allow.iter().map(|r| r.name.clone()).collect());
        }
        if on(Plugin::ProjectRequirements) && !required.is_empty() {
            f.requirement_names = Some(required.iter().map(|r| r.name.clone()).collect());
        }
        if on(Plugin::BlocklistProject) {
            f.blocklist = names::bare_names(&cfg.blocklist_packages)
                .into_iter()
                .collect();
        }
        if on(Plugin::RegexProject) {
            f.regex_project = RegexList::new("[filter_regex] packages", &cfg.regex_packages)?;
        }

        if on(Plugin::SizeProjectMetadata) {
            f.metadata.max_package_size = cfg.max_package_size;
        }
        if on(Plugin::VersionsCountProjectMetadata) {
            f.metadata.min_versions = cfg.min_versions;
            f.metadata.max_versions = cfg.max_versions;
        }
        // bandersnatch's size and count plugins read the allowlist themselves.
        f.metadata.exempt = allow.iter().map(|r| r.name.clone()).collect();
        if on(Plugin::RegexProjectMetadata) {
            f.metadata.regex =
                RegexRules::new("regex_project_metadata", &cfg.regex_project_metadata)?;
        }
        if on(Plugin::VersionRangeProjectMetadata) {
            f.metadata.range = RangeRules::new(
                "version_range_project_metadata",
                &cfg.version_range_project_metadata,
            )?;
        }

        if on(Plugin::ExcludePlatform) {
            f.platform = PlatformFilter::new(&cfg.platforms);
        }
        if on(Plugin::RegexReleaseFileMetadata) {
            f.file_metadata.regex = RegexRules::new(
                "regex_release_file_metadata",
                &cfg.regex_release_file_metadata,
            )?;
        }
        if on(Plugin::VersionRangeReleaseFileMetadata) {
            f.file_metadata.range = RangeRules::new(
                "version_range_release_file_metadata",
                &cfg.version_range_release_file_metadata,
            )?;
        }

        if on(Plugin::AllowlistRelease) && !allow.is_empty() {
            f.allow_release = Some(allow);
        }
        if on(Plugin::ProjectRequirementsPinned) && !required.is_empty() {
            f.pinned_release = Some(required);
        }
        if on(Plugin::BlocklistRelease) {
            f.block_release = block;
        }
        if on(Plugin::RegexRelease) {
            f.regex_release = RegexList::new("[filter_regex] releases", &cfg.regex_releases)?;
        }
        if on(Plugin::PrereleaseRelease) {
            f.prerelease = Some(PrereleaseFilter::new(&cfg.prerelease_packages));
        }
        if on(Plugin::LatestRelease) && cfg.latest_keep > 0 {
            f.latest = Some((cfg.latest_keep, cfg.latest_sort_by));
        }
        Ok(f)
    }

    /// Whether any filter plugin is enabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// When an allowlist decides which projects exist (`allowlist_project` and/or
    /// `project_requirements`), the normalized names it admits, sorted: sync fetches
    /// these even if upstream did not change them, so adding a name to the list makes
    /// the next normal sync mirror it.
    pub fn allowlisted_names(&self) -> Option<Vec<String>> {
        match (&self.allowlist, &self.requirement_names) {
            (None, None) => None,
            (Some(a), None) => Some(a.iter().cloned().collect()),
            (None, Some(r)) => Some(r.iter().cloned().collect()),
            (Some(a), Some(r)) => Some(a.intersection(r).cloned().collect()),
        }
    }

    /// Project filters, on the name as upstream lists it (allow/block lists compare the
    /// normalized form; `[filter_regex] packages` excludes when it matches either form).
    pub fn allows_project(&self, name: &str) -> bool {
        let norm = normalize(name);
        if self.allowlist.as_ref().is_some_and(|a| !a.contains(&norm)) {
            return false;
        }
        if self
            .requirement_names
            .as_ref()
            .is_some_and(|r| !r.contains(&norm))
        {
            return false;
        }
        if self.blocklist.contains(&norm) {
            return false;
        }
        !(self.regex_project.matches(name) || self.regex_project.matches(&norm))
    }

    /// Apply metadata, release-file and release filters to a fetched project, removing
    /// files and versions in place. A version left with no files is removed from
    /// `project.versions`.
    pub fn filter_project(&self, project: &mut Project) -> FilterOutcome {
        if !self.enabled {
            return FilterOutcome::Keep;
        }
        let shown = if project.display_name.is_empty() {
            project.name.clone()
        } else {
            project.display_name.clone()
        };
        if !self.allows_project(&shown) || !self.allows_project(&project.name) {
            return FilterOutcome::SkipProject(format!(
                "{shown} is excluded by the project filters"
            ));
        }
        let name = normalize(&project.name);

        // Metadata, then release files.
        let needs_view = self.metadata.regex.is_active()
            || self.metadata.range.is_active()
            || self.file_metadata.is_active();
        let keep_file: Vec<bool> = {
            let view = needs_view.then(|| ProjectView::new(project));
            if let Some(reason) = self.metadata.skip_reason(project, view.as_ref()) {
                return FilterOutcome::SkipProject(reason);
            }
            project
                .files
                .iter()
                .map(|f| {
                    !(self.platform.is_active() && self.platform.drops(f))
                        && view.as_ref().is_none_or(|v| self.file_metadata.keeps(v, f))
                })
                .collect()
        };
        let mut flags = keep_file.into_iter();
        project.files.retain(|_| flags.next().unwrap_or(true));

        // Releases that still have files, in upstream order.
        let mut releases: Vec<String> = Vec::new();
        for v in project.versions.iter().map(String::as_str).chain(
            project
                .files
                .iter()
                .map(|f| f.version.as_deref().unwrap_or("")),
        ) {
            if !releases.iter().any(|r| r == v)
                && project
                    .files
                    .iter()
                    .any(|f| f.version.as_deref().unwrap_or("") == v)
            {
                releases.push(v.to_string());
            }
        }

        releases.retain(|v| self.keeps_release(&name, v));
        if let Some((n, sort_by)) = self.latest {
            let candidates: Vec<latest::Candidate> = releases
                .iter()
                .map(|v| latest::Candidate {
                    version: v,
                    first_upload: project
                        .files
                        .iter()
                        .find(|f| f.version.as_deref().unwrap_or("") == v)
                        .and_then(|f| f.upload_time.as_deref()),
                })
                .collect();
            let kept: BTreeSet<String> =
                latest::keep(&candidates, n, sort_by, project.info_version.as_deref())
                    .into_iter()
                    .map(str::to_string)
                    .collect();
            releases.retain(|v| kept.contains(v));
        }

        project.files.retain(|f| {
            releases
                .iter()
                .any(|r| r == f.version.as_deref().unwrap_or(""))
        });
        project.versions = releases.into_iter().filter(|v| !v.is_empty()).collect();
        FilterOutcome::Keep
    }

    /// The per-version release filters (all but `latest_release`).
    fn keeps_release(&self, name: &str, version: &str) -> bool {
        if let Some(allow) = &self.allow_release
            && !names::matches(allow, name, version)
        {
            return false;
        }
        if let Some(pinned) = &self.pinned_release
            && !names::matches(pinned, name, version)
        {
            return false;
        }
        if names::matches(&self.block_release, name, version) {
            return false;
        }
        if self.regex_release.matches(version) {
            return false;
        }
        !self
            .prerelease
            .as_ref()
            .is_some_and(|p| p.drops(name, version))
    }
}

#[cfg(test)]
mod tests;
