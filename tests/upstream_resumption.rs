//! The gateway's own streams from an HTTP upstream are resumed when they
//! drop: a call whose response stream is cut mid-call is taken up again with
//! GET and `Last-Event-ID`, and the client sees every progress notification
//! and the result as if nothing had happened. The upstream is a second
//! gateway (in front of server-everything), whose streams are resumable,
//! reached through a proxy that cuts the first response stream carrying a
//! progress notification.

mod common;

use common::peers::everything_upstream;
use common::raw::{RawSession, Sse, SseNext};
use common::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RELAY: &str = "request_timeout = \"30s\"";

/// A TCP proxy on 127.0.0.1 to `upstream` that cuts the first connection
/// whose response carries a progress notification, just after it. Returns
/// its address and how many connections it cut.
async fn cutting_proxy(upstream: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let cuts = Arc::new(AtomicUsize::new(0));
    let counted = cuts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let cuts = counted.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else { return };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let requests = tokio::io::copy(&mut client_read, &mut server_write);
                let responses = async {
                    let mut buffer = vec![0u8; 16 * 1024];
                    loop {
                        let n = server_read.read(&mut buffer).await.unwrap_or(0);
                        if n == 0 || client_write.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                        let progress = String::from_utf8_lossy(&buffer[..n]).contains("notifications/progress");
                        if progress && cuts.fetch_add(1, Ordering::SeqCst) == 0 {
                            return;
                        }
                    }
                };
                // Either way both sockets close here.
                tokio::select! {
                    _ = requests => {}
                    () = responses => {}
                }
            });
        }
    });
    (address, cuts)
}

#[tokio::test]
async fn a_call_whose_upstream_stream_is_cut_is_resumed_and_completes() {
    let inner = start_gateway_with_relay(&everything_upstream("everything"), ALLOW_ALL, RELAY).await;
    let inner_address: std::net::SocketAddr =
        inner.url.trim_start_matches("http://").trim_end_matches("/mcp").parse().unwrap();
    let (proxy, cuts) = cutting_proxy(inner_address).await;
    let upstream = http_upstream("inner", &format!("http://{proxy}/mcp/everything"));
    let outer = start_gateway_with_relay(&upstream, ALLOW_ALL, RELAY).await;
    let session = RawSession::open(&outer.url).await;
    let call = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{
        "name":"inner__trigger-long-running-operation","arguments":{"duration":1.0,"steps":4},
        "_meta":{"progressToken":"t"}}});
    let (messages, end) = Sse::new(session.post(call.to_string()).await).rest().await;
    assert!(matches!(end, SseNext::End));
    assert!(cuts.load(Ordering::SeqCst) >= 1, "the proxy cut the upstream stream");
    let progress: Vec<u64> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| m["params"]["progress"].as_u64().unwrap())
        .collect();
    assert_eq!(progress, [1, 2, 3, 4], "{messages:?}");
    let last = messages.last().unwrap();
    assert_eq!(last["id"], 5);
    assert!(last["result"]["content"][0]["text"].as_str().unwrap().contains("completed"), "{last}");
}
