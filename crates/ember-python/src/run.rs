//! Running ember work from Python: without the GIL, interruptible by Ctrl-C.
use crate::error::{raise, to_py};
use pyo3::prelude::*;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

/// How often a waiting call looks for a pending signal (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `work` on a pool thread while this thread waits without the GIL, checking for signals
/// every [`SIGNAL_POLL`]: other Python threads run meanwhile, and Ctrl-C raises
/// `KeyboardInterrupt` at once. An interrupted query cannot be stopped mid-kernel; its worker
/// finishes in the background and its result is dropped. A panic in `work` (a bug in ember)
/// becomes `ember.exceptions.ComputeError` instead of taking the interpreter down.
pub fn run<T: Send + 'static>(py: Python<'_>, work: impl FnOnce() -> ember::Result<T> + Send + 'static) -> PyResult<T> {
    let (tx, rx) = channel();
    // On rayon's pool (threads already running: no spawn per call, which costs more than a small
    // query); nested parallel work inside `work` runs on the same pool.
    rayon::spawn(move || {
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        // The receiver is gone only when the caller was interrupted: nobody wants the result.
        let _ = tx.send(out);
    });
    // A `Receiver` is not `Sync`; the mutex lets the GIL-free closure borrow it (never contended).
    let rx = std::sync::Mutex::new(rx);
    loop {
        let waited = py.detach(|| match rx.lock() {
            Ok(r) => r.recv_timeout(SIGNAL_POLL),
            Err(_) => Err(RecvTimeoutError::Disconnected),
        });
        match waited {
            Ok(Ok(result)) => return result.map_err(to_py),
            Ok(Err(panic)) => {
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                return Err(raise("ComputeError", format!("internal error (a bug in ember): {what}")));
            }
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(raise("ComputeError", "internal error (a bug in ember): the worker thread died".into()))
            }
        }
    }
}
