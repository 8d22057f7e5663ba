//! The password method in login flows: the identifier and password of the first factor,
//! with lockout counted before the hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::clock::truncate_micros;
use crate::config::LockoutConfig;
use crate::flow::login::LoginFlow;
use crate::flow::ui::{UiNode, text};
use crate::flow::{FlowContext, FlowError};
use crate::identity::{CredentialType, IdentifierKind, Identity, normalize_identifier};
use crate::kratos::Kratos;
use crate::session::AuthenticationMethod;
use crate::store::{LockSchedule, LockoutKey, PasswordLoginKeys, StoreError};
use crate::strategy::{
    Authenticated, CompletionWrites, Factor, LoginCx, LoginOutcome, LoginStrategy, Method,
    PopulateCx, Prefetched,
};

/// The password method's payload.
#[derive(Deserialize)]
struct PasswordPayload {
    #[serde(default, alias = "password_identifier")]
    identifier: String,
    #[serde(default)]
    password: Zeroizing<String>,
}

/// What a password submission is looked up by: the normalized identifier and the lockout
/// keys of the identifier and of the client address.
pub(crate) struct PasswordKeys {
    identifier: String,
    identifier_key: String,
    address_key: Option<String>,
}

/// The longest identifier a lockout key holds as it is; a longer one is keyed by its SHA-256
/// digest. Keys are a primary key's column: PostgreSQL refuses index entries over about
/// 2.7 kB (an attempt with a longer identifier would fail instead of being counted), and an
/// identifier may be as long as a request body allows (64 KiB), which every stored counter
/// would carry.
pub(crate) const MAX_KEYED_IDENTIFIER_BYTES: usize = 256;

/// The lockout key of a normalized identifier: `identifier:<identifier>`, or
/// `identifier-sha256:<hex digest>` beyond [`MAX_KEYED_IDENTIFIER_BYTES`] (the same
/// identifier always gets the same key, and distinct ones distinct keys).
pub(crate) fn identifier_lockout_key(identifier: &str) -> String {
    if identifier.len() <= MAX_KEYED_IDENTIFIER_BYTES {
        return format!("identifier:{identifier}");
    }
    use sha2::{Digest, Sha256};
    format!(
        "identifier-sha256:{}",
        hex::encode(Sha256::digest(identifier.as_bytes()))
    )
}

/// The lockout key of a client address: `address:<IPv4>`, `address:<IPv6 /64 prefix>/64`
/// (one subscriber commonly holds a whole /64, so keying single IPv6 addresses would give it
/// 2^64 counters), or, for a value that is no IP address, its SHA-256 digest.
pub(crate) fn address_lockout_key(address: &str) -> String {
    use std::net::IpAddr;
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("address:{v4}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("address:{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        Err(_) => {
            use sha2::{Digest, Sha256};
            format!(
                "address-sha256:{}",
                hex::encode(Sha256::digest(address.as_bytes()))
            )
        }
    }
}

impl PasswordKeys {
    pub(crate) fn of(identifier: &str, ctx: &FlowContext) -> Self {
        // A phone number is looked up in E.164, as it is stored (Kratos's graceful
        // normalisation); anything else is folded as a username or email address.
        let identifier = crate::identity::normalize_phone(identifier)
            .or_else(|_| normalize_identifier(IdentifierKind::Username, identifier))
            .unwrap_or_default();
        Self {
            identifier_key: identifier_lockout_key(&identifier),
            address_key: ctx.client.ip_address.as_deref().map(address_lockout_key),
            identifier,
        }
    }

    /// The lockout keys an attempt is counted on, with their limits: none when lockout is off.
    pub(crate) fn lockout_keys(&self, lockout: &LockoutConfig) -> Vec<LockoutKey<'_>> {
        if !lockout.enabled {
            return Vec::new();
        }
        // The client address first: an attempt it refuses does not count against the
        // identifier (a locked-out client cannot go on locking others out).
        self.address_key
            .as_deref()
            .map(|key| LockoutKey {
                key,
                max_attempts: lockout.max_failures_per_address,
            })
            .into_iter()
            .chain(std::iter::once(LockoutKey {
                key: &self.identifier_key,
                max_attempts: lockout.max_failures,
            }))
            .collect()
    }
}

/// The lock schedule of `lockout` at `now`: the first lock lasts `base_duration`, each further
/// one twice the one before, up to `max_duration`.
pub(crate) fn lock_schedule(lockout: &LockoutConfig, now: DateTime<Utc>) -> LockSchedule {
    let base = lockout.base_duration.as_chrono();
    let max = lockout.max_duration.as_chrono();
    let mut locks = Vec::new();
    for doublings in 0..31u32 {
        let length = base
            .checked_mul(1i32 << doublings)
            .unwrap_or(chrono::Duration::MAX)
            .min(max);
        locks.push(
            now.checked_add_signed(length)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        if length >= max {
            break;
        }
    }
    LockSchedule {
        now,
        forget_before: now
            .checked_sub_signed(lockout.forget_after.as_chrono())
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
        locks,
    }
}

/// The reads of a password submission, each with its own outcome so that a lock wins over a
/// failed identity read: the lock that refused the attempt, if any, and the identity of its
/// identifier.
struct PasswordReads {
    locked_until: Result<Option<DateTime<Utc>>, StoreError>,
    identity: Result<Option<Identity>, StoreError>,
}

/// The password method's login strategy.
#[derive(Debug, Default)]
pub struct PasswordLogin;

fn now(kratos: &Kratos) -> DateTime<Utc> {
    truncate_micros(kratos.clock().now())
}

/// The identifier and password of a complete submission, or `None`.
fn complete_payload(payload: &Value) -> Option<&str> {
    let identifier = payload
        .get("identifier")
        .or_else(|| payload.get("password_identifier"))
        .and_then(Value::as_str)?;
    let has_password = payload
        .get("password")
        .and_then(Value::as_str)
        .is_some_and(|p| !p.is_empty());
    (!identifier.trim().is_empty() && has_password).then_some(identifier)
}

#[async_trait]
impl LoginStrategy for PasswordLogin {
    fn method(&self) -> Method {
        Method::Password
    }

    fn factor(&self) -> Factor {
        Factor::First
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        let identifier = cx
            .session
            .filter(|_| cx.refresh)
            .and_then(|s| s.identity.as_ref())
            .and_then(|i| i.credential(CredentialType::Password))
            .and_then(|c| c.identifiers.first().cloned());
        let mut id_node = UiNode::input(
            crate::flow::ui::NodeGroup::Default,
            "identifier",
            crate::flow::ui::InputType::Text,
        )
        .required()
        .label(text::default_login_identifier_label(cx.kratos.schemas()));
        if let Some(v) = identifier {
            id_node = id_node.value(json!(v));
        }
        cx.ui.nodes.push(id_node);
        cx.ui.nodes.push(
            UiNode::input(
                crate::flow::ui::NodeGroup::Password,
                "password",
                crate::flow::ui::InputType::Password,
            )
            .required()
            .autocomplete("current-password")
            .label(text::password_label()),
        );
        cx.ui.nodes.push(
            UiNode::input(
                crate::flow::ui::NodeGroup::Password,
                "method",
                crate::flow::ui::InputType::Submit,
            )
            .value(json!("password"))
            .label(text::login_with_password()),
        );
        Ok(())
    }

    /// A complete submission's reads (lockout and identity) need only the payload: the
    /// store answers them with the flow load, one round trip for the three on SQL. Their
    /// result is used only once the flow and the payload have passed every check.
    async fn prefetch(
        &self,
        kratos: &Kratos,
        flow_id: Uuid,
        payload: &Value,
        request: &dyn crate::flow::Admission,
    ) -> Option<(Result<(LoginFlow, String), FlowError>, Prefetched)> {
        let identifier = complete_payload(payload)?;
        let keys = PasswordKeys::of(identifier, request.request());
        let vouched = payload
            .get("csrf_token")
            .and_then(Value::as_str)
            .filter(|t| request.csrf_vouched(t));
        let admitted = Admitted {
            csrf_token: vouched,
            api_flow: !request.refuses_api_flows(),
        };
        let (loaded, reads) = load_with_password_reads(kratos, flow_id, &keys, admitted).await;
        Some((loaded, Prefetched::new((keys, reads))))
    }

    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        let payload: PasswordPayload = cx.parse()?;
        let flow = &mut *cx.flow;
        flow.ui.set_value("identifier", json!(payload.identifier));
        let mut missing = false;
        if payload.identifier.trim().is_empty() {
            flow.ui
                .add_node_message("identifier", text::required("identifier"));
            missing = true;
        }
        if payload.password.is_empty() {
            flow.ui
                .add_node_message("password", text::required("password"));
            missing = true;
        }
        if missing {
            return Ok(LoginOutcome::Retry);
        }
        let kratos = cx.kratos;
        let (keys, reads) = match cx
            .prefetched
            .take()
            .and_then(|p| p.take::<(PasswordKeys, PasswordReads)>())
        {
            Some(prefetched) => prefetched,
            // Not reached today: every complete password submission is prefetched. Read
            // here all the same should the conditions ever part (the flow read is unused).
            None => {
                let keys = PasswordKeys::of(&payload.identifier, cx.request);
                // The engine has compared the submitted token with the flow's.
                let token = cx.payload.get("csrf_token").and_then(Value::as_str);
                let admitted = Admitted {
                    csrf_token: token,
                    api_flow: true,
                };
                let reads = load_with_password_reads(kratos, flow.id, &keys, admitted)
                    .await
                    .1;
                (keys, reads)
            }
        };
        if let Some(until) = reads.locked_until?
            && until > now(kratos)
        {
            return Err(FlowError::LoginLocked { until });
        }
        let found = reads.identity?;
        let PasswordKeys {
            identifier_key,
            address_key,
            ..
        } = keys;
        let lockout = &kratos.config().security.login_lockout;
        let stored_hash = found
            .as_ref()
            .and_then(|i| i.credential(CredentialType::Password))
            .and_then(|c| c.hashed_password())
            .map(str::to_owned);
        let password = payload.password.clone();
        // One verification (one turn of the hashing gate); a hash in another format or with
        // other parameters is re-hashed with the configured algorithm in the same turn.
        let (valid, new_hash) = kratos
            .run_hash(move |hasher| match stored_hash {
                Some(hash) => {
                    crate::identity::verify_and_rehash(hasher, password.as_bytes(), &hash)
                        .unwrap_or((false, None))
                }
                None => {
                    // Spend the time of a real verification: timing reveals nothing.
                    hasher.verify_dummy(password.as_bytes());
                    (false, None)
                }
            })
            .await
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        let mut identity = match (valid, found) {
            (true, Some(i)) => i,
            _ => {
                // The attempt was counted before the password was verified.
                flow.ui.messages.push(text::invalid_credentials());
                return Ok(LoginOutcome::Retry);
            }
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        // Migrate the hash now that the password is known. A failed write does not fail the
        // login: the next one tries again.
        if let Some(new_hash) = new_hash {
            crate::identity::set_password_hash(&mut identity, new_hash, now(kratos));
            let _ = kratos
                .store()
                .update_identity(kratos.nid(), &identity)
                .await;
        }
        flow.ui.set_value("password", json!(""));
        // The success forgets the identifier's attempts and takes back the one counted on the
        // address, in the transaction of the session.
        let writes = if lockout.enabled {
            CompletionWrites {
                reset_login_failures: Some(identifier_key),
                forgive_login_attempt: address_key
                    .map(|key| (key, lockout.max_failures_per_address)),
                ..CompletionWrites::default()
            }
        } else {
            CompletionWrites::default()
        };
        Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
            identity,
            method: AuthenticationMethod::first_factor("password", now(kratos)),
            writes,
        })))
    }
}

/// Loads the flow `id` with the reads of a password submission under `keys` (the identity
/// of the identifier) and counts the attempt on its lockout keys when lockout is on and
/// the flow is live, in one store call: the attempt is counted before its password is
/// verified, so of a burst of attempts only those up to the limit are verified at all.
/// What the transport is known to admit before the flow is loaded: the attempt counts only
/// on a submission that will be admitted.
struct Admitted<'a> {
    /// The submitted CSRF token, when the transport vouches for it.
    csrf_token: Option<&'a str>,
    /// Whether an api flow would admit the request.
    api_flow: bool,
}

async fn load_with_password_reads(
    kratos: &Kratos,
    id: Uuid,
    keys: &PasswordKeys,
    admitted: Admitted<'_>,
) -> (Result<(LoginFlow, String), FlowError>, PasswordReads) {
    let lockout = &kratos.config().security.login_lockout;
    let lockout_keys = keys.lockout_keys(lockout);
    let schedule = lock_schedule(lockout, now(kratos));
    let reads = kratos
        .store()
        .password_login_reads(
            kratos.nid(),
            PasswordLoginKeys {
                flow_id: id,
                lockout_keys: &lockout_keys,
                schedule: &schedule,
                identifier: &keys.identifier,
                csrf_token: admitted.csrf_token,
                api_flow_admitted: admitted.api_flow,
            },
        )
        .await;
    let loaded = reads
        .flow
        .map_err(FlowError::from)
        .and_then(crate::flow::decode_with_internal);
    (
        loaded,
        PasswordReads {
            locked_until: reads.locked_until,
            identity: reads.identity,
        },
    )
}

#[cfg(test)]
mod lockout_key_tests {
    use super::{MAX_KEYED_IDENTIFIER_BYTES, address_lockout_key, identifier_lockout_key};

    #[test]
    fn identifiers_up_to_the_bound_are_kept_longer_ones_digested() {
        assert_eq!(
            identifier_lockout_key("ada@example.com"),
            "identifier:ada@example.com"
        );
        let at_bound = "a".repeat(MAX_KEYED_IDENTIFIER_BYTES);
        assert_eq!(
            identifier_lockout_key(&at_bound),
            format!("identifier:{at_bound}")
        );
        let long = "a".repeat(MAX_KEYED_IDENTIFIER_BYTES + 1);
        let key = identifier_lockout_key(&long);
        assert!(key.starts_with("identifier-sha256:"), "{key}");
        assert_eq!(key.len(), "identifier-sha256:".len() + 64);
        assert_eq!(
            key,
            identifier_lockout_key(&long),
            "the same key every time"
        );
        assert_ne!(key, identifier_lockout_key(&format!("{long}b")));
        assert!(identifier_lockout_key(&"é".repeat(100_000)).len() < 100);
    }

    #[test]
    fn ipv6_addresses_are_keyed_per_64() {
        assert_eq!(address_lockout_key("192.0.2.7"), "address:192.0.2.7");
        assert_eq!(address_lockout_key("::ffff:192.0.2.7"), "address:192.0.2.7");
        assert_eq!(
            address_lockout_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "address:2001:db8:1:2::/64"
        );
        assert_eq!(
            address_lockout_key("2001:db8:1:2::1"),
            address_lockout_key("2001:db8:1:2:ffff::9"),
            "one /64, one key"
        );
        assert_ne!(
            address_lockout_key("2001:db8:1:2::1"),
            address_lockout_key("2001:db8:1:3::1")
        );
        let odd = address_lockout_key(&"x".repeat(10_000));
        assert!(
            odd.starts_with("address-sha256:") && odd.len() < 100,
            "{odd}"
        );
    }
}
