//! The join gate: everything a join must pass before it touches the line, in
//! one extractor both surfaces use ([`JoinPermit`]). A surface only says how
//! it names the queue and the user (its [`Applicant`], beside its routes); the
//! gate then reads the queue's settings as this instance holds them
//! (`Settings::current`: read from Postgres about once a second, no Redis
//! call), applies the join limits, the instance's and the queue's
//! `joinLimits` (`edge::join_limits`: per identity, client IP and network, in
//! process), and hands the join its rules for the line: a closed queue takes
//! no one new, and before its opening joins enter the pre-queue.
//!
//! A presale invitation (`X-Invitation`) is looked at only before the queue's
//! opening, when it is what lets a join into the line instead of the
//! pre-queue: then its use is taken in Postgres (`queue::invitations`) and the
//! join follows the invited rules. A join without the header, or once the
//! queue is open, makes no call for it.
//!
//! A queue that asks for a challenge (`queue::challenge`) takes no join
//! without a solution in `X-Altcha`: it is checked in process, before any
//! store call, and taken by the join in its own script run, so a replay
//! fails on any instance and costs no call of its own.
//!
//! A check added at the door goes here, once, and both surfaces have it.

use std::future::Future;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use super::client_ip::ClientIp;
use crate::http::error::{Error, Result};
use crate::http::extract::{single_header, PresentedToken};
use crate::http::state::AppState;
use crate::queue::challenge::Solved;
use crate::queue::{QueueError, Ticket};
use crate::store::scripts::standing::JoinRules;

/// Who asks to join which queue, as one surface names them.
pub(crate) struct Named<N> {
    pub(crate) queue: String,
    pub(crate) user_id: i64,
    /// How the surface will name the user in its answer.
    pub(crate) name: N,
}

/// How a surface names the queue and the user of a join.
pub(crate) trait Applicant: Send + 'static {
    type Name: Send;

    /// Reads the request's own way of naming them (the body too, if need be).
    fn named(parts: Parts, body: Body, state: &AppState) -> impl Future<Output = Result<Named<Self::Name>>> + Send;

    /// The user as an invitation bound to one names them (the admin API's
    /// `userId`): by default the user id, as a number.
    fn invitee(named: &Named<Self::Name>) -> String {
        named.user_id.to_string()
    }
}

/// A join that passed the gate: the queue and user, the token the caller
/// showed (a re-join keeps its place with it), and the queue's settings it
/// follows.
pub(crate) struct JoinPermit<A: Applicant> {
    pub(crate) queue: String,
    pub(crate) user_id: i64,
    pub(crate) name: A::Name,
    pub(crate) presented: Option<String>,
    pub(crate) rules: JoinRules,
    /// The checked solution of a challenged queue's join, which the join
    /// takes in its own script run (a replay is refused there).
    pub(crate) challenge: Option<Solved>,
}

impl<A: Applicant> FromRequest<AppState> for JoinPermit<A> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self> {
        let (mut parts, body) = request.into_parts();
        let ClientIp(ip) = ClientIp::from_request_parts(&mut parts, state).await?;
        let PresentedToken(presented) = PresentedToken::from_request_parts(&mut parts, state).await?;
        let invitation = single_header(&parts.headers, INVITATION_HEADER)?.map(|value| value.as_bytes().to_vec());
        let altcha = single_header(&parts.headers, ALTCHA_HEADER)?.map(|value| value.as_bytes().to_vec());
        let named = A::named(parts, body, state).await?;
        let settings = state.settings.current(&named.queue);
        state
            .limits
            .check_join(&named.queue, &settings.join_limits, named.user_id, ip)?;
        let queue = named.queue.as_str();
        let invitee = invitation.as_ref().map(|_| A::invitee(&named)).unwrap_or_default();
        let at_the_door = async {
            // Checked in process before any store call; taken by the join
            // itself, in its own script run.
            let challenge = match (settings.challenge.is_some(), altcha) {
                (false, _) => None,
                (true, None) => {
                    return Err(QueueError::ChallengeRequired {
                        queue: queue.to_string(),
                    })
                }
                (true, Some(payload)) => Some(state.challenges.check(queue, &payload)?),
            };
            let rules = settings.join_rules();
            if let Some(code) = invitation {
                if !rules.closed && before_opening(rules.opens_at_ms) {
                    // A code that is not text cannot be one of ours.
                    let code = String::from_utf8(code).map_err(|_| QueueError::InvitationInvalid)?;
                    state.invitations.redeem(queue, code.trim(), &invitee).await?;
                    return Ok((rules.invited(), challenge));
                }
            }
            Ok::<_, QueueError>((rules, challenge))
        };
        let (rules, challenge) = at_the_door.await.inspect_err(|err| state.door.count(queue, err))?;
        let Named { queue, user_id, name } = named;
        Ok(JoinPermit {
            queue,
            user_id,
            name,
            presented,
            rules,
            challenge,
        })
    }
}

impl<A: Applicant> JoinPermit<A> {
    /// Joins the line by user id as the permit allows (both APIs). A
    /// solution the line finds spent is a refusal at the door too, counted
    /// with the gate's own.
    pub(crate) async fn join(&self, state: &AppState) -> Result<Ticket, QueueError> {
        state
            .line
            .join_with(
                &self.queue,
                self.user_id,
                self.presented.as_deref(),
                self.rules,
                self.challenge,
            )
            .await
            .inspect_err(|err| state.door.count(&self.queue, err))
    }
}

/// The header a join carries a presale invitation code in.
pub(crate) const INVITATION_HEADER: &str = "x-invitation";

/// The `X-Invitation` header, as the join operations document it (`openapi::params`).
pub(crate) struct InvitationHeader;

/// The header a join carries a solved challenge in: the ALTCHA widget's payload.
pub(crate) const ALTCHA_HEADER: &str = "x-altcha";

/// The `X-Altcha` header, as the join operations document it (`openapi::params`).
pub(crate) struct AltchaHeader;

/// Whether the opening at `opens_at_ms` (0: none) is still ahead.
fn before_opening(opens_at_ms: u64) -> bool {
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    opens_at_ms > now_ms
}
