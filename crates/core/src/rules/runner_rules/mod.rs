//! Rules of this group; each in its own file. Runner permissions (RG20x), job isolation set in
//! the runner config (RG30x) and the runner's own credentials (RG403).

use crate::rules::Rule;

pub mod bearer_token_in_config;
pub mod bearer_token_overwrite;
pub mod cluster_wide_scope;
pub mod default_service_account;
pub mod excess_permission;
pub mod host_path_mount;
pub mod job_shares_manager_identity;
pub mod job_token_automounted;
pub mod missing_permission;
pub mod namespace_overwrite;
pub mod pod_spec_patch;
pub mod privileged_jobs;
pub mod sensitive_job_namespace;
pub mod service_account_overwrite;
mod util;

/// Every rule of this group.
pub fn all() -> Vec<&'static dyn Rule> {
    vec![
        &missing_permission::MissingPermission,
        &excess_permission::ExcessPermission,
        &cluster_wide_scope::ClusterWideScope,
        &job_shares_manager_identity::JobSharesManagerIdentity,
        &job_token_automounted::JobTokenAutomounted,
        &service_account_overwrite::ServiceAccountOverwrite,
        &namespace_overwrite::NamespaceOverwrite,
        &bearer_token_overwrite::BearerTokenOverwrite,
        &privileged_jobs::PrivilegedJobs,
        &pod_spec_patch::PodSpecPatch,
        &host_path_mount::HostPathMount,
        &default_service_account::DefaultServiceAccount,
        &sensitive_job_namespace::SensitiveJobNamespace,
        &bearer_token_in_config::BearerTokenInConfig,
    ]
}
