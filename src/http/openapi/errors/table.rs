//! Every documented operation, by `operationId`, with the sources of the
//! errors it can answer (`sources.rs`) and the codes of its own domain calls.

use super::sources::*;
use crate::http::error::ErrorCode as C;

/// Every documented operation, by `operationId`, with what it can refuse.
pub(super) const ERRORS: &[(&str, &[Codes])] = &[
    // Seed 000.
    (
        "joinWaitingQueue",
        &[
            USER_ID,
            IDENTITY,
            PRESENTED_TOKEN,
            INVITATION,
            CHALLENGE,
            RATE_LIMITED,
            STORES,
            &[C::UserNotFound, C::QueueClosed],
        ],
    ),
    (
        "pollWaitingQueue",
        &[
            USER_ID,
            IDENTITY,
            PRESENTED_TOKEN,
            RATE_LIMITED,
            STORES,
            &[C::UserNotFound, C::TokenNotFound],
        ],
    ),
    ("listSchedules", &[GATE, PATH, STORES, &[C::ConcertNotFound]]),
    (
        "listSeats",
        &[GATE, PATH, STORES, &[C::ConcertNotFound, C::ScheduleNotFound]],
    ),
    (
        "holdSeats",
        &[
            GATE,
            IDENTITY,
            PATH,
            JSON_BODY,
            STORES,
            HOLD,
            &[C::ConcertNotFound, C::NoSeatsRequested],
        ],
    ),
    (
        "paySchedule",
        &[
            GATE,
            IDENTITY,
            IDEMPOTENCY_KEY,
            PATH,
            JSON_BODY,
            MONEY,
            PAYMENT,
            &[C::ScheduleMismatch, C::ConcertNotFound, C::ScheduleNotFound],
        ],
    ),
    (
        "chargeBalance",
        &[
            USER_ID,
            IDENTITY,
            IDEMPOTENCY_KEY,
            JSON_BODY,
            CHARGE_BODY,
            MONEY,
            &[C::UserNotFound, C::BalanceLimitExceeded],
        ],
    ),
    (
        "readBalance",
        &[USER_ID, IDENTITY, RATE_LIMITED, STORES, &[C::UserNotFound]],
    ),
    // Seed 004.
    (
        "joinConcertQueue",
        &[
            IDENTITY,
            PRESENTED_TOKEN,
            INVITATION,
            CHALLENGE,
            CONCERT_IN_PATH,
            JSON_BODY,
            UUID_USER,
            RATE_LIMITED,
            STORES,
            &[C::QueueClosed],
        ],
    ),
    (
        "pollConcertQueue",
        &[
            PRESENTED_TOKEN,
            CONCERT_IN_PATH,
            RATE_LIMITED,
            STORES,
            &[C::TokenMissing, C::UserNotFound, C::TokenNotFound],
        ],
    ),
    ("listConcerts", &[]),
    (
        "concertDates",
        &[
            GATE,
            CONCERT_IN_PATH,
            IDENTITY,
            QUERY,
            OPTIONAL_JSON_BODY,
            UUID_USER,
            STORES,
        ],
    ),
    (
        "concertSeats",
        &[
            GATE,
            CONCERT_IN_PATH,
            IDENTITY,
            QUERY,
            OPTIONAL_JSON_BODY,
            UUID_USER,
            STORES,
            &[C::MissingDate, C::InvalidDate, C::ScheduleNotFound],
        ],
    ),
    (
        "holdSeat",
        &[
            GATE,
            CONCERT_IN_PATH,
            IDENTITY,
            JSON_BODY,
            UUID_USER,
            STORES,
            HOLD,
            &[C::InvalidDate],
        ],
    ),
    (
        "payConcert",
        &[GATE, IDENTITY, IDEMPOTENCY_KEY, JSON_BODY, UUID_USER, MONEY, PAYMENT],
    ),
    ("readUserBalance", &[IDENTITY, PATH, UUID_USER, RATE_LIMITED, STORES]),
    (
        "chargeUserBalance",
        &[
            IDENTITY,
            PATH,
            UUID_USER,
            IDEMPOTENCY_KEY,
            JSON_BODY,
            CHARGE_BODY,
            MONEY,
            &[C::BalanceLimitExceeded],
        ],
    ),
    // The door.
    ("queueChallenge", &[PATH, &[C::QueueNotFound, C::ChallengeOff]]),
    // A protected site.
    (
        "gateJoin",
        &[
            PATH,
            PRESENTED_TOKEN,
            INVITATION,
            CHALLENGE,
            RATE_LIMITED,
            STORES,
            &[C::QueueNotProtected, C::QueueClosed],
        ],
    ),
    (
        "gateStatus",
        &[
            PATH,
            QUERY,
            PRESENTED_TOKEN,
            STORES,
            &[C::QueueNotProtected, C::TokenMissing, C::TokenNotFound],
        ],
    ),
    (
        "gateLeave",
        &[PATH, PRESENTED_TOKEN, STORES, &[C::QueueNotProtected, C::TokenMissing]],
    ),
    (
        "gateCheck",
        &[
            PATH,
            &[
                C::QueueNotProtected,
                C::PassMissing,
                C::PassInvalid,
                C::PassExpired,
                C::PassRevoked,
                C::PassOtherQueue,
                C::PassThrottled,
            ],
        ],
    ),
    ("passKeys", &[]),
    (
        "gateEnd",
        &[
            PATH,
            JSON_BODY,
            STORES,
            &[
                C::DuplicateHeader,
                C::QueueNotProtected,
                C::OriginUnauthorized,
                C::PassInvalid,
                C::PassOtherQueue,
            ],
        ],
    ),
    // The admin API.
    ("adminListQueues", &[ADMIN, STORES]),
    ("adminGetQueue", &[ADMIN, PATH, STORES, &[C::QueueNotFound]]),
    ("adminNewOriginKey", &[ADMIN, PATH, CHANGE, &[C::QueueNotFound]]),
    (
        "adminNewInvitations",
        &[ADMIN, PATH, JSON_BODY, CHANGE, &[C::QueueNotFound, C::InvalidDate]],
    ),
    ("adminListInvitations", &[ADMIN, PATH, STORES, &[C::QueueNotFound]]),
    (
        "adminChangeQueue",
        &[
            ADMIN,
            PATH,
            JSON_BODY,
            CHANGE,
            &[
                C::QueueNotFound,
                C::InvalidSettings,
                C::InvalidState,
                C::InvalidSetting,
                C::InvalidDate,
                C::UnknownSetting,
            ],
        ],
    ),
    ("adminQueueEvents", &[ADMIN, PATH, QUERY, STORES, &[C::QueueNotFound]]),
    (
        "adminCreateConcert",
        &[
            ADMIN,
            JSON_BODY,
            CHANGE,
            &[
                C::InvalidConcert,
                C::InvalidDate,
                C::InvalidPrice,
                C::ConcertExists,
                C::DuplicateSchedule,
            ],
        ],
    ),
    ("adminInvariants", &[ADMIN, STORES, &[C::InvariantViolated]]),
    ("adminSeatMap", &[ADMIN, PATH, STORES, &[C::ScheduleNotFound]]),
    (
        "adminEvents",
        &[ADMIN, QUERY, STORES, &[C::InvalidEventId, C::UnknownEventType]],
    ),
    (
        "adminNewWebhook",
        &[ADMIN, JSON_BODY, STORES, &[C::UnknownEventType, C::OutcomeUnknown]],
    ),
    ("adminListWebhooks", &[ADMIN, STORES]),
    ("adminQueueReport", &[ADMIN, PATH, QUERY, STORES, &[C::QueueNotFound]]),
    (
        "adminDeleteWebhook",
        &[ADMIN, PATH, STORES, &[C::WebhookNotFound, C::OutcomeUnknown]],
    ),
    (
        "adminWebhookDeliveries",
        &[ADMIN, PATH, QUERY, STORES, &[C::WebhookNotFound]],
    ),
    // Health and operations.
    ("health", &[]),
    ("ready", &[&[C::DependencyUnavailable]]),
    ("metrics", &[STORES]),
    ("invariants", &[STORES, &[C::InvariantViolated]]),
    ("opsQueues", &[STORES]),
    ("opsSales", &[STORES]),
    ("opsSeatMap", &[PATH, STORES, &[C::ScheduleNotFound]]),
    ("opsRefusals", &[]),
    // Pages and this document.
    ("homePage", &[]),
    ("waitingRoomPage", &[]),
    ("gateRoomPage", &[]),
    ("waitingRoomConfig", &[]),
    ("opsPage", &[]),
    ("docsPage", &[]),
    ("asset", &[PATH, &[C::AssetNotFound]]),
    ("openapiDocument", &[]),
];
