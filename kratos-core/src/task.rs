//! A background task that stops when told to or when its handle is dropped.

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A spawned task and the sender that tells it to stop. Dropping it tells the task to stop
/// without waiting; [`Stoppable::stop`] tells it and waits. The task itself decides where it
/// may stop (it selects on the receiver).
#[derive(Debug)]
pub(crate) struct Stoppable {
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Stoppable {
    /// Wraps a task spawned with the receiving end of `stop`.
    pub(crate) fn new(stop: oneshot::Sender<()>, handle: JoinHandle<()>) -> Self {
        Self {
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Tells the task to stop and waits for it.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for Stoppable {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
