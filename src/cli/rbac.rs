//! `chaosdeck rbac -c config.yaml`: the Roles and RoleBindings a config needs, as YAML for
//! `kubectl apply -f -`, from the same permission list the preflight checks
//! (`permissions::run_permissions`: each scenario's `needs()`, forward and undo, the run's own
//! reads, the dead man's switch, the health checks).
//!
//! What a scenario changes is granted in the namespaces it changes them in (a Role and a
//! RoleBinding per namespace); only reads and cluster-scoped kinds (nodes, evictions, access
//! reviews) go into a ClusterRole. A change that could land in any namespace — a
//! `namespace_pattern` that is a real pattern — is refused with the reason, unless
//! `--cluster-wide` says the operator means it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, bail};

use super::permissions::run_permissions;
use crate::cluster::access::Permission;
use crate::config::Config;
use crate::exit::BAD_INPUT as EXIT_BAD_INPUT;

#[derive(Args, Debug)]
pub struct RbacArgs {
    /// The config whose scenarios need the permissions.
    #[arg(short = 'c', long, default_value = "config/config.yaml")]
    pub config: PathBuf,
    /// The ServiceAccount that runs chaosdeck, as NAMESPACE/NAME.
    #[arg(long, value_name = "NAMESPACE/NAME", default_value = "chaosdeck/chaosdeck",
          conflicts_with_all = ["user", "group"])]
    pub service_account: String,
    /// Bind a user instead (the name the API server authenticates).
    #[arg(long)]
    pub user: Option<String>,
    /// Bind a group instead.
    #[arg(long)]
    pub group: Option<String>,
    /// Also grant changes that may land in any namespace (a pattern's) cluster-wide.
    #[arg(long)]
    pub cluster_wide: bool,
}

/// Whom the bindings name.
enum Subject {
    ServiceAccount { namespace: String, name: String },
    User(String),
    Group(String),
}

impl Subject {
    fn yaml(&self) -> String {
        match self {
            Subject::ServiceAccount { namespace, name } => {
                format!("{{kind: ServiceAccount, name: {name}, namespace: {namespace}}}")
            }
            Subject::User(name) => {
                format!("{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {name:?}}}")
            }
            Subject::Group(name) => {
                format!("{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: {name:?}}}")
            }
        }
    }
}

/// Kinds without a namespace: their permissions can only be cluster-wide.
const CLUSTER_SCOPED: &[&str] =
    &["nodes", "namespaces", "selfsubjectaccessreviews", "selfsubjectreviews"];

/// Where a permission is granted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Cluster,
    Namespace(String),
}

/// (API group, resource[/subresource], verb): one grant of a rule.
type Grant = (String, String, &'static str);

/// Sorts `wanted` into scopes; the permissions that would change something in every
/// namespace come back apart (refused unless `cluster_wide`).
fn scopes(
    wanted: &[Permission],
    cluster_wide: bool,
) -> (BTreeMap<Scope, BTreeSet<Grant>>, Vec<Permission>) {
    let mut out: BTreeMap<Scope, BTreeSet<Grant>> = BTreeMap::new();
    let mut everywhere = Vec::new();
    for p in wanted {
        let resource = match p.subresource {
            Some(sub) => format!("{}/{sub}", p.resource),
            None => p.resource.clone(),
        };
        let scope = match &p.namespace {
            Some(ns) => Scope::Namespace(ns.clone()),
            None => {
                let read = matches!(p.verb, "get" | "list" | "watch");
                let cluster_scoped = CLUSTER_SCOPED.contains(&p.resource.as_str());
                // Evicting honours PodDisruptionBudgets and removes no object for good.
                let eviction = p.subresource == Some("eviction");
                if !(read || cluster_scoped || eviction || cluster_wide) {
                    everywhere.push(p.clone());
                    continue;
                }
                Scope::Cluster
            }
        };
        out.entry(scope).or_default().insert((p.group.clone(), resource, p.verb));
    }
    (out, everywhere)
}

/// The rules of one role: a rule per (group, resource), its verbs sorted.
fn rules(grants: &BTreeSet<Grant>) -> String {
    let mut by_resource: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for (group, resource, verb) in grants {
        by_resource.entry((group, resource)).or_default().insert(verb);
    }
    let mut out = String::new();
    for ((group, resource), verbs) in by_resource {
        let verbs: Vec<&str> = verbs.into_iter().collect();
        out.push_str(&format!(
            "  - apiGroups: [{:?}]\n    resources: [{resource}]\n    verbs: [{}]\n",
            group,
            verbs.join(", ")
        ));
    }
    out
}

/// The manifest for `wanted`, bound to `subject`, the roles named after `name`.
fn manifest(
    name: &str,
    wanted: &[Permission],
    subject: &Subject,
    cluster_wide: bool,
) -> Result<String, Vec<Permission>> {
    let (scopes, everywhere) = scopes(wanted, cluster_wide);
    if !everywhere.is_empty() {
        return Err(everywhere);
    }
    let mut docs = Vec::new();
    for (scope, grants) in &scopes {
        let (kind, meta) = match scope {
            Scope::Cluster => ("Cluster", format!("name: {name}")),
            Scope::Namespace(ns) => ("", format!("name: {name}\n  namespace: {ns}")),
        };
        docs.push(format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}Role\nmetadata:\n  {meta}\nrules:\n{}",
            rules(grants)
        ));
        docs.push(format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}RoleBinding\nmetadata:\n  {meta}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {kind}Role, name: {name}}}\nsubjects: [{}]\n",
            subject.yaml()
        ));
    }
    Ok(docs.join("---\n"))
}

pub fn run(args: RbacArgs) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let plan = match crate::engine::load_plan(&config) {
        Ok(plan) => plan,
        Err(errors) => {
            for e in &errors {
                crate::out::err_line(format!("error: {e}"));
            }
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let subject = match (&args.user, &args.group) {
        (Some(user), _) => Subject::User(user.clone()),
        (_, Some(group)) => Subject::Group(group.clone()),
        _ => match args.service_account.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => {
                Subject::ServiceAccount { namespace: namespace.into(), name: name.into() }
            }
            _ => bail!("--service-account {:?} is not NAMESPACE/NAME", args.service_account),
        },
    };
    let wanted = run_permissions(&plan, &config);
    match manifest("chaosdeck", &wanted, &subject, args.cluster_wide) {
        Ok(text) => {
            crate::out::line(format!(
                "# What `chaosdeck run -c {}` needs (its scenarios' changes and their undo, in \
                 their namespaces;\n# reads and cluster-scoped kinds cluster-wide). Apply with \
                 `kubectl apply -f -`.",
                config.path.display()
            ));
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(everywhere) => {
            for p in &everywhere {
                crate::out::err_line(format!(
                    "error: {p}: a change in whichever namespace matches"
                ));
            }
            crate::out::err_line(
                "a namespace_pattern that is a pattern (not ^name$) can change things in any \
                 namespace: write one namespace per scenario item, or pass --cluster-wide to \
                 grant that everywhere (whoever holds it may then create pods in every \
                 namespace)",
            );
            Ok(ExitCode::from(EXIT_BAD_INPUT))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_go_to_their_namespace_reads_and_nodes_cluster_wide() {
        let wanted = vec![
            Permission::on("create", "v1", "Pod", Some("shop")),
            Permission::on("delete", "v1", "Pod", Some("shop")),
            Permission::on("list", "v1", "Pod", None),
            Permission::on("patch", "v1", "Node", None),
            Permission::on("create", "v1", "Pod", None).on_subresource("eviction"),
        ];
        let sa =
            Subject::ServiceAccount { namespace: "chaosdeck".into(), name: "chaosdeck".into() };
        let text = manifest("chaosdeck", &wanted, &sa, false).unwrap();
        let docs: Vec<&str> = text.split("---\n").collect();
        assert_eq!(docs.len(), 4, "{text}");
        assert!(docs[0].contains("kind: ClusterRole\n"), "{text}");
        assert!(docs[0].contains("resources: [pods]\n    verbs: [list]"), "{text}");
        assert!(docs[0].contains("resources: [pods/eviction]\n    verbs: [create]"), "{text}");
        assert!(docs[2].contains("kind: Role\n") && docs[2].contains("namespace: shop"), "{text}");
        assert!(docs[2].contains("verbs: [create, delete]"), "{text}");
        assert!(docs[3].contains("name: chaosdeck, namespace: chaosdeck"), "{text}");
        let anywhere = vec![Permission::on("delete", "v1", "Pod", None)];
        assert_eq!(manifest("chaosdeck", &anywhere, &sa, false).unwrap_err(), anywhere);
        assert!(manifest("chaosdeck", &anywhere, &sa, true).unwrap().contains("ClusterRole"));
    }
}
