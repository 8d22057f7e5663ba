//! The registry: one cheap-to-clone handle that carries configuration, schemas, storage,
//! hasher, cipher and clock, bound to one tenant.

use std::sync::Arc;

use base64::Engine;
use uuid::Uuid;

use crate::cipher::{Cipher, CipherError};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, Secret};
use crate::identity::{IdentityAdmin, IdentitySchema, SchemaError, SchemaRegistry};
use crate::store::{MemoryStore, Persister};

/// Why a [`Kratos`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An identity schema could not be loaded.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The cipher could not be set up.
    #[error("cipher: {0}")]
    Cipher(#[from] CipherError),
    /// The hasher could not be set up.
    #[error("hashers: {0}")]
    Hasher(#[from] kratos_hash::HashError),
    /// The HTTP client of web hooks could not be set up.
    #[error("web hooks: {0}")]
    WebHook(String),
    /// The password policy could not be set up.
    #[error("selfservice.methods.password.config: {0}")]
    PasswordPolicy(#[from] crate::strategy::password::BreachCheckError),
    /// The courier (templates or channel) could not be set up.
    #[error("courier: {0}")]
    Courier(String),
    /// The options of [`KratosBuilder::whoami_cache`] are out of range.
    #[error("whoami cache: {0}")]
    WhoamiCache(String),
    /// `selfservice.methods.oidc.config` names a provider that cannot be set up (an
    /// unknown type, a missing issuer, a mapper that does not load).
    #[error("{0}")]
    Oidc(String),
}

/// A password hash or verification run by [`Kratos::run_hash`] failed to finish (it
/// panicked). The message says nothing of the password.
#[derive(Debug, thiserror::Error)]
#[error("the password hashing task failed: {0}")]
pub struct HashTaskError(String);

/// The handle to everything. Cheap to clone; bound to one tenant (network id).
#[derive(Clone, Debug)]
pub struct Kratos {
    inner: Arc<Inner>,
    nid: Uuid,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    schemas: SchemaRegistry,
    store: Arc<dyn Persister>,
    hasher: kratos_hash::Hasher,
    hash_gate: Arc<tokio::sync::Semaphore>,
    hash_concurrency: usize,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    public_base_url: String,
    password_policy: crate::strategy::password::PasswordPolicy,
    flow_hooks: crate::hook::FlowHooks,
    #[cfg(feature = "web-hook")]
    web_hooks: crate::hook::WebHookClient,
    courier: crate::courier::CourierParts,
    methods: crate::strategy::Methods,
    whoami_cache: Option<Arc<crate::session::CacheState>>,
    #[cfg(feature = "jwt")]
    tokenizer: crate::session::tokenizer::Tokenizer,
}

impl Kratos {
    /// The in-process hooks.
    pub(crate) fn flow_hooks(&self) -> &[Arc<dyn crate::hook::FlowHook>] {
        &self.inner.flow_hooks.0
    }

    /// The HTTP client of web hooks.
    #[cfg(feature = "web-hook")]
    pub(crate) fn web_hooks(&self) -> &crate::hook::WebHookClient {
        &self.inner.web_hooks
    }

    /// The courier's templates.
    pub(crate) fn templates(&self) -> &crate::courier::Templates {
        &self.inner.courier.templates
    }

    /// The courier's channel, if one is configured.
    pub(crate) fn courier_channel(&self) -> Option<&Arc<dyn crate::courier::Channel>> {
        self.inner.courier.channel.as_ref()
    }

    /// The courier's text message channel, if one is configured.
    pub(crate) fn courier_sms_channel(&self) -> Option<&Arc<dyn crate::courier::Channel>> {
        self.inner.courier.sms_channel.as_ref()
    }

    /// The network id of the default tenant.
    pub const DEFAULT_NID: Uuid = Uuid::nil();

    /// Starts building a registry from a configuration.
    pub fn builder(config: Config) -> KratosBuilder {
        KratosBuilder {
            config,
            store: None,
            schemas: Vec::new(),
            clock: None,
            breach_checker: None,
            flow_hooks: crate::hook::FlowHooks::default(),
            courier_channel: None,
            courier_sms_channel: None,
            courier_templates: Vec::new(),
            courier_sms_templates: Vec::new(),
            hash_concurrency: None,
            extra_methods: crate::strategy::Methods::empty(),
            whoami_cache: None,
        }
    }

    /// The same registry bound to another tenant. Every store call of the returned handle is
    /// scoped to `nid`.
    pub fn tenant(&self, nid: Uuid) -> Kratos {
        Kratos {
            inner: self.inner.clone(),
            nid,
        }
    }

    /// The whoami cache, when [`KratosBuilder::whoami_cache`] turned it on. Its change feed
    /// (if the store has one) is subscribed to here when it was not yet.
    pub(crate) fn whoami_cache(&self) -> Option<&Arc<crate::session::CacheState>> {
        let cache = self.inner.whoami_cache.as_ref()?;
        cache.start(&self.inner.store);
        Some(cache)
    }

    /// The session tokenizer's templates.
    #[cfg(feature = "jwt")]
    pub(crate) fn tokenizer(&self) -> &crate::session::tokenizer::Tokenizer {
        &self.inner.tokenizer
    }

    /// The whoami cache's counters; `None` when the cache is off.
    pub fn whoami_cache_stats(&self) -> Option<crate::session::WhoamiCacheStats> {
        self.whoami_cache().map(|c| c.stats())
    }

    /// The tenant this handle is bound to.
    pub fn nid(&self) -> Uuid {
        self.nid
    }

    /// The admin API for identities.
    pub fn identities(&self) -> IdentityAdmin<'_> {
        IdentityAdmin::new(self)
    }

    /// Sessions.
    pub fn sessions(&self) -> crate::session::SessionManager<'_> {
        crate::session::SessionManager::new(self)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The identity schemas.
    pub fn schemas(&self) -> &SchemaRegistry {
        &self.inner.schemas
    }

    /// The storage.
    pub fn store(&self) -> &Arc<dyn Persister> {
        &self.inner.store
    }

    /// The password hasher. Flows and the admin API run it through
    /// [`Kratos::run_hash`]; code that hashes on its own should too.
    pub fn hasher(&self) -> &kratos_hash::Hasher {
        &self.inner.hasher
    }

    /// Runs `work` (a password hash or verification with the configured hasher) on a blocking
    /// thread once the hashing gate lets it in: at most `hashers.max_concurrent` (default: the
    /// number of cores) such runs at a time across every tenant of this registry; the others
    /// wait, without holding a thread, for a turn. The turn is held by the blocking work
    /// itself, so a caller that stops waiting (a dropped request) does not free it before the
    /// work ends.
    ///
    /// # Errors
    ///
    /// [`HashTaskError`] when the work panicked.
    pub async fn run_hash<T, F>(&self, work: F) -> Result<T, HashTaskError>
    where
        T: Send + 'static,
        F: FnOnce(&kratos_hash::Hasher) -> T + Send + 'static,
    {
        let permit = self
            .inner
            .hash_gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashTaskError("the hashing gate is closed".into()))?;
        let hasher = self.inner.hasher.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = permit;
            work(&hasher)
        })
        .await
        .map_err(|e| HashTaskError(e.to_string()))
    }

    /// How many hashes may run at once ([`Kratos::run_hash`]).
    pub fn hash_concurrency(&self) -> usize {
        self.inner.hash_concurrency
    }

    /// The password policy (`selfservice.methods.password.config`).
    pub fn password_policy(&self) -> &crate::strategy::password::PasswordPolicy {
        &self.inner.password_policy
    }

    /// The sign-in methods, per flow.
    pub fn methods(&self) -> &crate::strategy::Methods {
        &self.inner.methods
    }

    /// The highest level `identity`'s credentials allow through this registry's methods:
    /// aal2 when it has a second factor ([`crate::session::available_aal`]) whose login
    /// method is registered (a TOTP credential does not count while `totp` is off, so such
    /// an identity is not asked for a step-up no flow can give).
    pub fn available_aal(&self, identity: &crate::identity::Identity) -> crate::session::Aal {
        use crate::identity::CredentialType;
        use crate::session::Aal;
        use crate::strategy::Method;
        // With `selfservice.methods.code.mfa_enabled`, an address to send codes to is a
        // second factor, as Kratos counts it.
        if self.config().selfservice.methods.code.mfa()
            && !crate::strategy::code::login::mfa_addresses(identity).is_empty()
        {
            return Aal::Aal2;
        }
        if crate::session::available_aal(identity) < Aal::Aal2 {
            return Aal::Aal1;
        }
        let usable = identity.credentials.keys().any(|t| {
            let method = match t {
                CredentialType::Totp => Method::Totp,
                CredentialType::LookupSecret => Method::LookupSecret,
                CredentialType::Webauthn => Method::Webauthn,
                _ => return false,
            };
            self.methods().has_login(&method)
        });
        if usable { Aal::Aal2 } else { Aal::Aal1 }
    }

    /// The cipher for data at rest.
    pub fn cipher(&self) -> &Cipher {
        &self.inner.cipher
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The URL under which a schema is served: `<public>/schemas/<base64url(id)>`.
    pub fn schema_url(&self, schema_id: &str) -> String {
        format!(
            "{}/schemas/{}",
            self.inner.public_base_url,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(schema_id)
        )
    }
}

/// Builds a [`Kratos`].
#[must_use]
pub struct KratosBuilder {
    config: Config,
    store: Option<Arc<dyn Persister>>,
    schemas: Vec<IdentitySchema>,
    clock: Option<Arc<dyn Clock>>,
    breach_checker: Option<Arc<dyn crate::strategy::password::BreachChecker>>,
    flow_hooks: crate::hook::FlowHooks,
    courier_channel: Option<Arc<dyn crate::courier::Channel>>,
    courier_sms_channel: Option<Arc<dyn crate::courier::Channel>>,
    courier_templates: Vec<(crate::courier::TemplateType, crate::courier::EmailTemplate)>,
    courier_sms_templates: Vec<(crate::courier::TemplateType, String)>,
    hash_concurrency: Option<usize>,
    extra_methods: crate::strategy::Methods,
    whoami_cache: Option<crate::session::WhoamiCache>,
}

impl KratosBuilder {
    /// Adds a login method of the host app's (or replaces Kratos's of the same name). See
    /// [`strategy`](crate::strategy).
    pub fn login_method(mut self, strategy: Arc<dyn crate::strategy::LoginStrategy>) -> Self {
        self.extra_methods.add_login(strategy);
        self
    }

    /// Adds a registration method of the host app's (or replaces Kratos's of the same
    /// name).
    pub fn registration_method(
        mut self,
        strategy: Arc<dyn crate::strategy::RegistrationStrategy>,
    ) -> Self {
        self.extra_methods.add_registration(strategy);
        self
    }

    /// Adds a settings method of the host app's (or replaces Kratos's of the same name).
    pub fn settings_method(mut self, strategy: Arc<dyn crate::strategy::SettingsStrategy>) -> Self {
        self.extra_methods.add_settings(strategy);
        self
    }

    /// Adds a recovery method of the host app's (or replaces Kratos's of the same name:
    /// `code`, `link`). Flows offer the one `selfservice.flows.recovery.use` names.
    pub fn recovery_method(
        mut self,
        strategy: Arc<dyn crate::strategy::recovery::RecoveryStrategy>,
    ) -> Self {
        self.extra_methods.add_recovery(strategy);
        self
    }

    /// Adds a verification method of the host app's (or replaces Kratos's of the same
    /// name). Flows offer the one `selfservice.flows.verification.use` names.
    pub fn verification_method(
        mut self,
        strategy: Arc<dyn crate::strategy::verification::VerificationStrategy>,
    ) -> Self {
        self.extra_methods.add_verification(strategy);
        self
    }

    /// The channel the courier delivers through (default: the one configured under
    /// `courier`, SMTP or HTTP with their features; none when nothing is configured, and
    /// then messages stay queued). A [`MemoryOutbox`](crate::courier::MemoryOutbox) keeps
    /// messages in memory.
    pub fn courier_channel(mut self, channel: Arc<dyn crate::courier::Channel>) -> Self {
        self.courier_channel = Some(channel);
        self
    }

    /// The channel the courier delivers text messages (SMS) through, over the `sms` channel
    /// of `courier.channels` (an HTTP request per message with the `courier-http` feature).
    /// Without either, text messages stay queued: workers claim only the types they have a
    /// channel for. A [`MemoryOutbox`](crate::courier::MemoryOutbox) keeps them in memory.
    pub fn courier_sms_channel(mut self, channel: Arc<dyn crate::courier::Channel>) -> Self {
        self.courier_sms_channel = Some(channel);
        self
    }

    /// Replaces a courier template (over the built-in one and `courier.templates`).
    pub fn courier_template(
        mut self,
        template: crate::courier::TemplateType,
        email: crate::courier::EmailTemplate,
    ) -> Self {
        self.courier_templates.push((template, email));
        self
    }

    /// Replaces a courier template's text message (SMS) body, a Jinja template that sees
    /// the same data as the email (over the built-in one and `courier.templates`).
    pub fn courier_sms_template(
        mut self,
        template: crate::courier::TemplateType,
        text: impl Into<String>,
    ) -> Self {
        self.courier_sms_templates.push((template, text.into()));
        self
    }

    /// The storage backend (default: a fresh [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Persister>) -> Self {
        self.store = Some(store);
        self
    }

    /// Adds an identity schema besides those in `identity.schemas`.
    pub fn schema(mut self, schema: IdentitySchema) -> Self {
        self.schemas.push(schema);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The breached-password checker (default: the one configured, Have I Been Pwned with the
    /// `hibp` feature). An [`OfflineBreachList`](crate::strategy::password::OfflineBreachList)
    /// works offline. A checker set here replaces the configured one, so
    /// `haveibeenpwned_enabled` needs no `hibp` feature then.
    pub fn breach_checker(
        mut self,
        checker: Arc<dyn crate::strategy::password::BreachChecker>,
    ) -> Self {
        self.breach_checker = Some(checker);
        self
    }

    /// Adds an in-process hook; hooks run in the order they were added, after the configured
    /// ones. See [`hook`](crate::hook).
    pub fn hook(mut self, hook: Arc<dyn crate::hook::FlowHook>) -> Self {
        self.flow_hooks.0.push(hook);
        self
    }

    /// How many password hashes and verifications run at once (over `hashers.max_concurrent`
    /// and its default, the number of cores); see [`Kratos::run_hash`]. 0 is a configuration
    /// error when the registry is built.
    pub fn hash_concurrency(mut self, permits: usize) -> Self {
        self.hash_concurrency = Some(permits);
        self
    }

    /// Turns the in-process whoami cache on (it is off by default): `whoami` answers a token
    /// seen within `cache.ttl` from memory, and every write of a session or an identity
    /// evicts what it changes. See [`WhoamiCache`](crate::session::WhoamiCache) for what
    /// is kept and how stale an answer may be on each backend. Not a configuration key, as
    /// Kratos has none for it.
    ///
    /// With the cache on, [`Kratos::store`] is the store wrapped so that writes through it
    /// evict. On PostgreSQL the registry listens for other processes' writes on a connection
    /// of its own, opened when it is built within a Tokio runtime (otherwise at the first
    /// whoami).
    ///
    /// [`build`](Self::build) fails with [`BuildError::WhoamiCache`] when `max_entries` is
    /// 0 or `ttl` is zero or longer than [`WhoamiCache::MAX_TTL`](crate::session::WhoamiCache::MAX_TTL).
    pub fn whoami_cache(mut self, cache: crate::session::WhoamiCache) -> Self {
        self.whoami_cache = Some(cache);
        self
    }

    /// Checks everything and builds the registry.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming what is wrong: an invalid configuration or schema, secrets or
    /// cipher, courier or hook settings, whoami cache options, a tokenizer template whose key
    /// set cannot sign or whose claims mapper does not load (or any template without the
    /// `jwt` feature), or
    /// [`BuildError::PasswordPolicy`] with
    /// [`BreachCheckError::HibpFeatureDisabled`](crate::strategy::password::BreachCheckError::HibpFeatureDisabled)
    /// when `selfservice.methods.password.config.haveibeenpwned_enabled` is `true` (Kratos's
    /// default), kratos-core was built without its `hibp` feature and no
    /// [`breach_checker`](Self::breach_checker) was set.
    pub fn build(self) -> Result<Kratos, BuildError> {
        let mut config = self.config;
        config.validate()?;
        crate::hook::validate(&config)?;
        if config.dev && config.secrets.default.is_empty() && config.secrets.cookie.is_empty() {
            let random: [u8; 32] = rand::random();
            config.secrets.default = vec![Secret::new(hex::encode(random))];
            tracing::warn!(
                "dev mode: no secrets configured, using a random secret; sessions and cookies \
                 will not survive a restart"
            );
        }
        let mut schemas = SchemaRegistry::from_config(&config.identity)?;
        for s in self.schemas {
            schemas.add(s)?;
        }
        schemas.check()?;
        let hasher = kratos_hash::Hasher::new(config.hashers.algorithm()?)?;
        let hash_concurrency = match self.hash_concurrency.or(config.hashers.max_concurrent) {
            Some(0) => {
                return Err(crate::config::ConfigError::invalid(
                    "hashers.max_concurrent",
                    "must be at least 1",
                )
                .into());
            }
            Some(n) => n.min(tokio::sync::Semaphore::MAX_PERMITS),
            None => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        };
        let cipher = Cipher::new(config.ciphers.algorithm, &config.secrets.cipher)?;
        let public_base_url = config.serve.public_base_url();
        // A checker set on the builder replaces the configured one; otherwise a configured
        // Have I Been Pwned check without the `hibp` feature is an error, never skipped.
        let password_config = &config.selfservice.methods.password.config;
        let password_policy = match self.breach_checker {
            Some(checker) => password_config.policy_with_checker(Some(checker)),
            None => password_config.build_policy()?,
        };
        let templates = crate::courier::Templates::from_config_with_sms(
            &config.courier.templates,
            self.courier_templates,
            self.courier_sms_templates,
        )
        .map_err(|e| BuildError::Courier(e.to_string()))?;
        let channel = match self.courier_channel {
            Some(c) => Some(c),
            None => {
                crate::courier::channel_from_config(&config.courier).map_err(BuildError::Courier)?
            }
        };
        let sms_channel = match self.courier_sms_channel {
            Some(c) => Some(c),
            None => crate::courier::sms_channel_from_config(&config.courier)
                .map_err(BuildError::Courier)?,
        };
        if sms_channel.is_none() && schemas.iter().any(|s| s.uses_sms()) {
            // Kept queued, not lost: an `sms` channel added later sends them.
            tracing::warn!(
                "an identity schema reaches addresses by text message, but no `sms` channel is configured in courier.channels: text messages will stay queued"
            );
        }
        let mut methods = crate::strategy::Methods::from_config(&config);
        #[cfg(feature = "oidc")]
        if config.selfservice.methods.oidc.enabled {
            let oidc = Arc::new(
                crate::strategy::oidc::OidcMethod::from_config(&config)
                    .map_err(BuildError::Oidc)?,
            );
            methods.add_login(oidc.clone());
            methods.add_registration(oidc.clone());
            methods.add_settings(oidc);
        }
        for s in self.extra_methods.login_strategies() {
            methods.add_login(s.clone());
        }
        for s in self.extra_methods.registration_strategies() {
            methods.add_registration(s.clone());
        }
        for s in self.extra_methods.settings_strategies() {
            methods.add_settings(s.clone());
        }
        for s in self.extra_methods.recovery_strategies() {
            methods.add_recovery(s.clone());
        }
        for s in self.extra_methods.verification_strategies() {
            methods.add_verification(s.clone());
        }
        methods.check_available(&config)?;
        #[cfg(feature = "web-hook")]
        let web_hook_bodies = crate::hook::web_hook_bodies(&config);
        #[cfg(feature = "jwt")]
        let tokenizer =
            crate::session::tokenizer::Tokenizer::from_config(&config.session.whoami.tokenizer)?;
        #[cfg(not(feature = "jwt"))]
        if !config.session.whoami.tokenizer.templates.is_empty() {
            return Err(crate::config::ConfigError::invalid(
                "session.whoami.tokenizer.templates",
                "session tokenization needs kratos-core's `jwt` feature",
            )
            .into());
        }
        // Every call in a span, its latency measured (`store::InstrumentedStore`).
        let mut store: Arc<dyn Persister> = Arc::new(crate::store::InstrumentedStore {
            inner: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
        });
        let whoami_cache = match self.whoami_cache {
            Some(options) => {
                options.check().map_err(BuildError::WhoamiCache)?;
                let cache = crate::session::CacheState::new(options);
                store = Arc::new(crate::session::EvictingStore {
                    inner: store,
                    cache: cache.clone(),
                });
                if tokio::runtime::Handle::try_current().is_ok() {
                    cache.start(&store);
                }
                Some(cache)
            }
            None => None,
        };
        Ok(Kratos {
            inner: Arc::new(Inner {
                methods,
                whoami_cache,
                store,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                config,
                schemas,
                hasher,
                hash_gate: Arc::new(tokio::sync::Semaphore::new(hash_concurrency)),
                hash_concurrency,
                cipher,
                public_base_url,
                password_policy,
                flow_hooks: self.flow_hooks,
                #[cfg(feature = "web-hook")]
                web_hooks: crate::hook::WebHookClient::new(&web_hook_bodies)?,
                courier: crate::courier::CourierParts {
                    templates,
                    channel,
                    sms_channel,
                },
                #[cfg(feature = "jwt")]
                tokenizer,
            }),
            nid: Kratos::DEFAULT_NID,
        })
    }
}
