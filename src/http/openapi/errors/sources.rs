//! The codes each source of errors can answer: the extractors a handler is
//! built of, the layers around its router, and the domain calls several
//! handlers share.

/// (status, machine code) pairs.
pub(super) type Codes = &'static [(u16, &'static str)];

// What the extractors refuse (src/http/extract, src/http/guards, admin).
pub(super) const USER_ID: Codes = &[
    (400, "DUPLICATE_HEADER"),
    (400, "MISSING_USER_ID"),
    (400, "INVALID_USER_ID"),
];
pub(super) const IDENTITY: Codes = &[
    (400, "DUPLICATE_HEADER"),
    (401, "IDENTITY_MISSING"),
    (401, "IDENTITY_INVALID"),
    (401, "IDENTITY_EXPIRED"),
    (401, "IDENTITY_MISMATCH"),
];
/// A token presented to join or poll: optional, but genuine and the caller's.
pub(super) const PRESENTED_TOKEN: Codes = &[
    (400, "DUPLICATE_HEADER"),
    (401, "TOKEN_INVALID"),
    (403, "TOKEN_MISMATCH"),
];
/// `ActiveToken` and `PaymentPass`: a genuine, admitted token of the route's queue.
pub(super) const GATE: Codes = &[
    (400, "DUPLICATE_HEADER"),
    (401, "TOKEN_MISSING"),
    (401, "TOKEN_INVALID"),
    (403, "TOKEN_MISMATCH"),
    (403, "NOT_ADMITTED"),
    (403, "TOKEN_EXPIRED"),
];
pub(super) const CONCERT_IN_PATH: Codes = &[(400, "INVALID_PATH"), (404, "CONCERT_NOT_FOUND")];
pub(super) const PATH: Codes = &[(400, "INVALID_PATH")];
pub(super) const QUERY: Codes = &[(400, "INVALID_QUERY")];
pub(super) const JSON_BODY: Codes = &[
    (400, "MISSING_BODY"),
    (400, "INVALID_JSON"),
    (400, "DUPLICATE_JSON_KEY"),
    (400, "INVALID_BODY"),
    (413, "PAYLOAD_TOO_LARGE"),
];
pub(super) const OPTIONAL_JSON_BODY: Codes = &[
    (400, "INVALID_JSON"),
    (400, "DUPLICATE_JSON_KEY"),
    (400, "INVALID_BODY"),
    (413, "PAYLOAD_TOO_LARGE"),
];
pub(super) const CHARGE_BODY: Codes = &[(400, "INVALID_AMOUNT")];
pub(super) const IDEMPOTENCY_KEY: Codes = &[
    (400, "DUPLICATE_HEADER"),
    (400, "INVALID_IDEMPOTENCY_KEY"),
    (422, "IDEMPOTENCY_KEY_REUSED"),
];
/// A user named by UUID (`v1::user_of`).
pub(super) const UUID_USER: Codes = &[(400, "MISSING_UUID"), (400, "INVALID_UUID"), (404, "USER_NOT_FOUND")];
pub(super) const ADMIN: Codes = &[
    (400, "DUPLICATE_HEADER"),
    (401, "ADMIN_UNAUTHORIZED"),
    (403, "ADMIN_DISABLED"),
];

// What the layers and the stores add.
pub(super) const RATE_LIMITED: Codes = &[(429, "RATE_LIMITED")];
/// `middleware::with_deadline`.
pub(super) const DEADLINE: Codes = &[(503, "TIMEOUT")];
/// `shedding`: every route under `/api/`.
pub(super) const SHED: Codes = &[(503, "OVERLOADED")];
pub(super) const STORES: Codes = &[(503, "DEPENDENCY_UNAVAILABLE"), (500, "INTERNAL")];
/// A charge or a payment: sent to Postgres, and maybe no answer.
pub(super) const MONEY: Codes = &[
    (503, "DEPENDENCY_UNAVAILABLE"),
    (503, "OUTCOME_UNKNOWN"),
    (500, "INTERNAL"),
];

pub(super) const HOLD: Codes = &[
    (400, "AMOUNT_OUT_OF_RANGE"),
    (404, "SCHEDULE_NOT_FOUND"),
    (404, "SEAT_NOT_FOUND"),
    (409, "SEAT_UNAVAILABLE"),
    (409, "TOO_MANY_SEATS"),
];
pub(super) const PAYMENT: Codes = &[
    (400, "AMOUNT_OUT_OF_RANGE"),
    (404, "USER_NOT_FOUND"),
    (409, "NO_HOLD"),
    (409, "HOLD_EXPIRED"),
    (409, "INSUFFICIENT_BALANCE"),
    (409, "SEAT_UNAVAILABLE"),
];
