//! An HTTP/1.1 proxy on 127.0.0.1 in front of the S3 server that lets a set number of requests through and then
//! answers 503 to every other, to fail a batch part-way, and that can damage request bodies on the way; and a
//! listener that accepts connections and never answers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Forwards requests to `upstream` while its allowance lasts; answers 503 after that.
pub struct FaultProxy {
    port: u16,
    state: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    allowance: AtomicUsize,
    forwarded: AtomicUsize,
    bodies_to_damage: AtomicUsize,
    request_heads: Mutex<Vec<String>>,
}

impl FaultProxy {
    /// Starts a proxy that lets `allowance` requests through to `upstream_port`.
    pub async fn start(upstream_port: u16, allowance: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy on 127.0.0.1");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(ProxyState { allowance: AtomicUsize::new(allowance), ..Default::default() });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(client, upstream_port, &state).await;
                });
            }
        });
        Self { port, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Lets every further request through.
    pub fn heal(&self) {
        self.state.allowance.store(usize::MAX, Ordering::SeqCst);
    }

    /// Flips one byte in the body of each of the next `count` requests that have a body.
    pub fn damage_next_bodies(&self, count: usize) {
        self.state.bodies_to_damage.store(count, Ordering::SeqCst);
    }

    /// How many requests reached the server.
    pub fn forwarded(&self) -> usize {
        self.state.forwarded.load(Ordering::SeqCst)
    }

    /// The request line and headers of every request the proxy received, lowercased.
    pub fn request_heads(&self) -> Vec<String> {
        self.state.request_heads.lock().expect("not poisoned").clone()
    }
}

/// An HTTP message: its head up to the blank line, then its body.
struct Message {
    bytes: Vec<u8>,
    head_len: usize,
}

/// Reads one message (head and Content-Length body); `None` at end of stream.
async fn read_message(reader: &mut BufReader<impl AsyncReadExt + Unpin>) -> std::io::Result<Option<Message>> {
    let mut message = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some(value) = text.strip_prefix("content-length:") {
            content_length = value.trim().parse().unwrap_or(0);
        }
        message.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let head_len = message.len();
    message.resize(head_len + content_length, 0);
    reader.read_exact(&mut message[head_len..]).await?;
    Ok(Some(Message { bytes: message, head_len }))
}

/// Takes one from `counter` if it is above zero.
fn take_one(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)).is_ok()
}

async fn serve(client: TcpStream, upstream_port: u16, state: &ProxyState) -> std::io::Result<()> {
    let (client_read, mut client_write) = client.into_split();
    let mut client_read = BufReader::new(client_read);
    while let Some(mut request) = read_message(&mut client_read).await? {
        let head = String::from_utf8_lossy(&request.bytes[..request.head_len]).to_ascii_lowercase();
        state.request_heads.lock().expect("not poisoned").push(head);
        let allowed = take_one(&state.allowance);
        if !allowed {
            let refusal =
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/xml\r\ncontent-length: 0\r\n\r\n";
            client_write.write_all(refusal.as_bytes()).await?;
            continue;
        }
        if request.bytes.len() > request.head_len && take_one(&state.bodies_to_damage) {
            let last = request.bytes.len() - 1;
            request.bytes[last] ^= 0x20;
        }
        state.forwarded.fetch_add(1, Ordering::SeqCst);
        let upstream = TcpStream::connect(("127.0.0.1", upstream_port)).await?;
        let (upstream_read, mut upstream_write) = upstream.into_split();
        upstream_write.write_all(&request.bytes).await?;
        let mut upstream_read = BufReader::new(upstream_read);
        let Some(response) = read_message(&mut upstream_read).await? else { return Ok(()) };
        client_write.write_all(&response.bytes).await?;
    }
    Ok(())
}

/// A listener that accepts connections and never answers: a store that hangs.
pub async fn unresponsive_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind on 127.0.0.1");
    let port = listener.local_addr().expect("address").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    (port, task)
}
