//! The client's IP, for per-IP rate limits: the connection's peer, or, when
//! that peer is one of the operator's trusted proxies, the address those
//! proxies recorded in `X-Forwarded-For` (the rightmost one they did not add
//! themselves). With no trusted proxies configured the header is ignored, so a
//! client cannot pick its own address.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::http::edge::connections::PeerAddr;
use crate::http::error::Error;
use crate::http::state::AppState;

pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<PeerAddr>>()
            .map(|ConnectInfo(PeerAddr(addr))| addr.ip());
        let Some(peer) = peer else {
            return Ok(ClientIp(None));
        };
        if !state.trusted_proxies.contains(peer) {
            return Ok(ClientIp(Some(peer)));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        let client = forwarded
            .iter()
            .rev()
            .find(|hop| !state.trusted_proxies.contains(**hop))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer);
        Ok(ClientIp(Some(client)))
    }
}
