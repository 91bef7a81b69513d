//! A fault-injecting TCP proxy inside the test process, between the app and
//! a store: the `noxious` crate (Toxiproxy's proxy and toxics as a library).
//! A toxic added while connections are open applies to them too, so a store
//! can be made slow, capped, silent or cut in the middle of a test, and
//! healed again.

use noxious::proxy::{ProxyConfig, ProxyRunner, Runner, Toxics};
use noxious::signal::{Close, Stop, Stopper};
use noxious::socket::TcpListener;
use noxious::toxic::{StreamDirection, Toxic, ToxicEvent, ToxicEventKind, ToxicEventResult, ToxicKind};

use super::own_stores::free_port;

pub struct FaultyLink {
    pub port: u16,
    upstream_port: u16,
    name: String,
    events: bmrng::RequestSender<ToxicEvent, ToxicEventResult>,
    stopper: Option<Stopper>,
}

impl FaultyLink {
    /// A proxy on a port of its own to `127.0.0.1:upstream_port`, passing
    /// everything through until told otherwise.
    pub async fn start(name: &str, upstream_port: u16) -> Self {
        Self::start_on(name, free_port(), upstream_port).await
    }

    async fn start_on(name: &str, port: u16, upstream_port: u16) -> Self {
        let config = ProxyConfig {
            name: name.to_string(),
            listen: format!("127.0.0.1:{port}"),
            upstream: format!("127.0.0.1:{upstream_port}"),
            enabled: true,
            rand_seed: Some(26),
        };
        let (listener, info) = ProxyRunner::initialize_proxy::<TcpListener>(config, Toxics::empty())
            .await
            .expect("the proxy binds its port");
        let (events, receiver) = bmrng::channel(16);
        let (stop, stopper) = Stop::new();
        let (_close, closer) = Close::new();
        tokio::spawn(ProxyRunner::run_proxy(listener, info, receiver, stop, closer));
        FaultyLink {
            port,
            upstream_port,
            name: name.to_string(),
            events,
            stopper: Some(stopper),
        }
    }

    /// A new proxy on the same port with no toxic, the old one stopped: what
    /// a connection that lost data cannot come back from (noxious does not
    /// give a link back once its timeout toxic has swallowed data).
    pub async fn replace(&mut self) {
        if let Some(stopper) = self.stopper.take() {
            stopper.stop();
        }
        for _ in 0..50 {
            // The old listener goes as its accept loop sees the stop.
            if std::net::TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        *self = Self::start_on(&self.name.clone(), self.port, self.upstream_port).await;
    }

    /// `url` with its port replaced by the proxy's.
    pub fn in_front_of(&self, url: &str, store_port: u16) -> String {
        url.replacen(&format!(":{store_port}"), &format!(":{}", self.port), 1)
    }

    /// Adds a toxic on the replies (`Downstream`) or the requests (`Upstream`).
    pub async fn add(&self, name: &str, kind: ToxicKind, direction: StreamDirection) {
        let toxic = Toxic {
            kind,
            name: name.to_string(),
            toxicity: 1.0,
            direction,
        };
        self.send(ToxicEventKind::AddToxic(toxic)).await;
    }

    /// Takes every toxic away: the link passes everything again.
    pub async fn heal(&self) {
        self.send(ToxicEventKind::RemoveAllToxics).await;
    }

    async fn send(&self, kind: ToxicEventKind) {
        let event = ToxicEvent::new(self.name.clone(), kind);
        self.events
            .send_receive(event)
            .await
            .expect("the proxy takes toxic events")
            .expect("the toxic change applies");
    }
}

impl Drop for FaultyLink {
    fn drop(&mut self) {
        if let Some(stopper) = self.stopper.take() {
            stopper.stop();
        }
    }
}
