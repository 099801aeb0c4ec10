//! Privilege rules: what each identity can do through RBAC, judged with exact Kubernetes
//! semantics, and the escalation paths between identities. Each rule in its own file; the
//! capability probing they share is in [`caps`].

use crate::rules::Rule;

pub use escalation_path::escalation_paths;

pub mod bind_verb;
pub mod broad_group_binding;
pub mod builtin_role_redefined;
pub mod caps;
pub mod cluster_admin_binding;
#[cfg(test)]
mod corpus_tests;
pub mod csr_approval;
pub mod escalate_verb;
pub mod escalation_path;
pub mod impersonate_verb;
pub mod namespace_write;
pub mod nodes_proxy;
pub mod persistentvolume_create;
pub mod pod_exec_scope;
pub mod pod_mutation;
pub mod rbac_write;
pub mod secrets_read;
pub mod token_creation;
pub mod unknown_system_role;
pub mod webhook_write;
pub mod wildcard_rule;
pub mod workload_creation_scope;

/// Every rule of this group.
pub fn all() -> Vec<&'static dyn Rule> {
    vec![
        &cluster_admin_binding::ClusterAdminBinding,
        &wildcard_rule::WildcardRule,
        &secrets_read::SecretsRead,
        &escalate_verb::EscalateVerb,
        &bind_verb::BindVerb,
        &impersonate_verb::ImpersonateVerb,
        &rbac_write::RbacWrite,
        &token_creation::TokenCreation,
        &nodes_proxy::NodesProxy,
        &csr_approval::CsrApproval,
        &webhook_write::WebhookWrite,
        &workload_creation_scope::WorkloadCreationScope,
        &pod_exec_scope::PodExecScope,
        &pod_mutation::PodMutation,
        &broad_group_binding::BroadGroupBinding,
        &persistentvolume_create::PersistentVolumeCreate,
        &namespace_write::NamespaceWrite,
        &escalation_path::EscalationPath,
        &unknown_system_role::UnknownSystemRole,
        &builtin_role_redefined::BuiltinRoleRedefined,
    ]
}

/// Every capability assessment, for the escalation-path analysis.
pub(crate) const ASSESSORS: &[caps::Assess] = &[
    cluster_admin_binding::assess,
    wildcard_rule::assess,
    secrets_read::assess,
    escalate_verb::assess,
    bind_verb::assess,
    impersonate_verb::assess,
    rbac_write::assess,
    token_creation::assess,
    nodes_proxy::assess,
    csr_approval::assess,
    webhook_write::assess,
    workload_creation_scope::assess,
    pod_exec_scope::assess,
    pod_mutation::assess,
    persistentvolume_create::assess,
    namespace_write::assess,
];
