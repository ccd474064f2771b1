//! Who a client is, as the API server sees it, and a client that acts as someone else.
//!
//! The dead man's switch records the identity that armed a run (the API server checks the
//! record at admission) and the watchdog performs that run's undos impersonating it, so it can
//! never do more than that identity could do itself. Owns: asking the API server who we are
//! (`SelfSubjectReview`), the one text form of a group list that the admission policy
//! compares (`deploy/watchdog.yaml`), and the impersonating client.

use http::{HeaderName, HeaderValue, Request};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::Client;
use kube::api::{Api, PostParams};
use kube::client::Body;
use tower::BoxError;

/// Groups the API server adds to every authenticated user itself: never sent when
/// impersonating (asking for them would need `impersonate` on them too).
const IMPLICIT_GROUP: &str = "system:authenticated";
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// A user name and its groups, as the API server authenticated them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub username: String,
    pub groups: Vec<String>,
}

impl Caller {
    /// The groups as one annotation value: each group with `%` and `,` escaped, joined by `,`
    /// — exactly what deploy/watchdog.yaml's policy computes from `request.userInfo.groups`.
    pub fn encoded_groups(&self) -> String {
        self.groups
            .iter()
            .map(|g| g.replace('%', "%25").replace(',', "%2C"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The inverse of [`Caller::encoded_groups`].
    pub fn from_annotations(username: &str, encoded_groups: &str) -> Caller {
        let groups = if encoded_groups.is_empty() {
            Vec::new()
        } else {
            encoded_groups.split(',').map(|g| g.replace("%2C", ",").replace("%25", "%")).collect()
        };
        Caller { username: username.to_string(), groups }
    }

    /// A ServiceAccount's groups are implied by its name: the API server fills them in when
    /// none are asked for.
    fn is_service_account(&self) -> bool {
        self.username.starts_with(SERVICE_ACCOUNT_PREFIX)
    }

    /// The `Impersonate-Group` values that give this caller its groups: none for a
    /// ServiceAccount, and never the group every authenticated user is in.
    pub fn impersonation_groups(&self) -> Vec<&str> {
        if self.is_service_account() {
            return Vec::new();
        }
        self.groups.iter().map(String::as_str).filter(|g| *g != IMPLICIT_GROUP).collect()
    }

    /// `user (groups a, b)` for messages.
    pub fn describe(&self) -> String {
        let groups = self.impersonation_groups();
        if groups.is_empty() {
            self.username.clone()
        } else {
            format!("{} (groups {})", self.username, groups.join(", "))
        }
    }
}

/// Asks the API server who `client` is (`SelfSubjectReview`, authentication.k8s.io/v1).
pub async fn whoami(client: &Client) -> Result<Caller, String> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .map_err(|e| format!("cannot ask the API server who this is (SelfSubjectReview): {e}"))?;
    let info = review.status.and_then(|s| s.user_info).unwrap_or_default();
    let username = info.username.filter(|u| !u.is_empty()).ok_or_else(|| {
        "the API server's SelfSubjectReview named no user (anonymous access?)".to_string()
    })?;
    Ok(Caller { username, groups: info.groups.unwrap_or_default() })
}

/// Wraps `client` so that every request acts as `caller` (`Impersonate-User`,
/// `Impersonate-Group`): the API server authorises it as that identity, provided `client`'s
/// own identity may impersonate it.
pub fn impersonating(client: Client, caller: &Caller) -> Result<Client, String> {
    let value = |v: &str| {
        HeaderValue::from_str(v).map_err(|_| format!("{v:?} cannot be sent as an HTTP header"))
    };
    let user = value(&caller.username)?;
    let groups: Vec<HeaderValue> =
        caller.impersonation_groups().into_iter().map(value).collect::<Result<_, _>>()?;
    let namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |mut request: Request<Body>| {
        let client = client.clone();
        let headers = request.headers_mut();
        headers.insert(HeaderName::from_static("impersonate-user"), user.clone());
        for g in &groups {
            headers.append(HeaderName::from_static("impersonate-group"), g.clone());
        }
        async move { client.send(request).await.map_err(BoxError::from) }
    });
    Ok(Client::new(service, namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str, groups: &[&str]) -> Caller {
        Caller { username: user.into(), groups: groups.iter().map(|g| g.to_string()).collect() }
    }

    #[test]
    fn groups_survive_the_annotation_with_commas_and_percents() {
        let c = caller("alice", &["sre", "a,b", "100%", "system:authenticated"]);
        let text = c.encoded_groups();
        assert_eq!(text, "sre,a%2Cb,100%25,system:authenticated");
        assert_eq!(Caller::from_annotations("alice", &text), c);
        assert_eq!(Caller::from_annotations("bob", "").groups, Vec::<String>::new());
    }

    #[test]
    fn impersonation_sends_only_the_groups_the_server_does_not_add() {
        let sa = caller(
            "system:serviceaccount:chaosdeck:chaosdeck",
            &["system:serviceaccounts", "system:serviceaccounts:chaosdeck", "system:authenticated"],
        );
        assert!(sa.impersonation_groups().is_empty());
        let user = caller("alice", &["sre", "system:authenticated"]);
        assert_eq!(user.impersonation_groups(), vec!["sre"]);
        assert_eq!(user.describe(), "alice (groups sre)");
    }
}
