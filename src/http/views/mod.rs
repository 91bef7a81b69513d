//! Response bodies shared by both API surfaces: the seeds' field names and
//! Korean status strings exactly, plus a few extra fields. Each surface
//! translates the domain's answers through these; neither defines its own.

pub(crate) mod audit;
mod booking;
pub(crate) mod operations;
mod queue;

pub(crate) use booking::{BalanceView, HoldView, PaymentView, SchedulesView, SeatsView};
pub(crate) use queue::TicketView;
