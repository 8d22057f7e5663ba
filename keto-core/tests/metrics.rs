//! `keto_check_duration_seconds`: every check records its latency, read through a local
//! debugging recorder.

use std::sync::Arc;

use keto_core::{CheckOptions, Config, Keto, MemoryStore, RelationTuple, Schema};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use uuid::Uuid;

const OPL: &str = r#"
class User implements Namespace {}
class Doc implements Namespace { related: { viewers: User[] } }
"#;

#[tokio::test]
async fn every_check_records_its_latency() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let keto = Keto::new(
        Schema::from_opl(OPL).unwrap(),
        Arc::new(MemoryStore::new()),
        Config::default(),
    )
    .unwrap();
    let nid = Uuid::new_v4();
    let stored: RelationTuple = "Doc:readme#viewers@User:ada".parse().unwrap();
    keto.create(nid, stored.clone()).await.unwrap();
    let other: RelationTuple = "Doc:readme#viewers@User:bob".parse().unwrap();
    let opts = CheckOptions::default();
    assert!(keto.check(nid, &stored, &opts).await.unwrap().allowed());
    assert!(!keto.check(nid, &other, &opts).await.unwrap().allowed());
    // A check refused before it ran (unknown namespace) is measured too.
    let unknown: RelationTuple = "Nope:x#viewers@User:ada".parse().unwrap();
    assert!(keto.check(nid, &unknown, &opts).await.is_err());

    let recorded: Vec<f64> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| key.key().name() == keto_core::CHECK_DURATION)
        .flat_map(|(_, _, _, value)| match value {
            DebugValue::Histogram(values) => values.into_iter().map(|v| v.into_inner()),
            other => panic!("not a histogram: {other:?}"),
        })
        .collect();
    assert_eq!(recorded.len(), 3, "{recorded:?}");
    assert!(
        recorded.iter().all(|s| (0.0..10.0).contains(s)),
        "{recorded:?}"
    );
}
