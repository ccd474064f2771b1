//! A TCP proxy in front of an API server that a test can cut and heal: a network partition
//! between one client and the cluster, while others still reach it directly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

pub struct Proxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    drop_all: broadcast::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on 127.0.0.1 and forwards every connection to `upstream` (host:port).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let (drop_all, _) = broadcast::channel(1);
        let task = {
            let cut = cut.clone();
            let drop_all = drop_all.clone();
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        // Refused: closed at once, like a dead route's reset.
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let mut stop = drop_all.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = stop.recv() => {}
                        }
                    });
                }
            })
        };
        Proxy { addr, cut, drop_all, task }
    }

    /// Cuts every open connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let _ = self.drop_all.send(());
    }

    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// A copy of `kubeconfig` whose cluster server goes through this proxy (same scheme, so
    /// TLS still verifies: the real API server's certificate names 127.0.0.1).
    pub fn kubeconfig(&self, kubeconfig: &Path, out_dir: &Path) -> PathBuf {
        let text = std::fs::read_to_string(kubeconfig).unwrap();
        let mut doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        for cluster in doc["clusters"].as_array_mut().unwrap() {
            let server = cluster["cluster"]["server"].as_str().unwrap().to_string();
            let scheme = server.split("://").next().unwrap().to_string();
            cluster["cluster"]["server"] =
                serde_json::Value::String(format!("{scheme}://{}", self.addr));
        }
        let path = out_dir.join("through-proxy.kubeconfig");
        std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
        path
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.drop_all.send(());
    }
}

/// `host:port` of a kubeconfig's first cluster.
pub fn upstream_of(kubeconfig: &Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let server = doc["clusters"][0]["cluster"]["server"].as_str().unwrap();
    server.split("://").nth(1).unwrap().trim_end_matches('/').to_string()
}
