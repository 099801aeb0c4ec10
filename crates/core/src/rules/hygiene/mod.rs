//! Rules of this group; each in its own file. Authentication (RG40x), job isolation visible in
//! manifests (RG310, RG311) and hygiene (RG50x).

use crate::rules::Rule;

pub mod dangling_reference;
pub mod deprecated_psp_rule;
pub mod gitlab_token;
pub mod ineffective_rule;
pub mod insecure_skip_tls_verify;
pub mod invalid_roleref_apigroup;
pub mod kubeconfig_credentials;
pub mod kubeconfig_exec_plugin;
pub mod legacy_token_secret;
pub mod long_projected_token;
pub mod namespace_assumed;
pub mod nonexistent_resource;
pub mod runner_values_found;
pub mod service_account_reuse;
pub mod unknown_verb;
pub(crate) mod util;

/// Every rule of this group.
pub fn all() -> Vec<&'static dyn Rule> {
    vec![
        &service_account_reuse::ServiceAccountReuse,
        &long_projected_token::LongProjectedToken,
        &legacy_token_secret::LegacyTokenSecret,
        &kubeconfig_credentials::KubeconfigCredentials,
        &gitlab_token::GitlabToken,
        &insecure_skip_tls_verify::InsecureSkipTlsVerify,
        &kubeconfig_exec_plugin::KubeconfigExecPlugin,
        &dangling_reference::DanglingReference,
        &nonexistent_resource::NonexistentResource,
        &deprecated_psp_rule::DeprecatedPspRule,
        &ineffective_rule::IneffectiveRule,
        &unknown_verb::UnknownVerb,
        &invalid_roleref_apigroup::InvalidRolerefApigroup,
        &namespace_assumed::NamespaceAssumed,
        &runner_values_found::RunnerValuesFound,
    ]
}
