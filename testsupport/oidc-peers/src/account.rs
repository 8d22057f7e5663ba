//! The accounts both peers sign in: claims per login.

use serde::Serialize;

/// The claims of one account at a peer.
///
/// Both peers accept any login name; a login without a configured account gets
/// [`Account::derived`]. The Node.js provider derives the same values in `server.mjs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The subject: stable for a login, never its email.
    pub sub: String,
    /// The email address.
    pub email: String,
    /// Whether the provider vouches for the email address.
    pub email_verified: bool,
    /// The full name.
    pub name: String,
    /// The given name.
    pub given_name: String,
    /// The family name.
    pub family_name: String,
}

impl Account {
    /// The claims of a login that has no configured account.
    ///
    /// `sub` is `acct-` and the login's UTF-8 bytes in lowercase hex; `email` is the login when
    /// it contains an `@`, else `<login>@example.test`; `email_verified` is true; `given_name`
    /// is the email's local part, `family_name` is `Tester` and `name` is both.
    pub fn derived(login: &str) -> Self {
        let email = if login.contains('@') {
            login.to_owned()
        } else {
            format!("{login}@example.test")
        };
        let local = email.split('@').next().unwrap_or_default().to_owned();
        Self {
            sub: format!("acct-{}", hex::encode(login.as_bytes())),
            name: format!("{local} Tester"),
            given_name: local,
            family_name: "Tester".to_owned(),
            email,
            email_verified: true,
        }
    }

    /// The account's claims as a JSON object (`sub`, `email`, `email_verified`, `name`,
    /// `given_name`, `family_name`), as a userinfo endpoint answers them.
    pub fn claims(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Account;

    #[test]
    fn derived_claims_follow_the_login() {
        let plain = Account::derived("alice");
        assert_eq!(plain.sub, "acct-616c696365");
        assert_eq!(plain.email, "alice@example.test");
        assert_eq!(plain.given_name, "alice");
        assert_eq!(plain.name, "alice Tester");
        let email = Account::derived("bob@example.org");
        assert_eq!(email.email, "bob@example.org");
        assert_eq!(email.given_name, "bob");
        assert_ne!(plain.sub, email.sub);
        assert_eq!(plain.claims()["email_verified"], serde_json::json!(true));
    }
}
