//! The guards: extractors that decide whether a request may reach its
//! handler, used the same way by both API surfaces. Who the caller is
//! (`identity.rs`), which client address it comes from (`client_ip.rs`), and
//! whether its queue token lets it book or pay (`gate.rs`), or a join may
//! take a place (`join.rs`), and whether its client is within its rate
//! (`limits.rs`); the joins turned away at the door are counted by reason
//! (`door.rs`). Each rejection is this API's JSON error.

use super::error::{Error, ErrorCode, Result};
use super::state::AppState;

pub(crate) mod client_ip;
pub(crate) mod door;
pub(crate) mod gate;
pub(crate) mod identity;
pub(crate) mod join;
pub(crate) mod limits;

/// The queue named in the path, provided there is one: the default queue or a concert's.
pub(crate) fn known_queue(state: &AppState, name: &str) -> Result<String> {
    let known = state.catalog.queue_names(&state.config.queue.default_queue);
    if known.iter().any(|queue| queue == name) {
        Ok(name.to_string())
    } else {
        Err(Error::Refused {
            code: ErrorCode::QueueNotFound,
            message: format!("no queue is named `{name}`: the default queue or a concert code"),
        })
    }
}
