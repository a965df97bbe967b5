//! Nodes started in process on loopback, for `detente demo` and benchmarks: real
//! data directories, servers and HTTP between them.

use detente_domain::{Country, Origin};
use detente_node::exchange::{Clock, Exchange};
use detente_node::peers::Peer;
use detente_node::{datadir, Node};
use std::path::Path;
use std::sync::Arc;

pub struct ClusterNode {
    pub node: Arc<Node>,
    pub exchange: Arc<Exchange>,
    pub url: String,
}

/// Initialises a node in `dir` (on the embedded default, or on `database`)
/// and serves it on 127.0.0.1:0.
pub async fn start(
    dir: &Path,
    origin: &str,
    country: &str,
    clock: Clock,
    database: Option<&str>,
) -> anyhow::Result<ClusterNode> {
    let country = Some(Country::parse(country)?);
    datadir::init_on(dir, &Origin::parse(origin)?, country, database)?;
    serve(dir, clock).await
}

/// One address in front of several replicas, as a load balancer would be:
/// bound first, so the replicas can be told it is their public URL.
pub struct RoundRobin {
    listener: tokio::net::TcpListener,
    pub url: String,
}

impl RoundRobin {
    pub async fn bind() -> anyhow::Result<RoundRobin> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        Ok(RoundRobin { listener, url })
    }

    /// Relays each connection to the next of `targets` in turn.
    pub fn forward(self, targets: Vec<String>) {
        let hosts: Vec<String> = targets
            .iter()
            .map(|t| t.trim_start_matches("http://").to_string())
            .collect();
        let listener = self.listener;
        tokio::spawn(async move {
            for turn in 0.. {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let host = hosts[turn % hosts.len()].clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(host).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }
}

/// Serves the node already initialised in `dir` on 127.0.0.1:0.
pub async fn serve(dir: &Path, clock: Clock) -> anyhow::Result<ClusterNode> {
    let node = Node::open(dir)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (app, exchange) = detente_server::node_app_parts(node.clone(), clock)?;
    tokio::spawn(detente_server::run(listener, app, std::future::pending()));
    Ok(ClusterNode {
        node,
        exchange,
        url,
    })
}

/// Makes `b` a peer of `a`.
pub async fn peer(a: &ClusterNode, b: &ClusterNode, country: &str) -> anyhow::Result<()> {
    let p = Peer::parse(
        &b.node.config().origin,
        &b.url,
        &b.node.verifier().to_string(),
        country,
    )?;
    a.node.add_peer(&p).await?;
    Ok(())
}
