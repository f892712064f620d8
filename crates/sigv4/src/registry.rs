//! The one credential store shared by the STS mock (which issues keys) and the AMP mock
//! (which accepts exactly the keys that are known and not expired).
//!
//! Long-term keys (`AKIA…`) are registered with [`CredentialRegistry::register_static`];
//! temporary keys (`ASIA…`, with a session token and an expiration) come from
//! [`CredentialRegistry::issue_temporary`]. [`CredentialRegistry::expire`] makes a key
//! expired from the server's point of view at once, whatever its `expiration` says, so a
//! test can inject the "expired credential" fault while the client still trusts its copy.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use rand::Rng;

/// Characters of temporary access key ids after the `ASIA` prefix.
const KEY_ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Characters of secret access keys and session tokens (base64, as AWS issues them).
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Every real session token starts with this (base64 of a protobuf header).
const SESSION_TOKEN_PREFIX: &str = "IQoJb3JpZ2luX2VjE";
/// Length of generated session tokens; real ones are several hundred characters long.
const SESSION_TOKEN_LEN: usize = 400;

/// One set of AWS credentials as the server knows it.
///
/// `Debug` never prints the secret access key or the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The public key id (`AKIA…` long-term, `ASIA…` temporary).
    pub access_key_id: String,
    /// The secret the client signs with.
    pub secret_access_key: String,
    /// The session token that must accompany a temporary key.
    pub session_token: Option<String>,
    /// When the credential stops being accepted; `None` never expires.
    pub expiration: Option<DateTime<Utc>>,
    /// The IAM principal the key belongs to (a user or an assumed-role session).
    pub principal_arn: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &self.session_token.as_ref().map(|_| "** redacted **"))
            .field("expiration", &self.expiration)
            .field("principal_arn", &self.principal_arn)
            .finish()
    }
}

/// What the server knows about an access key id at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// No such key was ever registered or issued (or it was removed).
    Unknown,
    /// The key exists but has expired, by its `expiration` or by [`CredentialRegistry::expire`].
    Expired(Credential),
    /// The key exists and is valid.
    Valid(Credential),
}

/// Shared, cloneable credential store; clones see the same keys.
#[derive(Clone, Default)]
pub struct CredentialRegistry {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
}

#[derive(Clone)]
struct Entry {
    credential: Credential,
    /// Set by [`CredentialRegistry::expire`]: expired regardless of `expiration`.
    force_expired: bool,
}

impl fmt::Debug for CredentialRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialRegistry").field("keys", &self.len()).finish()
    }
}

impl CredentialRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a long-term key: no session token, never expires. Replaces any key with the same id.
    pub fn register_static(
        &self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        principal_arn: impl Into<String>,
    ) -> Credential {
        let credential = Credential {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            expiration: None,
            principal_arn: principal_arn.into(),
        };
        self.register(credential.clone());
        credential
    }

    /// Registers a credential exactly as given (e.g. a fixed key with a session token for
    /// the AWS test vectors). Replaces any key with the same id.
    pub fn register(&self, credential: Credential) {
        let entry = Entry { credential, force_expired: false };
        self.lock().insert(entry.credential.access_key_id.clone(), entry);
    }

    /// Issues and stores a new temporary credential for `principal_arn`, valid from `now`
    /// for `lifetime`: an `ASIA` key id with 16 random uppercase alphanumerics, a 40-character
    /// secret and a long session token.
    pub fn issue_temporary(
        &self,
        principal_arn: &str,
        lifetime: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Credential {
        let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX);
        let expiration = now.checked_add_signed(lifetime).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut rng = rand::thread_rng();
        let mut map = self.lock();
        let access_key_id = loop {
            let candidate = format!("ASIA{}", random_string(&mut rng, KEY_ID_CHARS, 16));
            if !map.contains_key(&candidate) {
                break candidate;
            }
        };
        let session_token = format!(
            "{SESSION_TOKEN_PREFIX}{}",
            random_string(&mut rng, SECRET_CHARS, SESSION_TOKEN_LEN - SESSION_TOKEN_PREFIX.len())
        );
        let credential = Credential {
            access_key_id: access_key_id.clone(),
            secret_access_key: random_string(&mut rng, SECRET_CHARS, 40),
            session_token: Some(session_token),
            expiration: Some(expiration),
            principal_arn: principal_arn.to_owned(),
        };
        map.insert(access_key_id, Entry { credential: credential.clone(), force_expired: false });
        credential
    }

    /// Marks a key as expired from now on, whatever its `expiration`. Returns whether the key exists.
    pub fn expire(&self, access_key_id: &str) -> bool {
        match self.lock().get_mut(access_key_id) {
            Some(entry) => {
                entry.force_expired = true;
                true
            }
            None => false,
        }
    }

    /// Forgets a key entirely; later requests with it are "unrecognized". Returns whether it existed.
    pub fn remove(&self, access_key_id: &str) -> bool {
        self.lock().remove(access_key_id).is_some()
    }

    /// The stored credential, expired or not.
    pub fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        self.lock().get(access_key_id).map(|entry| entry.credential.clone())
    }

    /// What the server makes of `access_key_id` at `now`: unknown, expired or valid.
    /// A credential whose `expiration` is at or before `now` is expired.
    pub fn state(&self, access_key_id: &str, now: DateTime<Utc>) -> KeyState {
        match self.lock().get(access_key_id) {
            None => KeyState::Unknown,
            Some(entry) => {
                let lapsed = entry.credential.expiration.is_some_and(|expiration| expiration <= now);
                if entry.force_expired || lapsed {
                    KeyState::Expired(entry.credential.clone())
                } else {
                    KeyState::Valid(entry.credential.clone())
                }
            }
        }
    }

    /// Whether `access_key_id` is known and expired at `now`.
    pub fn is_expired(&self, access_key_id: &str, now: DateTime<Utc>) -> bool {
        matches!(self.state(access_key_id, now), KeyState::Expired(_))
    }

    /// Number of stored keys, expired ones included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere while holding the lock leaves the map itself consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn random_string(rng: &mut impl Rng, charset: &[u8], len: usize) -> String {
    (0..len).map(|_| char::from(charset[rng.gen_range(0..charset.len())])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn temporary_credentials_have_aws_shapes() {
        let registry = CredentialRegistry::new();
        let cred = registry.issue_temporary(
            "arn:aws:sts::123456789012:assumed-role/kubecost/s1",
            std::time::Duration::from_secs(3600),
            now(),
        );
        assert!(cred.access_key_id.starts_with("ASIA"));
        assert_eq!(cred.access_key_id.len(), 20);
        assert!(cred.access_key_id[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(cred.secret_access_key.len(), 40);
        assert!(cred.session_token.as_ref().unwrap().len() >= 300);
        assert_eq!(cred.expiration, Some(now() + chrono::Duration::hours(1)));
        assert_eq!(registry.lookup(&cred.access_key_id), Some(cred.clone()));
        assert_eq!(registry.state(&cred.access_key_id, now()), KeyState::Valid(cred.clone()));
    }

    #[test]
    fn temporary_credentials_expire_at_their_expiration() {
        let registry = CredentialRegistry::new();
        let cred = registry.issue_temporary("arn:x", std::time::Duration::from_secs(60), now());
        assert!(!registry.is_expired(&cred.access_key_id, now() + chrono::Duration::seconds(59)));
        assert!(registry.is_expired(&cred.access_key_id, now() + chrono::Duration::seconds(60)));
    }

    #[test]
    fn expire_overrides_expiration_and_clones_share_state() {
        let registry = CredentialRegistry::new();
        let clone = registry.clone();
        let cred = registry.register_static("AKIAEXAMPLE", "secret", "arn:aws:iam::1:user/u");
        assert!(!clone.is_expired("AKIAEXAMPLE", now()));
        assert!(clone.expire("AKIAEXAMPLE"));
        assert_eq!(registry.state("AKIAEXAMPLE", now()), KeyState::Expired(cred));
        assert!(!registry.expire("AKIAUNKNOWN"));
        assert_eq!(registry.state("AKIAUNKNOWN", now()), KeyState::Unknown);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let registry = CredentialRegistry::new();
        let cred = registry.issue_temporary("arn:x", std::time::Duration::from_secs(60), now());
        let printed = format!("{cred:?} {registry:?}");
        assert!(!printed.contains(&cred.secret_access_key));
        assert!(!printed.contains(cred.session_token.as_deref().unwrap()));
    }
}
