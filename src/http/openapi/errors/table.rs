//! Every documented operation, by `operationId`, with the sources of the
//! errors it can answer (`sources.rs`) and the codes of its own domain calls.

use super::sources::*;

/// Every documented operation, by `operationId`, with what it can refuse.
pub(super) const ERRORS: &[(&str, &[Codes])] = &[
    // Seed 000.
    (
        "joinWaitingQueue",
        &[
            USER_ID,
            IDENTITY,
            PRESENTED_TOKEN,
            RATE_LIMITED,
            SHED,
            STORES,
            &[(404, "USER_NOT_FOUND"), (409, "QUEUE_CLOSED")],
        ],
    ),
    (
        "pollWaitingQueue",
        &[
            USER_ID,
            IDENTITY,
            PRESENTED_TOKEN,
            RATE_LIMITED,
            SHED,
            STORES,
            &[(404, "USER_NOT_FOUND"), (404, "TOKEN_NOT_FOUND")],
        ],
    ),
    (
        "listSchedules",
        &[GATE, PATH, DEADLINE, SHED, STORES, &[(404, "CONCERT_NOT_FOUND")]],
    ),
    (
        "listSeats",
        &[
            GATE,
            PATH,
            DEADLINE,
            SHED,
            STORES,
            &[(404, "CONCERT_NOT_FOUND"), (404, "SCHEDULE_NOT_FOUND")],
        ],
    ),
    (
        "holdSeats",
        &[
            GATE,
            IDENTITY,
            PATH,
            JSON_BODY,
            DEADLINE,
            SHED,
            STORES,
            HOLD,
            &[(404, "CONCERT_NOT_FOUND"), (400, "NO_SEATS_REQUESTED")],
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
            SHED,
            MONEY,
            PAYMENT,
            &[
                (400, "SCHEDULE_MISMATCH"),
                (404, "CONCERT_NOT_FOUND"),
                (404, "SCHEDULE_NOT_FOUND"),
            ],
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
            SHED,
            MONEY,
            &[(404, "USER_NOT_FOUND"), (409, "BALANCE_LIMIT_EXCEEDED")],
        ],
    ),
    (
        "readBalance",
        &[
            USER_ID,
            IDENTITY,
            RATE_LIMITED,
            DEADLINE,
            SHED,
            STORES,
            &[(404, "USER_NOT_FOUND")],
        ],
    ),
    // Seed 004.
    (
        "joinConcertQueue",
        &[
            IDENTITY,
            PRESENTED_TOKEN,
            CONCERT_IN_PATH,
            JSON_BODY,
            UUID_USER,
            RATE_LIMITED,
            SHED,
            STORES,
            &[(409, "QUEUE_CLOSED")],
        ],
    ),
    (
        "pollConcertQueue",
        &[
            PRESENTED_TOKEN,
            CONCERT_IN_PATH,
            RATE_LIMITED,
            SHED,
            STORES,
            &[
                (401, "TOKEN_MISSING"),
                (404, "USER_NOT_FOUND"),
                (404, "TOKEN_NOT_FOUND"),
            ],
        ],
    ),
    ("listConcerts", &[DEADLINE, SHED]),
    (
        "concertDates",
        &[
            GATE,
            CONCERT_IN_PATH,
            IDENTITY,
            QUERY,
            OPTIONAL_JSON_BODY,
            UUID_USER,
            DEADLINE,
            SHED,
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
            DEADLINE,
            SHED,
            STORES,
            &[
                (400, "MISSING_DATE"),
                (400, "INVALID_DATE"),
                (404, "SCHEDULE_NOT_FOUND"),
            ],
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
            DEADLINE,
            SHED,
            STORES,
            HOLD,
            &[(400, "INVALID_DATE")],
        ],
    ),
    (
        "payConcert",
        &[
            GATE,
            IDENTITY,
            IDEMPOTENCY_KEY,
            JSON_BODY,
            UUID_USER,
            SHED,
            MONEY,
            PAYMENT,
        ],
    ),
    (
        "readUserBalance",
        &[IDENTITY, PATH, UUID_USER, RATE_LIMITED, DEADLINE, SHED, STORES],
    ),
    (
        "chargeUserBalance",
        &[
            IDENTITY,
            PATH,
            UUID_USER,
            IDEMPOTENCY_KEY,
            JSON_BODY,
            CHARGE_BODY,
            SHED,
            MONEY,
            &[(409, "BALANCE_LIMIT_EXCEEDED")],
        ],
    ),
    // The admin API.
    ("adminListQueues", &[ADMIN, DEADLINE, STORES]),
    (
        "adminGetQueue",
        &[ADMIN, PATH, DEADLINE, STORES, &[(404, "QUEUE_NOT_FOUND")]],
    ),
    (
        "adminChangeQueue",
        &[
            ADMIN,
            PATH,
            JSON_BODY,
            DEADLINE,
            STORES,
            &[
                (404, "QUEUE_NOT_FOUND"),
                (400, "INVALID_SETTINGS"),
                (400, "INVALID_STATE"),
                (400, "INVALID_SETTING"),
                (400, "INVALID_DATE"),
                (400, "UNKNOWN_SETTING"),
            ],
        ],
    ),
    (
        "adminQueueEvents",
        &[ADMIN, PATH, QUERY, DEADLINE, STORES, &[(404, "QUEUE_NOT_FOUND")]],
    ),
    (
        "adminCreateConcert",
        &[
            ADMIN,
            JSON_BODY,
            DEADLINE,
            STORES,
            &[
                (400, "INVALID_CONCERT"),
                (400, "INVALID_DATE"),
                (400, "INVALID_PRICE"),
                (409, "CONCERT_EXISTS"),
                (409, "DUPLICATE_SCHEDULE"),
            ],
        ],
    ),
    (
        "adminInvariants",
        &[ADMIN, DEADLINE, STORES, &[(409, "INVARIANT_VIOLATED")]],
    ),
    (
        "adminSeatMap",
        &[ADMIN, PATH, DEADLINE, STORES, &[(404, "SCHEDULE_NOT_FOUND")]],
    ),
    // Health and operations.
    ("health", &[DEADLINE]),
    ("ready", &[DEADLINE, &[(503, "DEPENDENCY_UNAVAILABLE")]]),
    ("metrics", &[DEADLINE, STORES]),
    ("invariants", &[DEADLINE, STORES, &[(409, "INVARIANT_VIOLATED")]]),
    ("opsQueues", &[DEADLINE, STORES]),
    ("opsSales", &[DEADLINE, STORES]),
    ("opsSeatMap", &[PATH, DEADLINE, STORES, &[(404, "SCHEDULE_NOT_FOUND")]]),
    ("opsRefusals", &[DEADLINE]),
    // Pages and this document.
    ("waitingRoomPage", &[DEADLINE]),
    ("waitingRoomConfig", &[DEADLINE]),
    ("opsPage", &[DEADLINE]),
    ("docsPage", &[DEADLINE]),
    ("asset", &[PATH, DEADLINE, &[(404, "ASSET_NOT_FOUND")]]),
    ("openapiDocument", &[DEADLINE]),
];
