//! `--latency` and `--max-inflight`: the sandbox as a far-away, busy API server.

use std::time::{Duration, Instant};

use chaosdeck_sandbox::throttle::Latency;
use chaosdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One raw HTTP/1.1 GET (kube-rs would retry a 429 by itself); the whole response as text.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_waits_out_the_latency() {
    let latency: Latency = "40ms".parse().unwrap();
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Empty,
        latency: Some(latency),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = sandbox.client().unwrap();
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    for _ in 0..3 {
        let started = Instant::now();
        namespaces.get("kube-system").await.unwrap();
        // A lower bound only: the delay is a sleep the server must take before answering.
        assert!(started.elapsed() >= Duration::from_millis(40), "{:?}", started.elapsed());
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_inflight_requests_get_429_with_retry_after() {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Empty,
        // Long enough that the second request lands inside the first on a loaded machine.
        latency: Some("1500ms".parse().unwrap()),
        max_inflight: Some(1),
        record_requests: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = sandbox.addr();
    let first = tokio::spawn(async move { get(addr, "/api/v1/namespaces/kube-system").await });
    // The first holds the only slot for its 1.5 s; wait until the server has seen it.
    while sandbox.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = get(addr, "/api/v1/namespaces/default").await;
    let first = first.await.unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(second.starts_with("HTTP/1.1 429"), "{second}");
    assert!(second.to_ascii_lowercase().contains("retry-after: 1"), "{second}");
    assert!(second.contains("\"reason\":\"TooManyRequests\""), "{second}");
    assert!(second.contains("\"retryAfterSeconds\":1"), "{second}");
    // Once the slot is free again, requests go through.
    let third = get(addr, "/api/v1/namespaces/default").await;
    assert!(third.starts_with("HTTP/1.1 200"), "{third}");
    sandbox.shutdown().await;
}
