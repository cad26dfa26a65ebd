//! Operating the running proxy: the admin listener, config reload, expiry warnings, what the
//! logs say about a config, and the log writer. The reloader knows nothing of requests.

pub mod admin;
pub mod announce;
pub mod expiry;
pub mod logging;
pub mod reload;
