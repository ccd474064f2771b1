//! Who a request is from. The sandbox has no authentication: a bearer token simply names the
//! user it stands for (`Authorization: Bearer system:serviceaccount:ns:name`), a request
//! without one is the sandbox's admin, and `Impersonate-User`/`Impersonate-Group` are honoured
//! for anyone (there is no authorization to ask). The identity only feeds what depends on it:
//! `SelfSubjectReview` and the dead man's switch policy ([`crate::switch_policy`]), so clients
//! see the same answers as from a real API server with the same identities.
//!
//! Owns: reading the identity from the headers. Must not refuse anything on its own.

use axum::http::HeaderMap;

use crate::status::ApiError;

/// The user of a request that carries no token (the kubeconfig `chaosdeck sandbox` writes).
pub const ADMIN_USER: &str = "sandbox-admin";
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
const AUTHENTICATED: &str = "system:authenticated";

/// A user and its groups, as a real API server's `request.userInfo` has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn admin() -> User {
        User {
            username: ADMIN_USER.into(),
            groups: vec!["system:masters".into(), AUTHENTICATED.into()],
        }
    }

    /// `username` with the groups the API server gives it: a ServiceAccount's own two, or
    /// `groups`; every authenticated user is in `system:authenticated` too.
    pub fn named(username: &str, groups: Vec<String>) -> User {
        let mut groups = match (username.strip_prefix(SERVICE_ACCOUNT_PREFIX), groups.is_empty()) {
            (Some(rest), true) => {
                let ns = rest.split(':').next().unwrap_or_default();
                vec!["system:serviceaccounts".to_string(), format!("system:serviceaccounts:{ns}")]
            }
            _ => groups,
        };
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        User { username: username.to_string(), groups }
    }

    /// The requester: the token's user (or the admin), or whom it impersonates.
    pub fn of(headers: &HeaderMap) -> Result<User, ApiError> {
        let text = |v: &axum::http::HeaderValue| {
            v.to_str().map(str::to_string).map_err(|_| {
                ApiError::bad_request("an Authorization or Impersonate header is not text")
            })
        };
        let mut user = match headers.get(axum::http::header::AUTHORIZATION) {
            None => User::admin(),
            Some(value) => {
                let value = text(value)?;
                let token = value.strip_prefix("Bearer ").unwrap_or_default().trim();
                if token.is_empty() {
                    return Err(ApiError::unauthorized());
                }
                User::named(token, Vec::new())
            }
        };
        if let Some(as_user) = headers.get("impersonate-user") {
            let groups = headers
                .get_all("impersonate-group")
                .iter()
                .map(text)
                .collect::<Result<Vec<_>, _>>()?;
            user = User::named(&text(as_user)?, groups);
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_accounts_get_their_groups_and_impersonation_wins() {
        let mut headers = HeaderMap::new();
        assert_eq!(User::of(&headers).unwrap(), User::admin());
        headers.insert(
            "authorization",
            "Bearer system:serviceaccount:chaosdeck:chaosdeck".parse().unwrap(),
        );
        let sa = User::of(&headers).unwrap();
        assert_eq!(sa.username, "system:serviceaccount:chaosdeck:chaosdeck");
        assert_eq!(
            sa.groups,
            ["system:serviceaccounts", "system:serviceaccounts:chaosdeck", "system:authenticated"]
        );
        headers.insert("impersonate-user", "alice".parse().unwrap());
        headers.append("impersonate-group", "sre".parse().unwrap());
        let alice = User::of(&headers).unwrap();
        assert_eq!(
            alice,
            User { username: "alice".into(), groups: vec!["sre".into(), AUTHENTICATED.into()] }
        );
        headers.insert("authorization", "Basic x".parse().unwrap());
        headers.remove("impersonate-user");
        assert_eq!(User::of(&headers).unwrap_err().code, 401);
    }
}
