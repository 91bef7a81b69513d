//! The chaos soak's network faults (`loadtest/chaos.sh`): fault-injecting TCP
//! proxies between the gateways and each store, the `noxious` crate's
//! (Toxiproxy's proxy and toxics as a library), driven over a small HTTP API
//! so the soak's schedule can poison and heal a link while the sale runs.
//!
//! ```text
//! chaos_proxy --control 127.0.0.1:PORT --link NAME=LISTEN:UPSTREAM [--link ...]
//!
//! GET  /links                    every link and the toxics on it
//! POST /links/{name}/toxics      a toxic in Toxiproxy's JSON:
//!                                {"name","type","stream","toxicity","attributes"}
//! POST /links/{name}/heal        no toxic any more
//!
//! Every change of toxics makes the link anew, dropping its open connections
//! (`renew` says why).
//! ```
//!
//! Ports are loopback ports; the upstream is `127.0.0.1:UPSTREAM`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use noxious::proxy::{ProxyConfig, ProxyRunner, Runner, Toxics};
use noxious::signal::{Close, Stop, Stopper};
use noxious::socket::TcpListener;
use noxious::toxic::{Toxic, ToxicEvent, ToxicEventKind, ToxicEventResult};
use serde_json::{json, Value};
use tokio::sync::Mutex;

struct Link {
    listen: u16,
    upstream: u16,
    events: bmrng::RequestSender<ToxicEvent, ToxicEventResult>,
    stopper: Stopper,
    toxics: Vec<Toxic>,
}

type Links = Arc<Mutex<BTreeMap<String, Link>>>;

async fn open(name: &str, listen: u16, upstream: u16) -> anyhow::Result<Link> {
    let config = ProxyConfig {
        name: name.to_string(),
        listen: format!("127.0.0.1:{listen}"),
        upstream: format!("127.0.0.1:{upstream}"),
        enabled: true,
        rand_seed: None,
    };
    let (listener, info) = ProxyRunner::initialize_proxy::<TcpListener>(config, Toxics::empty())
        .await
        .map_err(|error| anyhow::anyhow!("link {name} cannot listen on {listen}: {error:?}"))?;
    let (events, receiver) = bmrng::channel(16);
    let (stop, stopper) = Stop::new();
    let (_close, closer) = Close::new();
    tokio::spawn(ProxyRunner::run_proxy(listener, info, receiver, stop, closer));
    Ok(Link {
        listen,
        upstream,
        events,
        stopper,
        toxics: Vec::new(),
    })
}

async fn send(name: &str, link: &Link, kind: ToxicEventKind) -> Result<(), (StatusCode, String)> {
    let event = ToxicEvent::new(name.to_string(), kind);
    match link.events.send_receive(event).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err((StatusCode::BAD_REQUEST, format!("{error:?}"))),
        Err(error) => Err((StatusCode::INTERNAL_SERVER_ERROR, format!("{error:?}"))),
    }
}

async fn list(State(links): State<Links>) -> Json<Value> {
    let links = links.lock().await;
    Json(json!(links
        .iter()
        .map(|(name, link)| json!({
            "name": name,
            "listen": link.listen,
            "upstream": link.upstream,
            "toxics": link.toxics,
        }))
        .collect::<Vec<_>>()))
}

async fn add(
    State(links): State<Links>,
    Path(name): Path<String>,
    Json(toxic): Json<Toxic>,
) -> Result<StatusCode, (StatusCode, String)> {
    let mut links = links.lock().await;
    let link = links
        .get_mut(&name)
        .ok_or((StatusCode::NOT_FOUND, format!("no link {name}")))?;
    renew(&name, link).await?;
    send(&name, link, ToxicEventKind::AddToxic(toxic.clone())).await?;
    link.toxics.push(toxic);
    Ok(StatusCode::NO_CONTENT)
}

/// The link made anew, its open connections dropped. noxious loses the bytes
/// in flight on a connection when a toxic is added or taken away, and that
/// connection then waits for them for ever: no TCP network does that (it
/// delivers every byte or ends the connection). So every change of toxics
/// drops the link's connections first, as a network flap would, and what
/// the soak measures is the store's and the gateways' behaviour, not that.
async fn renew(name: &str, link: &mut Link) -> Result<(), (StatusCode, String)> {
    link.stopper.clone().stop();
    // The old listener goes once its accept loop sees the stop.
    for _ in 0..100 {
        if std::net::TcpListener::bind(("127.0.0.1", link.listen)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    *link = open(name, link.listen, link.upstream)
        .await
        .map_err(|error| (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    Ok(())
}

async fn heal(State(links): State<Links>, Path(name): Path<String>) -> Result<StatusCode, (StatusCode, String)> {
    let mut links = links.lock().await;
    let link = links
        .get_mut(&name)
        .ok_or((StatusCode::NOT_FOUND, format!("no link {name}")))?;
    renew(&name, link).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_link(spec: &str) -> anyhow::Result<(String, u16, u16)> {
    let (name, ports) = spec
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--link wants NAME=LISTEN:UPSTREAM, got {spec}"))?;
    let (listen, upstream) = ports
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("--link wants NAME=LISTEN:UPSTREAM, got {spec}"))?;
    Ok((name.to_string(), listen.parse()?, upstream.parse()?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut control = None;
    let mut specs = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--control" => control = words.next().cloned(),
            "--link" => specs.push(parse_link(words.next().map(String::as_str).unwrap_or(""))?),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let control = control.ok_or_else(|| anyhow::anyhow!("--control ADDR is required"))?;
    let mut links = BTreeMap::new();
    for (name, listen, upstream) in specs {
        let link = open(&name, listen, upstream).await?;
        links.insert(name, link);
    }
    let app = Router::new()
        .route("/links", get(list))
        .route("/links/{name}/toxics", post(add))
        .route("/links/{name}/heal", post(heal))
        .with_state(Arc::new(Mutex::new(links)));
    let listener = tokio::net::TcpListener::bind(&control).await?;
    eprintln!("chaos_proxy: control on {control}");
    axum::serve(listener, app).await?;
    Ok(())
}
