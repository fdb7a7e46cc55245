//! A minimal HTTP/1.1 client for the load generator: one keep-alive connection per worker, one
//! request at a time, `Content-Length` or chunked bodies.
//!
//! reqwest would do, but it costs the load core several times what this does per request (URL
//! parsing, header maps, a pool, boxed futures), and the load core must never be what bounds a
//! figure. The server is ours and answers with sized bodies; chunked bodies are handled anyway.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where the server is: its socket address, the base path of the SCIM API, and the bearer key.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port`, for the `Host` header.
    pub host: String,
    /// The SCIM base path, such as `/scim/v2`.
    pub base_path: String,
    pub key: String,
}

impl Target {
    /// From a base URL such as `http://127.0.0.1:40123/scim/v2`.
    pub fn from_base_url(base: &str, key: &str) -> Result<Target, String> {
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("not an http:// URL: {base}"))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let addr: SocketAddr = host
            .parse()
            .map_err(|e| format!("{host} is not an IP address and port: {e}"))?;
        Ok(Target {
            addr,
            host: host.to_string(),
            base_path: path.trim_end_matches('/').to_string(),
            key: key.to_string(),
        })
    }
}

/// A response: its status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    /// Bytes read and not consumed yet.
    buf: Vec<u8>,
    /// The request head's constant part: `Host` and `Authorization`.
    fixed_headers: String,
    /// The server asked to close (or gave no length): reconnect before the next request.
    pub closed: bool,
}

const TIMEOUT: Duration = Duration::from_secs(120);

impl Conn {
    pub async fn connect(target: &Target) -> std::io::Result<Conn> {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(target.addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            fixed_headers: format!(
                "Host: {}\r\nAuthorization: Bearer {}\r\nAccept: application/scim+json\r\n",
                target.host, target.key
            ),
            closed: false,
        })
    }

    /// Sends one request (`path` absolute, query included) and reads its response.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> std::io::Result<Response> {
        tokio::time::timeout(TIMEOUT, self.exchange(method, path, body))
            .await
            .map_err(|_| {
                self.closed = true;
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no response within 120 s")
            })?
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> std::io::Result<Response> {
        let mut head = String::with_capacity(256 + path.len());
        head.push_str(method);
        head.push(' ');
        head.push_str(path);
        head.push_str(" HTTP/1.1\r\n");
        head.push_str(&self.fixed_headers);
        if let Some(b) = body {
            head.push_str("Content-Type: application/scim+json\r\nContent-Length: ");
            head.push_str(&b.len().to_string());
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if let Some(b) = body {
            out.extend_from_slice(b);
        }
        self.stream.write_all(&out).await?;
        let r = self.read_response(method == "HEAD").await;
        if r.is_err() {
            self.closed = true;
        }
        r
    }

    /// Reads more bytes into `buf`; an error at end of stream.
    async fn fill(&mut self) -> std::io::Result<()> {
        let start = self.buf.len();
        self.buf.resize(start + 16 * 1024, 0);
        let n = self.stream.read(&mut self.buf[start..]).await;
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(start);
                return Err(e);
            }
        };
        self.buf.truncate(start + n);
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(())
    }

    async fn read_response(&mut self, head_only: bool) -> std::io::Result<Response> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > 64 * 1024 {
                return Err(invalid("response head over 64 KiB"));
            }
            self.fill().await?;
        };
        let head = parse_head(&self.buf[..head_end])?;
        self.buf.drain(..head_end);
        if head.close {
            self.closed = true;
        }
        let no_body = head_only || head.status == 204 || head.status == 304 || head.status < 200;
        let body = if no_body {
            Vec::new()
        } else if head.chunked {
            self.read_chunked().await?
        } else if let Some(len) = head.content_length {
            while self.buf.len() < len {
                self.fill().await?;
            }
            self.buf.drain(..len).collect()
        } else {
            // No length: the body runs to the end of the connection.
            self.closed = true;
            loop {
                match self.fill().await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            std::mem::take(&mut self.buf)
        };
        Ok(Response {
            status: head.status,
            body,
        })
    }

    async fn read_chunked(&mut self) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                self.fill().await?;
            };
            let line = std::str::from_utf8(&self.buf[..line_end])
                .map_err(|_| invalid("chunk size is not text"))?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid("chunk size is not hexadecimal"))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers, then an empty line.
                loop {
                    let end = loop {
                        if let Some(i) = find(&self.buf, b"\r\n") {
                            break i;
                        }
                        self.fill().await?;
                    };
                    self.buf.drain(..end + 2);
                    if end == 0 {
                        return Ok(body);
                    }
                }
            }
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
}

fn parse_head(bytes: &[u8]) -> std::io::Result<Head> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(invalid("not an HTTP/1.x response"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid("no status code"))?;
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
        close: version == "HTTP/1.0",
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(
                value
                    .parse()
                    .map_err(|_| invalid("Content-Length is not a number"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                head.close = true;
            } else if v.contains("keep-alive") {
                head.close = false;
            }
        }
    }
    Ok(head)
}

/// The server's commit counters, from its `/metrics`: batches and the writes in them (sled
/// only; `None` when the server has none or cannot be read).
pub async fn commit_counts(target: &Target) -> Option<(u64, u64)> {
    let mut conn = Conn::connect(target).await.ok()?;
    let r = conn.send("GET", "/metrics", None).await.ok()?;
    let text = String::from_utf8(r.body).ok()?;
    let counter = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok())
    };
    Some((
        counter("scim_commit_batches_total")?,
        counter("scim_commit_writes_total")?,
    ))
}

/// Writes per batch between two readings of [`commit_counts`]; `None` without both, or when
/// no batch ran between them.
pub fn writes_per_batch(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((b0, w0), (b1, w1)) = (before?, after?);
    let batches = b1.checked_sub(b0).filter(|b| *b > 0)?;
    Some(w1.saturating_sub(w0) as f64 / batches as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_per_batch_between_two_readings() {
        assert_eq!(writes_per_batch(Some((10, 30)), Some((14, 70))), Some(10.0));
        assert_eq!(
            writes_per_batch(Some((10, 30)), Some((10, 30))),
            None,
            "nothing committed"
        );
        assert_eq!(writes_per_batch(None, Some((4, 9))), None, "no counters");
        assert_eq!(writes_per_batch(Some((4, 9)), None), None);
    }

    #[test]
    fn parses_heads() {
        let h = parse_head(b"HTTP/1.1 201 Created\r\ncontent-length: 12\r\nETag: W/\"1\"\r\n\r\n")
            .expect("head");
        assert_eq!(
            h,
            Head {
                status: 201,
                content_length: Some(12),
                chunked: false,
                close: false
            }
        );
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )
        .expect("head");
        assert!(h.chunked && h.close);
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn reads_sized_and_chunked_bodies_over_one_connection() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.expect("accept");
                let mut seen = Vec::new();
                let mut answered = 0;
                let answers: [&[u8]; 3] = [
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
                    b"HTTP/1.1 204 No Content\r\n\r\n",
                ];
                let mut buf = [0u8; 4096];
                while answered < answers.len() {
                    let n = s.read(&mut buf).await.expect("read");
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(i) = find(&seen, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..i]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .map_or(0, |v| v.parse::<usize>().expect("len"));
                        if seen.len() < i + 4 + len {
                            break;
                        }
                        seen.drain(..i + 4 + len);
                        s.write_all(answers[answered]).await.expect("write");
                        answered += 1;
                    }
                }
            });
            let target =
                Target::from_base_url(&format!("http://{addr}/scim/v2"), "k").expect("target");
            assert_eq!(target.base_path, "/scim/v2");
            let mut c = Conn::connect(&target).await.expect("connect");
            let r = c.send("GET", "/a", None).await.expect("first");
            assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
            let r = c.send("POST", "/b", Some(b"{}")).await.expect("second");
            assert_eq!((r.status, r.body.as_slice()), (200, b"abcde".as_slice()));
            let r = c.send("DELETE", "/c", None).await.expect("third");
            assert_eq!((r.status, r.body.len()), (204, 0));
            assert!(!c.closed);
        });
    }
}
