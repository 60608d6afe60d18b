//! The load generator's connection: plain HTTP/1.1 with keep-alive over one TCP stream,
//! requests encoded once up front and answers read by their `Content-Length`. Like `wrk`, it
//! does as little per request as it can, so that the cores it shares with the server go to the
//! server (a general HTTP client parsing and validating every answer cost a quarter of the
//! two cores in `bench serve`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use anyhow::{Context, Result, anyhow, bail};

/// A request ready to send: its bytes on the wire.
pub struct Encoded(Vec<u8>);

impl Encoded {
    /// `POST path` with a JSON body.
    pub fn post_json(addr: SocketAddr, path: &str, body: &str) -> Encoded {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        Encoded([head.as_bytes(), body.as_bytes()].concat())
    }
}

/// One keep-alive connection.
pub struct Connection {
    stream: BufReader<TcpStream>,
    body: Vec<u8>,
}

impl Connection {
    pub fn open(addr: SocketAddr) -> Result<Connection> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream: BufReader::with_capacity(64 << 10, stream), body: Vec::new() })
    }

    /// Sends `request` and reads the answer: its status, with the body kept in the
    /// connection (see [`Connection::body`]).
    pub fn send(&mut self, request: &Encoded) -> Result<u16> {
        self.stream.get_mut().write_all(&request.0)?;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("not an HTTP status line: {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            if self.stream.read_line(&mut line)? == 0 {
                bail!("the server closed the connection in the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>().context("Content-Length")?);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("the answer is {}: this client reads Content-Length bodies only", value.trim());
                }
            }
        }
        let n = length.ok_or_else(|| anyhow!("the answer has no Content-Length"))?;
        self.body.resize(n, 0);
        self.stream.read_exact(&mut self.body)?;
        Ok(status)
    }

    /// The last answer's body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn reads_answers_by_content_length_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(s);
            for answer in ["{\"a\":1}", "[]"] {
                let mut line = String::new();
                let mut length = 0;
                loop {
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                r.read_exact(&mut body).unwrap();
                assert_eq!(body, b"{\"q\":true}");
                let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{answer}", answer.len());
                r.get_mut().write_all(reply.as_bytes()).unwrap();
            }
        });
        let mut c = Connection::open(addr).unwrap();
        let req = Encoded::post_json(addr, "/v1/x", "{\"q\":true}");
        assert_eq!(c.send(&req).unwrap(), 200);
        assert_eq!(c.body(), b"{\"a\":1}");
        assert_eq!(c.send(&req).unwrap(), 200);
        assert_eq!(c.body(), b"[]");
        server.join().unwrap();
    }
}
