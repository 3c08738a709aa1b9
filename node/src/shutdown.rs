//! Graceful shutdown: one flag every listener and connection watches. Listeners stop
//! accepting, idle connections close, busy ones finish their request and then close.

use tokio::sync::watch;

/// The sending side, held by the node.
#[derive(Clone, Debug)]
pub(crate) struct Trigger(watch::Sender<bool>);

/// What listeners and connections watch.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

pub(crate) fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown has begun (at once if it already has).
    pub async fn wait(&mut self) {
        // An error means the trigger is gone, which only happens when the node is dropped:
        // that is a shutdown too.
        let _ = self.0.wait_for(|v| *v).await;
    }
}
