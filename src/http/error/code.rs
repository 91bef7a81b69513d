//! Every machine code an answer of this service can carry, each with its one
//! status. The code is the contract clients are written against (the seeds'
//! frontends, the `/waiting-room` page, k6): the OpenAPI lists, the docs'
//! table (`docs/api.md`, "Error codes") and the pages' messages are checked
//! against this list by the tests below, so a code cannot be added, renamed or
//! moved to another status in one place only.

use axum::http::StatusCode;

macro_rules! error_codes {
    ($($name:ident = ($status:literal, $text:literal),)+) => {
        /// A machine code and, with it, the status it is answered with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum ErrorCode {
            $($name,)+
        }

        impl ErrorCode {
            /// Every code, in the order of the docs' table.
            #[cfg(test)]
            pub(crate) const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)+];

            /// The code as clients read it: `SEAT_UNAVAILABLE`.
            pub(crate) const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $text,)+
                }
            }

            pub(crate) const fn status_u16(self) -> u16 {
                match self {
                    $(ErrorCode::$name => $status,)+
                }
            }
        }
    };
}

error_codes! {
    // 400: the request itself is wrong.
    MissingUserId = (400, "MISSING_USER_ID"),
    InvalidUserId = (400, "INVALID_USER_ID"),
    DuplicateHeader = (400, "DUPLICATE_HEADER"),
    InvalidPath = (400, "INVALID_PATH"),
    InvalidQuery = (400, "INVALID_QUERY"),
    MissingBody = (400, "MISSING_BODY"),
    InvalidJson = (400, "INVALID_JSON"),
    DuplicateJsonKey = (400, "DUPLICATE_JSON_KEY"),
    InvalidBody = (400, "INVALID_BODY"),
    InvalidAmount = (400, "INVALID_AMOUNT"),
    AmountOutOfRange = (400, "AMOUNT_OUT_OF_RANGE"),
    InvalidPrice = (400, "INVALID_PRICE"),
    NoSeatsRequested = (400, "NO_SEATS_REQUESTED"),
    ScheduleMismatch = (400, "SCHEDULE_MISMATCH"),
    MissingUuid = (400, "MISSING_UUID"),
    InvalidUuid = (400, "INVALID_UUID"),
    MissingDate = (400, "MISSING_DATE"),
    InvalidDate = (400, "INVALID_DATE"),
    InvalidIdempotencyKey = (400, "INVALID_IDEMPOTENCY_KEY"),
    MalformedRequest = (400, "MALFORMED_REQUEST"),
    InvalidSettings = (400, "INVALID_SETTINGS"),
    InvalidSetting = (400, "INVALID_SETTING"),
    InvalidState = (400, "INVALID_STATE"),
    UnknownSetting = (400, "UNKNOWN_SETTING"),
    InvalidConcert = (400, "INVALID_CONCERT"),
    InvalidEventId = (400, "INVALID_EVENT_ID"),
    UnknownEventType = (400, "UNKNOWN_EVENT_TYPE"),
    // 401: who is asking is not proven.
    TokenMissing = (401, "TOKEN_MISSING"),
    TokenInvalid = (401, "TOKEN_INVALID"),
    IdentityMissing = (401, "IDENTITY_MISSING"),
    IdentityInvalid = (401, "IDENTITY_INVALID"),
    IdentityExpired = (401, "IDENTITY_EXPIRED"),
    IdentityMismatch = (401, "IDENTITY_MISMATCH"),
    AdminUnauthorized = (401, "ADMIN_UNAUTHORIZED"),
    PassMissing = (401, "PASS_MISSING"),
    PassInvalid = (401, "PASS_INVALID"),
    PassExpired = (401, "PASS_EXPIRED"),
    PassRevoked = (401, "PASS_REVOKED"),
    PassOtherQueue = (401, "PASS_OTHER_QUEUE"),
    PassThrottled = (401, "PASS_THROTTLED"),
    OriginUnauthorized = (401, "ORIGIN_UNAUTHORIZED"),
    // 403: proven, and not allowed.
    NotAdmitted = (403, "NOT_ADMITTED"),
    TokenExpired = (403, "TOKEN_EXPIRED"),
    TokenMismatch = (403, "TOKEN_MISMATCH"),
    AdminDisabled = (403, "ADMIN_DISABLED"),
    InvitationInvalid = (403, "INVITATION_INVALID"),
    InvitationUsedUp = (403, "INVITATION_USED_UP"),
    InvitationExpired = (403, "INVITATION_EXPIRED"),
    ChallengeRequired = (403, "CHALLENGE_REQUIRED"),
    ChallengeFailed = (403, "CHALLENGE_FAILED"),
    // 404.
    UserNotFound = (404, "USER_NOT_FOUND"),
    TokenNotFound = (404, "TOKEN_NOT_FOUND"),
    ConcertNotFound = (404, "CONCERT_NOT_FOUND"),
    ScheduleNotFound = (404, "SCHEDULE_NOT_FOUND"),
    SeatNotFound = (404, "SEAT_NOT_FOUND"),
    QueueNotFound = (404, "QUEUE_NOT_FOUND"),
    QueueNotProtected = (404, "QUEUE_NOT_PROTECTED"),
    WebhookNotFound = (404, "WEBHOOK_NOT_FOUND"),
    ChallengeOff = (404, "CHALLENGE_OFF"),
    AssetNotFound = (404, "ASSET_NOT_FOUND"),
    RouteNotFound = (404, "ROUTE_NOT_FOUND"),
    // The HTTP layer's own limits.
    MethodNotAllowed = (405, "METHOD_NOT_ALLOWED"),
    PayloadTooLarge = (413, "PAYLOAD_TOO_LARGE"),
    UriTooLong = (414, "URI_TOO_LONG"),
    HeadersTooLarge = (431, "HEADERS_TOO_LARGE"),
    // 409: the request conflicts with the state of the sale.
    SeatUnavailable = (409, "SEAT_UNAVAILABLE"),
    TooManySeats = (409, "TOO_MANY_SEATS"),
    NoHold = (409, "NO_HOLD"),
    HoldExpired = (409, "HOLD_EXPIRED"),
    InsufficientBalance = (409, "INSUFFICIENT_BALANCE"),
    BalanceLimitExceeded = (409, "BALANCE_LIMIT_EXCEEDED"),
    DuplicateSchedule = (409, "DUPLICATE_SCHEDULE"),
    InvariantViolated = (409, "INVARIANT_VIOLATED"),
    QueueClosed = (409, "QUEUE_CLOSED"),
    ConcertExists = (409, "CONCERT_EXISTS"),
    IdempotencyKeyReused = (422, "IDEMPOTENCY_KEY_REUSED"),
    RateLimited = (429, "RATE_LIMITED"),
    // 503: nothing was done (except after OUTCOME_UNKNOWN); always with Retry-After.
    DependencyUnavailable = (503, "DEPENDENCY_UNAVAILABLE"),
    OutcomeUnknown = (503, "OUTCOME_UNKNOWN"),
    Overloaded = (503, "OVERLOADED"),
    Timeout = (503, "TIMEOUT"),
    Internal = (500, "INTERNAL"),
}

impl ErrorCode {
    pub(crate) fn status(self) -> StatusCode {
        // Every status above is a valid one; the fallback cannot be reached.
        StatusCode::from_u16(self.status_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The code named `text`, if it is one of ours.
    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|code| code.as_str() == text)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ErrorCode;

    const ROOT: &str = env!("CARGO_MANIFEST_DIR");

    /// `CODE`-shaped words between backticks (or quotes) in `text`.
    fn code_words(text: &str, quote: char) -> Vec<String> {
        text.split(quote)
            .skip(1)
            .step_by(2)
            .filter(|word| {
                word.len() > 3 && word.chars().all(|c| c.is_ascii_uppercase() || c == '_') && word.contains('_')
                    || matches!(*word, "INTERNAL" | "TIMEOUT" | "OVERLOADED")
            })
            .map(str::to_string)
            .collect()
    }

    /// (status, code) as `docs/api.md`'s "Error codes" table states them; a row
    /// of several statuses (`405 / 413`) pairs them with its codes in order.
    fn documented() -> Vec<(u16, String)> {
        let doc = std::fs::read_to_string(format!("{ROOT}/docs/api.md")).expect("docs/api.md");
        let table = doc
            .split("## Error codes")
            .nth(1)
            .expect("docs/api.md has an Error codes section");
        let mut pairs = Vec::new();
        for row in table
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
        {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (Some(statuses), Some(codes)) = (cells.get(1), cells.get(2)) else {
                continue;
            };
            let statuses: Vec<u16> = statuses.split('/').filter_map(|s| s.trim().parse().ok()).collect();
            if statuses.len() == 1 {
                pairs.extend(code_words(codes, '`').into_iter().map(|code| (statuses[0], code)));
            } else {
                for (status, part) in statuses.iter().zip(codes.split(" / ")) {
                    pairs.extend(code_words(part, '`').into_iter().map(|code| (*status, code)));
                }
            }
        }
        pairs
    }

    #[test]
    fn the_docs_table_lists_every_code_under_its_status_and_no_other() {
        let documented = documented();
        assert!(documented.len() > 40, "the table was not read: {documented:?}");
        let ours: BTreeSet<(u16, String)> = ErrorCode::ALL
            .iter()
            .map(|code| (code.status_u16(), code.as_str().to_string()))
            .collect();
        let theirs: BTreeSet<(u16, String)> = documented.into_iter().collect();
        let undocumented: Vec<_> = ours.difference(&theirs).collect();
        let unknown: Vec<_> = theirs.difference(&ours).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "docs/api.md's Error codes table and ErrorCode differ.\nnot in the docs (or under another status): {undocumented:?}\nin the docs only: {unknown:?}"
        );
    }

    #[test]
    fn the_pages_know_only_codes_the_service_answers() {
        // The pages' scripts and the frontends' package (clients/js) they share.
        let folders = [format!("{ROOT}/web/assets"), format!("{ROOT}/clients/js/src")];
        let mut checked = 0;
        let entries = folders
            .iter()
            .flat_map(|folder| std::fs::read_dir(folder).expect("a folder of scripts"));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|ext| ext != "js") {
                continue;
            }
            let script = std::fs::read_to_string(&path).expect("a page script");
            for word in code_words(&script, '\'') {
                checked += 1;
                assert!(
                    ErrorCode::parse(&word).is_some(),
                    "{} names {word}, which no answer carries",
                    path.display()
                );
            }
        }
        assert!(checked > 5, "no codes found in the pages' scripts");
    }

    #[test]
    fn codes_are_distinct_and_spelled_as_their_names() {
        let texts: BTreeSet<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(texts.len(), ErrorCode::ALL.len(), "a code is listed twice");
        for code in ErrorCode::ALL {
            let spelled: String = format!("{code:?}")
                .chars()
                .flat_map(|c| {
                    let upper = c.is_ascii_uppercase();
                    [upper.then_some('_'), Some(c.to_ascii_uppercase())]
                })
                .flatten()
                .collect();
            assert_eq!(spelled.trim_start_matches('_'), code.as_str());
        }
    }
}
