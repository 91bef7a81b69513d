//! The guards: extractors that decide whether a request may reach its
//! handler, used the same way by both API surfaces. Who the caller is
//! (`identity.rs`), which client address it comes from (`client_ip.rs`), and
//! whether its queue token lets it book or pay (`gate.rs`), or a join may
//! take a place (`join.rs`), and whether its client is within its rate
//! (`limits.rs`). Each rejection is this API's JSON error.

pub(crate) mod client_ip;
pub(crate) mod gate;
pub(crate) mod identity;
pub(crate) mod join;
pub(crate) mod limits;
