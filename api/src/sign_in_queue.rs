//! Requests for sign-in links, answered before anything is looked up.
//!
//! `requestSignIn` must not tell anyone whether an address belongs to the
//! programme, by its words or by its timing: when a known address meant a
//! user lookup, a transaction and an email row while an unknown one meant a
//! lookup alone, known addresses answered about 0.8 ms slower at the median.
//! So the request only checks the address's form and hands it to this queue;
//! the answer leaves at once, the same path for every address, and a task of
//! this process does the rest (`auth::send_sign_in_link_within`, with the
//! per-address allowance).
//!
//! The queue is bounded (a full queue makes the request wait, known address
//! or not) and in memory: a link asked for in the instant before the process
//! stops may not be sent, and the person asks again.

use std::sync::Arc;

use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{error, info};

use crate::auth::{SignInLinkOutcome, send_sign_in_link_within};

/// Addresses waiting to be looked up; beyond this a request waits its turn.
const QUEUE_LENGTH: usize = 256;
/// Addresses looked up at once.
const AT_ONCE: usize = 8;

/// Hands addresses to the task that sends their links.
#[derive(Clone, Debug)]
pub struct SignInQueue {
    sender: mpsc::Sender<String>,
}

impl SignInQueue {
    /// Starts the task; it stops when `shutdown` is cancelled, after finishing
    /// what it has begun.
    pub fn start(
        db: sea_orm::DatabaseConnection,
        public_url: String,
        allowance: u32,
        outbox_signal: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> Self {
        let (sender, mut receiver) = mpsc::channel::<String>(QUEUE_LENGTH);
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(AT_ONCE));
            let running = TaskTracker::new();
            loop {
                let email = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    email = receiver.recv() => match email {
                        Some(email) => email,
                        None => break,
                    },
                };
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let (db, public_url, outbox_signal) =
                    (db.clone(), public_url.clone(), outbox_signal.clone());
                running.spawn(async move {
                    let _slot = slot;
                    match send_sign_in_link_within(&db, &public_url, &email, allowance).await {
                        Ok(SignInLinkOutcome::Sent) => outbox_signal.notify_one(),
                        Ok(SignInLinkOutcome::OverAllowance) => {
                            info!("sign-in link not sent: the address had its allowance");
                        }
                        Ok(SignInLinkOutcome::UnknownAddress) => {}
                        Err(failure) => {
                            error!(detail = ?failure, "sign-in link could not be written");
                        }
                    }
                });
            }
            running.close();
            running.wait().await;
        });
        Self { sender }
    }

    /// Queues a (normalised) address; waits only while the queue is full.
    pub async fn submit(&self, email: String) {
        if self.sender.send(email).await.is_err() {
            error!("sign-in link not queued: the server is stopping");
        }
    }
}
