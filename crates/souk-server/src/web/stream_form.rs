//! A `multipart/form-data` console form read as a stream: its first part must be the page's
//! CSRF token, checked before anything else is read, and its file part is handed on as a
//! stream of chunks (only a delimiter's length is held back while looking for the end), so
//! the after-sale uploads go to the blob store without the whole file in memory. Unlike
//! `upload::SubmittedFile` (invoice forms, read whole), field order matters here: the token
//! first, the file last.

use crate::error::AppError;
use axum::body::BodyDataStream;
use axum::http::{header, HeaderMap, StatusCode};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

/// The most a part's headers or a text field may hold.
const FIELD_BYTES: usize = 16 * 1024;

fn bad(message: &str) -> AppError {
    AppError::bad_request("invalid_form", message.to_owned())
}

/// The headers of one part.
#[derive(Debug, PartialEq, Eq)]
pub struct PartHead {
    pub name: String,
    /// `Some` for a file part (possibly empty when no file was chosen).
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

/// Reads a multipart body part by part.
pub struct StreamForm {
    body: BodyDataStream,
    buf: BytesMut,
    /// `\r\n--boundary`; the body's first delimiter lacks the `\r\n`, so the buffer starts
    /// with one.
    delim: Vec<u8>,
    eof: bool,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A header parameter such as `name="x"` in a part's `Content-Disposition`.
fn param(line: &str, key: &str) -> Option<String> {
    let pat = format!("; {key}=\"");
    let start = line.find(&pat)? + pat.len();
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_owned())
}

/// A part's name, filename and content type from its header lines.
pub(super) fn head_fields(head: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (mut name, mut filename, mut content_type) = (None, None, None);
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("content-disposition:") {
            name = param(line, "name");
            filename = param(line, "filename");
        } else if let Some(v) = lower.strip_prefix("content-type:") {
            content_type = Some(v.trim().to_owned());
        }
    }
    (name, filename, content_type)
}

/// The form's boundary from its `Content-Type`.
pub fn boundary(headers: &HeaderMap) -> Result<String, AppError> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.starts_with("multipart/form-data"))
        .and_then(|t| t.split("boundary=").nth(1))
        .map(|b| {
            b.split(';')
                .next()
                .unwrap_or(b)
                .trim_matches('"')
                .to_owned()
        })
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or_else(|| bad("send the form as multipart/form-data"))
}

impl StreamForm {
    pub fn new(body: axum::body::Body, boundary: &str) -> StreamForm {
        StreamForm {
            body: body.into_data_stream(),
            buf: BytesMut::from(&b"\r\n"[..]),
            delim: format!("\r\n--{boundary}").into_bytes(),
            eof: false,
        }
    }

    /// Reads one more chunk; false at the end of the body.
    async fn more(&mut self) -> Result<bool, AppError> {
        if self.eof {
            return Ok(false);
        }
        match self.body.next().await {
            Some(Ok(chunk)) => {
                self.buf.extend_from_slice(&chunk);
                Ok(true)
            }
            Some(Err(e)) => Err(AppError::bad_request(
                "upload_interrupted",
                format!("the upload broke off: {e}"),
            )),
            None => {
                self.eof = true;
                Ok(false)
            }
        }
    }

    /// Fills the buffer until `needle` is in it (within `limit` bytes); its position.
    async fn until(&mut self, needle: &[u8], limit: usize) -> Result<usize, AppError> {
        loop {
            if let Some(at) = find(&self.buf, needle) {
                return Ok(at);
            }
            if self.buf.len() > limit + needle.len() {
                return Err(bad("a form field is too long"));
            }
            if !self.more().await? {
                return Err(bad("the form ended early"));
            }
        }
    }

    /// The next part's headers, `None` after the closing delimiter. The buffer must start at
    /// a delimiter (the previous part's data was consumed up to it).
    pub async fn next_part(&mut self) -> Result<Option<PartHead>, AppError> {
        let at = self.until(&self.delim.clone(), FIELD_BYTES).await?;
        if at != 0 {
            return Err(bad("a broken form part"));
        }
        while self.buf.len() < self.delim.len() + 2 {
            if !self.more().await? {
                return Err(bad("the form ended early"));
            }
        }
        self.buf.advance(self.delim.len());
        if self.buf.starts_with(b"--") {
            return Ok(None);
        }
        let end = self.until(b"\r\n\r\n", FIELD_BYTES).await?;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.advance(end + 4);
        let (name, filename, content_type) = head_fields(&head);
        let name = name.ok_or_else(|| bad("a form part has no name"))?;
        Ok(Some(PartHead {
            name,
            filename,
            content_type,
        }))
    }

    /// The current part's data as text (a small field).
    pub async fn text(&mut self) -> Result<String, AppError> {
        let at = self.until(&self.delim.clone(), FIELD_BYTES).await?;
        let value = String::from_utf8_lossy(&self.buf[..at]).into_owned();
        self.buf.advance(at);
        Ok(value)
    }

    /// The current part's data as a stream of chunks, ending at the part's delimiter; the
    /// body's end before it is an error (a cut-off upload is never stored).
    pub fn file(self) -> impl Stream<Item = Result<Bytes, String>> + Unpin + Send {
        Box::pin(futures_util::stream::unfold(
            Some(self),
            |form| async move {
                let mut form = form?;
                loop {
                    if let Some(at) = find(&form.buf, &form.delim) {
                        let last = form.buf.split_to(at).freeze();
                        return Some((Ok(last), None));
                    }
                    // Everything but a possible start of the delimiter can go on.
                    let keep = form.delim.len() - 1;
                    if form.buf.len() > keep {
                        let n = form.buf.len() - keep;
                        let chunk = form.buf.split_to(n).freeze();
                        return Some((Ok(chunk), Some(form)));
                    }
                    match form.more().await {
                        Ok(true) => continue,
                        Ok(false) => {
                            return Some((Err("the form ended inside the file".to_owned()), None))
                        }
                        Err(e) => return Some((Err(e.message), None)),
                    }
                }
            },
        ))
    }
}

/// The refusal of a form whose first part is not a matching CSRF token.
pub fn csrf_refused() -> AppError {
    AppError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "this form has expired or did not come from this site; reload the page and submit it \
         again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(body: &'static [u8], chunk: usize) -> (Vec<PartHead>, String, Vec<u8>) {
        let parts: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let body = axum::body::Body::from_stream(futures_util::stream::iter(parts));
        let mut form = StreamForm::new(body, "XY");
        let csrf_head = form.next_part().await.unwrap().unwrap();
        let csrf = form.text().await.unwrap();
        let file_head = form.next_part().await.unwrap().unwrap();
        let mut file = form.file();
        let mut bytes = Vec::new();
        while let Some(c) = file.next().await {
            bytes.extend_from_slice(&c.unwrap());
        }
        (vec![csrf_head, file_head], csrf, bytes)
    }

    #[tokio::test]
    async fn the_token_and_the_file_come_out_whatever_the_chunking() {
        let body: &'static [u8] =
            b"--XY\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
            --XY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\
            Content-Type: application/pdf\r\n\r\n%PDF\r\n--X binary\r\n--XY--\r\n";
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let (heads, csrf, bytes) = read_all(body, chunk).await;
            assert_eq!(heads[0].name, "csrf");
            assert_eq!(heads[0].filename, None);
            assert_eq!(csrf, "tok");
            assert_eq!(heads[1].filename.as_deref(), Some("a.pdf"));
            assert_eq!(heads[1].content_type.as_deref(), Some("application/pdf"));
            assert_eq!(bytes, b"%PDF\r\n--X binary", "chunk {chunk}");
        }
    }

    #[tokio::test]
    async fn a_cut_off_file_is_an_error() {
        let body = axum::body::Body::from(
            "--XY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc",
        );
        let mut form = StreamForm::new(body, "XY");
        assert!(form.next_part().await.unwrap().is_some());
        let mut file = form.file();
        let mut failed = false;
        while let Some(c) = file.next().await {
            failed |= c.is_err();
        }
        assert!(failed);
    }
}
