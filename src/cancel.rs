//! Cancellation: one process-wide request to stop (Ctrl-C), read by every long loop of
//! `segment` and `change`. A stopped job removes its temporary files and returns
//! [`Error::Interrupted`](crate::Error::Interrupted).

use std::sync::atomic::{AtomicBool, Ordering};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Asks the running job to stop. Returns false when it had been asked already. The
/// request stands until [`clear`] (a library caller that runs several jobs clears it
/// between them).
pub fn request() -> bool {
    !CANCELLED.swap(true, Ordering::SeqCst)
}

/// Withdraws a [`request`].
pub fn clear() {
    CANCELLED.store(false, Ordering::SeqCst);
}

/// Whether a [`request`] stands.
pub fn requested() -> bool {
    CANCELLED.load(Ordering::Relaxed)
}
