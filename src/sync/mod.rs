//! Sync: plan, project jobs, downloads, state and filters.

pub mod filters;
pub mod state;
