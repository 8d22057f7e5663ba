//! The change feed: a listener on a connection of its own that reports the notifications of
//! the change triggers (`kratos_store_sql::changes`) to a subscriber.

use std::time::Duration;

use kratos_core::store::{ChangeFeed, StoreChange};
use kratos_store_sql::changes::{CHANNEL, HEARTBEAT, parse};
use sea_orm::sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::mpsc::Sender;

/// The `application_name` of the listening connections.
pub const APPLICATION_NAME: &str = "kratos-rs change feed";

/// How often a heartbeat notification is sent while listening; a listener that hears
/// nothing (no change, no heartbeat of its own or of another instance) for three of these
/// takes its connection for dead and reconnects.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// How long to wait before connecting again: from the first to the last, doubling.
const RECONNECT_DELAYS: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(5));

/// Starts a listener for `pool`'s database on a connection of its own (not one of `pool`'s)
/// and answers the feed it reports to. It ends when the feed is dropped or `pool` is closed.
pub(crate) fn open(pool: &PgPool) -> ChangeFeed {
    let (sender, feed) = ChangeFeed::channel(1024);
    let options = (*pool.connect_options())
        .clone()
        .application_name(APPLICATION_NAME);
    let listen_pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options);
    tokio::spawn(listen(listen_pool, pool.clone(), sender));
    feed
}

async fn listen(listen_pool: PgPool, pool: PgPool, sender: Sender<StoreChange>) {
    let mut delay = RECONNECT_DELAYS.0;
    loop {
        if sender.is_closed() || pool.is_closed() {
            return;
        }
        match subscribe(&listen_pool).await {
            Ok(listener) => {
                delay = RECONNECT_DELAYS.0;
                if !report(listener, &pool, &sender).await {
                    return;
                }
                tracing::warn!("change feed: the listening connection was lost; reconnecting");
                if sender.send(StoreChange::Interrupted).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "change feed: cannot listen; retrying");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RECONNECT_DELAYS.1);
    }
}

async fn subscribe(listen_pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(listen_pool).await?;
    // A lost connection ends `report`, which connects again itself.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Reports what `listener` hears until its connection is lost or goes silent (false when
/// the subscriber or the pool is gone: stop for good).
async fn report(mut listener: PgListener, pool: &PgPool, sender: &Sender<StoreChange>) -> bool {
    if sender.send(StoreChange::Listening).await.is_err() {
        return false;
    }
    let heartbeat = tokio::spawn(heartbeat(pool.clone()));
    let alive = loop {
        match tokio::time::timeout(3 * HEARTBEAT_INTERVAL, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                if let Some(change) = parse(notification.payload())
                    && sender.send(change).await.is_err()
                {
                    break false;
                }
            }
            // Lost (`None`), failed, or silent for too long.
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break !pool.is_closed(),
        }
    };
    heartbeat.abort();
    alive
}

/// Sends a heartbeat notification every [`HEARTBEAT_INTERVAL`] through `pool`.
async fn heartbeat(pool: PgPool) {
    let mut interval = tokio::time::interval(HEARTBEAT_INTERVAL);
    loop {
        interval.tick().await;
        if let Err(e) = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(HEARTBEAT)
            .execute(&pool)
            .await
        {
            tracing::debug!(error = %e, "change feed: heartbeat not sent");
        }
    }
}
