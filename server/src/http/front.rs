//! The front door: accepts clients on the public address and relays their bytes to Rocket on a
//! loopback port, closing connections that are too slow or too idle.
//!
//! Rocket 0.5.2 builds its HTTP server with `header_read_timeout(None)` and has no API to accept
//! connections itself, so without this a client that sends its headers a byte at a time, or opens
//! connections and never uses them, holds them forever. The relay closes a connection when a
//! request's headers are not complete `header_timeout` after their first byte, or when nothing
//! has moved either way for `idle_timeout`. It does not parse HTTP beyond finding the end of the
//! headers ("\r\n\r\n"); after the answer starts, the next client byte starts the next request.
//!
//! Rocket sees every connection coming from loopback; [`Clients`] maps the relay's local port
//! back to the real client's address for the per-address limits and the logs.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// How long a client may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From a request's first byte to the end of its headers.
    pub header: Duration,
    /// With no byte moving either way.
    pub idle: Duration,
}

/// The real client behind each relayed connection, by the relay's local port.
#[derive(Default)]
pub struct Clients(Mutex<HashMap<u16, SocketAddr>>);

impl Clients {
    /// The client that a connection from `relay` (as Rocket sees it) stands for.
    pub fn client_of(&self, relay: SocketAddr) -> Option<IpAddr> {
        if !relay.ip().is_loopback() {
            return None;
        }
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(&relay.port()).map(SocketAddr::ip))
    }

    fn insert(&self, port: u16, client: SocketAddr) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(port, client);
        }
    }

    fn remove(&self, port: u16) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&port);
        }
    }
}

/// Accepts on `listener` until `stop` resolves, relaying each connection to `backend`.
pub async fn serve(
    listener: TcpListener,
    backend: SocketAddr,
    clients: Arc<Clients>,
    timeouts: Timeouts,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, peer)) => {
                let clients = Arc::clone(&clients);
                tokio::spawn(async move {
                    if let Err(e) = relay(client, peer, backend, &clients, timeouts).await {
                        tracing::debug!(error = %e, "relay ended");
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors, most likely: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Where a connection is in its current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request's first byte.
    Between,
    /// Reading a request's headers, since this instant.
    Headers(Instant),
    /// Headers complete: body and answer.
    Exchange,
}

/// The end of the headers seen across reads: how many bytes of "\r\n\r\n" matched so far.
fn scan_end_of_headers(matched: &mut usize, bytes: &[u8]) -> Option<usize> {
    const END: &[u8] = b"\r\n\r\n";
    for (i, b) in bytes.iter().enumerate() {
        *matched = if *b == END[*matched] {
            *matched + 1
        } else if *b == END[0] {
            1
        } else {
            0
        };
        if *matched == END.len() {
            *matched = 0;
            return Some(i + 1);
        }
    }
    None
}

async fn relay(
    mut client: TcpStream,
    peer: SocketAddr,
    backend: SocketAddr,
    clients: &Clients,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(backend).await?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let port = server.local_addr()?.port();
    clients.insert(port, peer);
    let result = pump(&mut client, &mut server, timeouts).await;
    clients.remove(port);
    let _ = server.shutdown().await;
    let _ = client.shutdown().await;
    result
}

async fn pump(
    client: &mut TcpStream,
    server: &mut TcpStream,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = server.split();
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    let mut phase = Phase::Between;
    let mut matched = 0usize;
    let mut last = Instant::now();
    // The client has closed its sending side: the answer may still be coming.
    let mut client_done = false;
    // A peer that does not take what is written to it counts as idle too.
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "peer too slow");
    loop {
        let mut deadline = last + timeouts.idle;
        if let Phase::Headers(since) = phase {
            deadline = deadline.min(since + timeouts.header);
        }
        tokio::select! {
            read = from_client.read(&mut up), if !client_done => {
                let n = read?;
                if n == 0 {
                    client_done = true;
                    to_server.shutdown().await?;
                    continue;
                }
                last = Instant::now();
                let mut rest = &up[..n];
                while !rest.is_empty() {
                    match phase {
                        Phase::Between => {
                            phase = Phase::Headers(last);
                            matched = 0;
                        }
                        Phase::Headers(_) => match scan_end_of_headers(&mut matched, rest) {
                            Some(end) => {
                                phase = Phase::Exchange;
                                rest = &rest[end..];
                            }
                            None => rest = &[],
                        },
                        // Body bytes, or a pipelined request: the answer restarts the cycle.
                        Phase::Exchange => rest = &[],
                    }
                }
                tokio::time::timeout_at(last + timeouts.idle, to_server.write_all(&up[..n]))
                    .await
                    .map_err(|_| timed_out())??;
            }
            read = from_server.read(&mut down) => {
                let n = read?;
                if n == 0 {
                    return Ok(());
                }
                last = Instant::now();
                if phase == Phase::Exchange {
                    phase = Phase::Between;
                }
                tokio::time::timeout_at(last + timeouts.idle, to_client.write_all(&down[..n]))
                    .await
                    .map_err(|_| timed_out())??;
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_headers_is_found_across_reads() {
        let mut m = 0;
        assert_eq!(
            scan_end_of_headers(&mut m, b"GET / HTTP/1.1\r\nHost: x\r"),
            None
        );
        assert_eq!(scan_end_of_headers(&mut m, b"\n\r"), None);
        assert_eq!(scan_end_of_headers(&mut m, b"\nbody"), Some(1));
        let mut m = 0;
        assert_eq!(scan_end_of_headers(&mut m, b"a\r\n\r\r\n\r\nb"), Some(8));
    }

    #[test]
    fn only_loopback_relays_are_mapped() {
        let clients = Clients::default();
        let real: SocketAddr = "203.0.113.7:5555".parse().expect("addr");
        clients.insert(40000, real);
        let relay: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
        assert_eq!(clients.client_of(relay), Some(real.ip()));
        let outside: SocketAddr = "198.51.100.1:40000".parse().expect("addr");
        assert_eq!(clients.client_of(outside), None);
        clients.remove(40000);
        assert_eq!(clients.client_of(relay), None);
    }
}
