//! Cancellation: one process-wide request to stop (Ctrl-C, or the SIGTERM / SIGHUP that
//! `timeout`, schedulers and closing terminals send), read by every long loop of
//! `segment` and `change`. A stopped job removes its temporary files and returns
//! [`Error::Interrupted`](crate::Error::Interrupted); the binary then exits with
//! 128 + the signal's number (130, 143, 129), as shells expect.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static CANCELLED: AtomicBool = AtomicBool::new(false);
/// The signal that asked (0: a library caller, or none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// SIGINT's number: the exit status of an interrupted run is 128 + this by default.
pub const SIGINT: i32 = 2;

/// Asks the running job to stop. Returns false when it had been asked already. The
/// request stands until [`clear`] (a library caller that runs several jobs clears it
/// between them).
pub fn request() -> bool {
    request_by(0)
}

/// [`request`], recording the signal that asked (its number).
pub fn request_by(signal: i32) -> bool {
    let first = !CANCELLED.swap(true, Ordering::SeqCst);
    if first {
        SIGNAL.store(signal, Ordering::SeqCst);
    }
    first
}

/// Withdraws a [`request`].
pub fn clear() {
    CANCELLED.store(false, Ordering::SeqCst);
    SIGNAL.store(0, Ordering::SeqCst);
}

/// Whether a [`request`] stands.
pub fn requested() -> bool {
    CANCELLED.load(Ordering::Relaxed)
}

/// The signal that asked for the stop (SIGINT when none was recorded).
pub fn signal() -> i32 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => SIGINT,
        s => s,
    }
}
