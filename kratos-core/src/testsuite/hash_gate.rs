//! Conformance of the hashing gate: concurrent hashes are bounded.

#[allow(unused_imports)]
use super::*;
/// [`kratos`] with a hashing gate of `permits`.
pub(super) fn gated_kratos(store: Arc<dyn Persister>, permits: usize) -> Kratos {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{SESSION_HOOK}"
    ))
    .expect("config");
    Kratos::builder(super::without_hibp(config))
        .store(store)
        .schema(test_schema())
        .hash_concurrency(permits)
        .build()
        .expect("kratos builds")
}

/// Runs of `k`'s hashing gate that each note how many runs are inside at once: the highest
/// count seen, over `runs` runs started together.
pub(super) async fn highest_concurrency(k: &Kratos, runs: usize) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let inside = Arc::new(AtomicUsize::new(0));
    let highest = Arc::new(AtomicUsize::new(0));
    let tasks = (0..runs).map(|_| {
        let (k, inside, highest) = (k.clone(), inside.clone(), highest.clone());
        async move {
            k.run_hash(move |_| {
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                highest.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(30));
                inside.fetch_sub(1, Ordering::SeqCst);
            })
            .await
            .expect("the run finishes")
        }
    });
    futures::future::join_all(tasks).await;
    highest.load(Ordering::SeqCst)
}

/// The hashing gate lets `hashers.max_concurrent` runs in at a time: one at a time with a gate
/// of one, never more than three (and more than one) with three; a panicking run is an error
/// and gives its turn back. 0 is refused, and the default is the number of cores.
pub async fn hash_gate_bounds_concurrent_hashes(store: Arc<dyn Persister>) {
    let one = gated_kratos(store.clone(), 1);
    assert_eq!(one.hash_concurrency(), 1);
    assert_eq!(highest_concurrency(&one, 8).await, 1, "one run at a time");
    let three = gated_kratos(store.clone(), 3);
    let highest = highest_concurrency(&three, 12).await;
    assert!((2..=3).contains(&highest), "{highest} runs at once");
    let err = one
        .run_hash(|_| -> () { panic!("a hashing run that panics") })
        .await
        .expect_err("a panic is an error");
    assert!(err.to_string().contains("hashing task failed"), "{err}");
    assert_eq!(highest_concurrency(&one, 2).await, 1, "the turn came back");
    let config = Config::from_yaml_str(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  max_concurrent: 0\n",
    )
    .expect("config");
    let err = Kratos::builder(config.clone())
        .schema(test_schema())
        .build()
        .expect_err("0 permits is a configuration error");
    assert!(err.to_string().contains("hashers.max_concurrent"), "{err}");
    let err = Kratos::builder(Config {
        hashers: Default::default(),
        ..config
    })
    .schema(test_schema())
    .hash_concurrency(0)
    .build()
    .expect_err("0 permits is a configuration error");
    assert!(err.to_string().contains("hashers.max_concurrent"), "{err}");
    let default = kratos(store);
    assert_eq!(
        default.hash_concurrency(),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
}

/// Logins (the dummy verification of an unknown identifier too), registrations and the admin
/// API's password verification wait for a turn of the hashing gate: while the only turn is
/// taken, none finishes; once it is given back, each does.
pub async fn flow_hashing_waits_for_the_gate(store: Arc<dyn Persister>) {
    let k = gated_kratos(store, 1);
    let mail = email();
    let RegistrationSubmission::Completed(registered) =
        register(&k, &mail, "gated password 1").await
    else {
        panic!("the registration completes")
    };
    let id = registered.identity.id;
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn({
        let k = k.clone();
        async move {
            k.run_hash(move |_| {
                let _ = started.send(());
                let _ = wait.recv();
            })
            .await
        }
    });
    running.await.expect("the holder has the turn");
    let login = tokio::spawn(try_login_owned(k.clone(), mail.clone(), "gated password 1"));
    let unknown = tokio::spawn(try_login_owned(k.clone(), email(), "gated password 1"));
    let registration = tokio::spawn({
        let k = k.clone();
        async move { register(&k, &email(), "gated password 2").await }
    });
    let admin = tokio::spawn({
        let k = k.clone();
        async move { k.identities().verify_password(id, "gated password 1").await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for (name, finished) in [
        ("login", login.is_finished()),
        ("unknown identifier", unknown.is_finished()),
        ("registration", registration.is_finished()),
        ("admin verification", admin.is_finished()),
    ] {
        assert!(!finished, "the {name} waits for the gate");
    }
    release.send(()).expect("release");
    holder.await.unwrap().expect("the holder finishes");
    assert!(matches!(
        login.await.unwrap(),
        Ok(LoginSubmission::Completed(_))
    ));
    assert!(matches!(
        unknown.await.unwrap(),
        Ok(LoginSubmission::Retry(_))
    ));
    assert!(matches!(
        registration.await.unwrap(),
        RegistrationSubmission::Completed(_)
    ));
    assert!(matches!(
        admin.await.unwrap(),
        Ok(PasswordVerification::Valid { .. })
    ));
}

/// [`try_login`] with owned arguments, for spawned tasks.
pub(super) async fn try_login_owned(
    k: Kratos,
    identifier: String,
    password: &'static str,
) -> Result<LoginSubmission, FlowError> {
    try_login(&k, &identifier, password).await
}
