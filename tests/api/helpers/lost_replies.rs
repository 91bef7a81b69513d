//! A link that loses, for good, the replies of the connections open at one
//! moment while new connections pass: what a middlebox that dropped their
//! state does (a NAT or a load balancer restarted), and what noxious cannot
//! make (its toxics apply to every connection, and a link it has silenced
//! does not carry new connections again).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct LostReplies {
    pub port: u16,
    /// Connections opened before the current era get no reply any more.
    era: Arc<AtomicU64>,
    accepting: tokio::task::JoinHandle<()>,
}

impl LostReplies {
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let era = Arc::new(AtomicU64::new(0));
        let accepting = tokio::spawn(accept(listener, upstream_port, era.clone()));
        LostReplies { port, era, accepting }
    }

    /// `url` with its port replaced by the link's.
    pub fn in_front_of(&self, url: &str, store_port: u16) -> String {
        url.replacen(&format!(":{store_port}"), &format!(":{}", self.port), 1)
    }

    /// Every connection open now never gets another byte back, nor its end;
    /// connections opened from now on pass.
    pub fn lose_open_connections(&self) {
        self.era.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for LostReplies {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept(listener: TcpListener, upstream_port: u16, era: Arc<AtomicU64>) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
            continue;
        };
        let born = era.load(Ordering::SeqCst);
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        });
        let era = era.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 16 * 1024];
            loop {
                let read = server_read.read(&mut buffer).await.unwrap_or(0);
                if era.load(Ordering::SeqCst) != born {
                    if read == 0 {
                        // The end is lost too: the client's side stays open.
                        std::future::pending::<()>().await;
                    }
                    continue;
                }
                if read == 0 || client_write.write_all(&buffer[..read]).await.is_err() {
                    let _ = client_write.shutdown().await;
                    return;
                }
            }
        });
    }
}
