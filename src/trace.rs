//! Printing what queries cost. Every GPU operation records its kernel launches, copies,
//! synchronisations and device memory in its [`ExecContext`](crate::gpu::ExecContext) and emits
//! them through `tracing` when it finishes (target `ember::trace`; each launch and copy also at
//! target `ember::gpu`, level debug/trace). A program that wants them on stderr calls
//! [`init_from_env`].
//!
//! ```sh
//! EMBER_TRACE=1 cargo run --release --example quickstart -- --device sim   # one summary per query
//! EMBER_TRACE=2 cargo run --release --example quickstart -- --device sim   # and every launch and copy
//! ```

/// Installs a stderr subscriber for ember's trace when `EMBER_TRACE` is `1` (query summaries) or
/// `2` (also each launch and copy). Returns whether it did; does nothing (and returns false) if the
/// variable is unset or another subscriber is already installed.
pub fn init_from_env() -> bool {
    let filter = match std::env::var("EMBER_TRACE").as_deref() {
        Ok("1") => "ember::trace=info",
        Ok("2") => "ember::trace=info,ember::gpu=trace",
        _ => return false,
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .try_init()
        .is_ok()
}
