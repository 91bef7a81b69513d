//! The one answer no layer of ours can shape.
//!
//! hyper answers a request it cannot parse (a malformed request line, a path
//! of raw bytes, headers too many or too large, a URI too long) by itself,
//! before any router or middleware runs, with an empty body. Every other
//! error of this service is JSON, so [`JsonErrors`] wraps each connection's
//! socket and rewrites exactly those answers as it writes them: a 400, 414 or
//! 431 with `content-length: 0`, which no route of ours ever sends. hyper
//! closes the connection after such an answer, so nothing follows it. Each
//! is counted as any answer is (`boxoffice_http_requests_total`), under the
//! route `(unparsed)` and the method `-`: neither could be read.

use crate::http::error::ErrorCode;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::telemetry::metrics as m;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A socket whose writes pass through untouched, except hyper's own empty
/// parse-error answers, which go out with a JSON body.
pub(crate) struct JsonErrors<T> {
    inner: T,
    /// A rewritten answer being written, and how long hyper's original was.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<T> JsonErrors<T> {
    pub(super) fn new(inner: T) -> Self {
        JsonErrors { inner, replacing: None }
    }
}

/// One of hyper's own answers, as written instead.
struct Rewrite {
    bytes: Vec<u8>,
    status: &'static str,
    code: &'static str,
}

/// The JSON answer for one of hyper's own, or `None` for anything else.
fn rewritten(written: &[u8]) -> Option<Rewrite> {
    let status_line_end = written.windows(2).position(|pair| pair == b"\r\n")?;
    let status_line = std::str::from_utf8(&written[..status_line_end]).ok()?;
    let (status, code, message) = match status_line.strip_prefix("HTTP/1.1 ")?.get(..3)? {
        "400" => (
            "400",
            ErrorCode::MalformedRequest.as_str(),
            "the request could not be parsed as HTTP",
        ),
        "414" => ("414", ErrorCode::UriTooLong.as_str(), "the request's URI is too long"),
        "431" => (
            "431",
            ErrorCode::HeadersTooLarge.as_str(),
            "the request's headers are too many or too large",
        ),
        _ => return None,
    };
    let head_end = written.windows(4).position(|quad| quad == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&written[..head_end]).to_ascii_lowercase();
    if head_end != written.len() || !head.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let body = format!(r#"{{"code":"{code}","message":"{message}"}}"#);
    let bytes = format!(
        "{status_line}\r\ncontent-type: application/json\r\nx-content-type-options: nosniff\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    Some(Rewrite { bytes, status, code })
}

/// Rare (a client that cannot speak HTTP), so the series is looked up each time.
fn count(rewrite: &Rewrite) {
    metrics::counter!(
        m::HTTP_REQUESTS,
        "route" => "(unparsed)",
        "method" => "-",
        "status" => rewrite.status,
        "code" => rewrite.code
    )
    .increment(1);
}

impl<T: AsyncWrite + Unpin> JsonErrors<T> {
    /// Writes out the rewritten answer; then hyper's whole original counts as written.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, original)) = &mut self.replacing {
            if *written == bytes.len() {
                let original = *original;
                self.replacing = None;
                return Poll::Ready(Ok(original));
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            match rewritten(buf) {
                Some(rewrite) => {
                    count(&rewrite);
                    self.replacing = Some((rewrite.bytes, 0, buf.len()));
                }
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        self.drain(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper's own answers are a head alone: one slice, no body.
        if self.replacing.is_none() && !(bufs.len() == 1 && rewritten(&bufs[0]).is_some()) {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        match bufs.first() {
            Some(first) => self.poll_write(cx, first),
            None => Poll::Ready(Ok(0)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(_)) => Pin::new(&mut self.inner).poll_flush(cx),
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(_)) => Pin::new(&mut self.inner).poll_shutdown(cx),
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_empty_answers_are_rewritten() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 23 Nov 2026 14:00:00 GMT\r\n\r\n";
        let json = String::from_utf8(rewritten(hyper_431).unwrap().bytes).unwrap();
        assert!(
            json.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{json}"
        );
        let body = json.split("\r\n\r\n").nth(1).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(parsed["code"], "HEADERS_TOO_LARGE");
        assert!(json.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(json.contains("\r\nx-content-type-options: nosniff\r\n"), "{json}");

        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n";
        assert!(rewritten(ours).is_none(), "a head of ours, with a body to follow");
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(rewritten(ok).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nextra";
        assert!(rewritten(with_body).is_none());
    }
}
