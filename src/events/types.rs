//! Every event type's name, in one place: the payment statement writes the
//! names it emits from here, and `GET /admin/events?types=` accepts these and
//! no other.

macro_rules! event_types {
    ($($name:ident = $text:literal,)+) => {
        /// What an event says happened.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum EventType {
            $($name,)+
        }

        impl EventType {
            /// Every type, known to readers even before anything emits it.
            pub(crate) const ALL: &'static [EventType] = &[$(EventType::$name,)+];

            /// The name as events carry it: `seats.sold`.
            pub(crate) const fn name(self) -> &'static str {
                match self {
                    $(EventType::$name => $text,)+
                }
            }
        }
    };
}

event_types! {
    QueueAdmitted = "queue.admitted",
    QueueLeft = "queue.left",
    QueueTimedOut = "queue.timed_out",
    PassIssued = "pass.issued",
    PassEnded = "pass.ended",
    SeatsHeld = "seats.held",
    SeatsReleased = "seats.released",
    SeatsSold = "seats.sold",
    PaymentCompleted = "payment.completed",
    QueueSettingsChanged = "queue.settings_changed",
    AdmissionRateChanged = "admission.rate_changed",
    DependencyBreakerChanged = "dependency.breaker_changed",
    QueueCounts = "queue.counts",
}

impl EventType {
    /// The type named `name`, if it is one.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.name() == name)
    }

    /// Every name, comma-separated, for a refusal that names them.
    pub(crate) fn known() -> String {
        Self::ALL.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::EventType;

    #[test]
    fn every_name_parses_back_to_its_type() {
        assert_eq!(EventType::ALL.len(), 13);
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.name()), Some(*kind));
        }
        assert_eq!(EventType::parse("seats.bought"), None);
    }
}
