//! kubeconfig files (`kind: Config`): the credentials they embed. Values are never kept, only
//! where they are, so nothing downstream can print them.

use super::Loc;
use crate::yaml::Node;

#[derive(Debug, Clone)]
pub struct Credential {
    /// The user entry's name.
    pub user: String,
    /// The field holding it, e.g. `token`, `client-key-data`, `password`.
    pub field: String,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Kubeconfig {
    pub file: usize,
    pub loc: Loc,
    pub credentials: Vec<Credential>,
    /// (cluster name, where `insecure-skip-tls-verify: true` is).
    pub insecure_clusters: Vec<(String, Loc)>,
    /// (user name, command, where).
    pub exec_plugins: Vec<(String, String, Loc)>,
}

/// Fields whose value is a credential.
const SECRET_FIELDS: &[&str] = &[
    "token",
    "tokenFile",
    "client-key-data",
    "client-key",
    "password",
];

pub fn load(file: usize, root: &Node) -> Kubeconfig {
    let mut kc = Kubeconfig {
        file,
        loc: Loc::span(file, root.pos, root.end_line),
        credentials: Vec::new(),
        insecure_clusters: Vec::new(),
        exec_plugins: Vec::new(),
    };
    for u in root.get("users").and_then(Node::as_seq).unwrap_or(&[]) {
        let name = u
            .get("name")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let Some(user) = u.get("user") else { continue };
        for field in SECRET_FIELDS {
            if let Some(v) = user.get(field) {
                if !v.str_or_empty().unwrap_or("x").is_empty() {
                    kc.credentials.push(Credential {
                        user: name.clone(),
                        field: (*field).to_string(),
                        loc: Loc::at(file, user.key_node(field).map_or(v.pos, |k| k.pos)),
                    });
                }
            }
        }
        if let Some(ap) = user.get("auth-provider") {
            for key in ["id-token", "refresh-token", "access-token", "client-secret"] {
                if let Some(k) = ap.path(&["config"]).and_then(|c| c.key_node(key)) {
                    kc.credentials.push(Credential {
                        user: name.clone(),
                        field: format!("auth-provider.config.{key}"),
                        loc: Loc::at(file, k.pos),
                    });
                }
            }
        }
        if let Some(exec) = user.get("exec") {
            let cmd = exec
                .get("command")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string();
            kc.exec_plugins
                .push((name.clone(), cmd, Loc::at(file, exec.pos)));
        }
    }
    for c in root.get("clusters").and_then(Node::as_seq).unwrap_or(&[]) {
        let name = c
            .get("name")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(k) = c
            .get("cluster")
            .and_then(|cl| cl.key_node("insecure-skip-tls-verify"))
        {
            let on = c
                .path(&["cluster", "insecure-skip-tls-verify"])
                .and_then(Node::as_bool)
                == Some(true);
            if on {
                kc.insecure_clusters.push((name, Loc::at(file, k.pos)));
            }
        }
    }
    kc
}
