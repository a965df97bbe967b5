//! The accept loop: HTTP/1.1 over plain TCP or TLS, with the connection limits
//! `axum::serve` does not offer. A client must finish each request's headers
//! within the header timeout (hyper starts that clock as soon as it waits for
//! a request, so it also closes kept-alive connections that stay silent); a
//! connection on which nothing moves in either direction for the idle timeout
//! is closed (a client that stops reading its response); and one client
//! address may hold only so many connections open. Together they stop a
//! slowloris client from holding the server's connections.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::ServerConfig;
use tower::ServiceExt;

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The local address a request came in on, as the server saw it. A signed
/// peer call must name this node (`@authority`), and without a configured
/// `public_urls` the address peers connect to is what names it.
#[derive(Clone, Copy, Debug)]
pub struct LocalAddr(pub SocketAddr);

/// Limits on connections (`[limits]` in `config.toml`).
#[derive(Clone, Debug)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub connections_per_address: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        (&detente_node::config::Limits::default()).into()
    }
}

impl From<&detente_node::config::Limits> for ConnLimits {
    fn from(l: &detente_node::config::Limits) -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(l.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(l.idle_timeout_secs.max(1)),
            connections_per_address: l.connections_per_address.max(1),
        }
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown`
/// resolves, then waits for open connections to finish.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let open = Arc::new(OpenConnections::new(limits.connections_per_address));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = open.claim(remote.ip()) else {
            tracing::debug!(%remote, "too many connections from this address; closed");
            continue;
        };
        let conn = Connection {
            app: app.clone(),
            limits: limits.clone(),
            remote,
            watcher: graceful.watcher(),
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _slot = slot;
            conn.run(tcp, acceptor).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

struct Connection {
    app: Router,
    limits: ConnLimits,
    remote: SocketAddr,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Connection {
    async fn run(self, tcp: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>) {
        let _ = tcp.set_nodelay(true);
        let local = match tcp.local_addr() {
            Ok(a) => a,
            Err(_) => return,
        };
        let Some(acceptor) = tls else {
            return self.http(tcp, local).await;
        };
        match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => self.http(stream, local).await,
            Ok(Err(e)) => tracing::debug!(peer = %self.remote, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %self.remote, "TLS handshake timed out"),
        }
    }

    /// HTTP/1.1 on `stream` until the client leaves, a limit closes it, or
    /// the server shuts down.
    async fn http<S>(self, stream: S, local: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let remote = self.remote;
        let service = self
            .app
            .map_request(move |mut req: axum::extract::Request<_>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                req.extensions_mut().insert(LocalAddr(local));
                req
            });
        let (stream, last_activity) = Tracked::new(stream);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = self.watcher.watch(conn);
        tokio::select! {
            result = conn => {
                if let Err(e) = result {
                    tracing::debug!(peer = %remote, error = %e, "connection ended with an error");
                }
            }
            () = idle(last_activity, self.limits.idle_timeout) => {
                tracing::debug!(peer = %remote, "connection idle too long; closed");
            }
        }
    }
}

/// When bytes last moved on a connection, in milliseconds since `start`.
#[derive(Clone)]
struct Activity {
    start: std::time::Instant,
    last: Arc<AtomicU64>,
}

/// Resolves once nothing moved on the connection for `limit`.
async fn idle(activity: Activity, limit: Duration) {
    let start = tokio::time::Instant::from_std(activity.start);
    loop {
        let since_start = Duration::from_millis(activity.last.load(Ordering::Relaxed));
        let deadline = start + since_start + limit;
        if tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// A stream that notes when bytes last moved.
struct Tracked<S> {
    inner: S,
    activity: Activity,
}

impl<S> Tracked<S> {
    fn new(inner: S) -> (Self, Activity) {
        let activity = Activity {
            start: std::time::Instant::now(),
            last: Arc::default(),
        };
        let t = Tracked {
            inner,
            activity: activity.clone(),
        };
        (t, activity)
    }

    fn touch(&self) {
        let ms = self.activity.start.elapsed().as_millis() as u64;
        self.activity.last.store(ms, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Open connections per client address (IPv6 by /64, what one client
/// usually holds).
struct OpenConnections {
    max: usize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection; dropping it frees the slot.
struct Slot {
    open: Arc<OpenConnections>,
    address: IpAddr,
}

impl OpenConnections {
    fn new(max: usize) -> Self {
        OpenConnections {
            max,
            by_address: Mutex::default(),
        }
    }

    fn claim(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let address = client_key(ip);
        let mut map = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(address).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            open: self.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self
            .open
            .by_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.address);
            }
        }
    }
}

/// The address limits apply to: IPv4 as is, IPv6 by its /64 prefix.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_per_address_and_freed() {
        let open = Arc::new(OpenConnections::new(2));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = open.claim(a).unwrap();
        let _second = open.claim(a).unwrap();
        assert!(open.claim(a).is_none());
        assert!(open.claim(b).is_some());
        drop(first);
        assert!(open.claim(a).is_some());
    }

    #[test]
    fn ipv6_clients_are_counted_by_prefix() {
        let open = Arc::new(OpenConnections::new(1));
        let _one = open.claim("2001:db8::1".parse().unwrap()).unwrap();
        assert!(open.claim("2001:db8::2:3".parse().unwrap()).is_none());
        assert!(open.claim("2001:db8:0:1::1".parse().unwrap()).is_some());
        assert_eq!(
            client_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}
