//! The two objects of a game day run as a Job: a ConfigMap holding the config and its
//! scenario files, and a Job whose one pod runs `chaosdeck run --headless --in-cluster` on
//! them, as deploy/watchdog.yaml runs the watchdog (uid 65532, read-only root, no
//! capabilities). The journal lives in the pod (an emptyDir); the dead man's switch mirrors
//! every entry into the cluster, so a pod that dies is undone by the watchdog.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Where the ConfigMap is mounted.
pub const MOUNT: &str = "/etc/chaosdeck/job";
/// The config's key in the ConfigMap.
pub const CONFIG_KEY: &str = "config.yaml";
/// The pod's writable state (journal and live-run markers): an emptyDir.
pub const STATE: &str = "/var/lib/chaosdeck";
/// The label every object of one game day carries, with its name.
pub const GAME_DAY_LABEL: &str = "chaosdeck.io/game-day";

pub struct GameDay<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub service_account: &'a str,
    pub image: &'a str,
    /// The image of the helper pods the run starts (network and I/O faults).
    pub helper_image: &'a str,
    /// ConfigMap key → file text: the config under [`CONFIG_KEY`], each scenario file under
    /// its own key.
    pub files: &'a BTreeMap<String, String>,
}

fn labels(day: &GameDay) -> Value {
    json!({
        "app.kubernetes.io/name": "chaosdeck",
        "app.kubernetes.io/component": "game-day",
        GAME_DAY_LABEL: day.name,
    })
}

pub fn config_map(day: &GameDay) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": day.name, "namespace": day.namespace, "labels": labels(day)},
        // The Job runs this with its ServiceAccount's rights: nobody who may merely update
        // ConfigMaps in the namespace gets to change what it runs after the operator applied it.
        "immutable": true,
        "data": day.files,
    })
}

pub fn job(day: &GameDay) -> Value {
    let config = format!("{MOUNT}/{CONFIG_KEY}");
    let journal = format!("{STATE}/journal");
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": day.name, "namespace": day.namespace, "labels": labels(day)},
        "spec": {
            // A failed game day is never retried by the Job controller: a retry would inject
            // the chaos again while the watchdog undoes the first attempt.
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels(day)},
                "spec": {
                    "serviceAccountName": day.service_account,
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "chaosdeck",
                        "image": day.image,
                        "args": ["run", "--headless", "--in-cluster", "--yes-i-mean-it",
                                 crate::cluster::IN_CLUSTER_CONTEXT, "-c", config,
                                 "--dir", journal],
                        "env": [
                            {"name": "POD_NAME",
                             "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "XDG_STATE_HOME", "value": STATE},
                            {"name": crate::helper::pod::HELPER_IMAGE_ENV,
                             "value": day.helper_image},
                        ],
                        "securityContext": {
                            "readOnlyRootFilesystem": true,
                            "allowPrivilegeEscalation": false,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [
                            {"name": "game-day", "mountPath": MOUNT, "readOnly": true},
                            {"name": "state", "mountPath": STATE},
                        ],
                    }],
                    "volumes": [
                        {"name": "game-day", "configMap": {"name": day.name}},
                        {"name": "state", "emptyDir": {}},
                    ],
                },
            },
        },
    })
}
