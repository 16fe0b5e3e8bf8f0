//! A console form with one file (`multipart/form-data`) whose CSRF token matched: the invoice
//! uploads. The parts are read whole (up to `attachments.max_bytes` and a little for the text
//! fields) and the file then goes through the same use case as the API's streamed upload.

use super::session::{Member, Visitor};
use super::WebError;
use crate::error::AppError;
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::HashMap;

/// The file part of a form.
pub struct FilePart {
    pub filename: String,
    pub content_type: String,
    pub bytes: Bytes,
}

/// A submitted multipart form: its text fields and its one file (if any).
pub struct SubmittedFile {
    pub member: Member,
    pub fields: HashMap<String, String>,
    pub file: Option<FilePart>,
}

impl SubmittedFile {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(|s| s.trim()).unwrap_or("")
    }

    /// The form's file, or a readable refusal naming what to choose.
    pub fn required_file(&self, what: &str) -> Result<&FilePart, AppError> {
        self.file
            .as_ref()
            .ok_or_else(|| AppError::invalid_field("file", format!("choose {what}")))
    }
}

impl FilePart {
    /// The bytes as the stream the upload use cases read (the API streams the same way).
    pub fn chunks(
        &self,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures_util::stream::iter([Ok(self.bytes.clone())])
    }
}

fn bad(message: &str) -> AppError {
    AppError::bad_request("invalid_form", message.to_owned())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits a multipart body into its text fields and its file.
fn parse(
    body: &[u8],
    boundary: &str,
) -> Result<(HashMap<String, String>, Option<FilePart>), AppError> {
    let delim = format!("--{boundary}");
    let mut fields = HashMap::new();
    let mut file = None;
    let mut at = find(body, delim.as_bytes(), 0).ok_or_else(|| bad("no form parts"))?;
    loop {
        at += delim.len();
        if body.get(at..at + 2) == Some(b"--") {
            break;
        }
        let head_start = at + 2;
        let head_end = find(body, b"\r\n\r\n", head_start).ok_or_else(|| bad("a broken part"))?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]).into_owned();
        let data_start = head_end + 4;
        let next = find(body, format!("\r\n{delim}").as_bytes(), data_start)
            .ok_or_else(|| bad("an unterminated part"))?;
        let data = &body[data_start..next];
        let (name, filename, content_type) = super::stream_form::head_fields(&head);
        let content_type = content_type.unwrap_or_default();
        match (name, filename) {
            (Some(_), Some(f)) if !f.is_empty() => {
                file = Some(FilePart {
                    filename: f,
                    content_type,
                    bytes: Bytes::copy_from_slice(data),
                })
            }
            (Some(n), _) => {
                fields.insert(n, String::from_utf8_lossy(data).into_owned());
            }
            _ => {}
        }
        at = next + 2;
    }
    Ok((fields, file))
}

impl FromRequest<AppState> for SubmittedFile {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let member = Member::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        read(member, parts, body, state)
            .await
            .map_err(IntoResponse::into_response)
    }
}

async fn read(
    member: Member,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
    state: &AppState,
) -> Result<SubmittedFile, WebError> {
    let visitor: &Visitor = &member.visitor;
    let refuse = WebError::with(visitor);
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.starts_with("multipart/form-data"))
        .and_then(|t| t.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_owned())
        .ok_or_else(|| refuse(bad("send the form as multipart/form-data")))?;
    let limit = state.config.attachments.max_bytes as usize + 64 * 1024;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        WebError::with(visitor)(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "attachment_too_large",
            format!(
                "files are at most {} bytes",
                state.config.attachments.max_bytes
            ),
        ))
    })?;
    let (fields, file) = parse(&bytes, &boundary).map_err(WebError::with(visitor))?;
    let csrf = fields.get("csrf").map(String::as_str).unwrap_or("");
    if !visitor.csrf_matches(csrf) {
        return Err(WebError::with(visitor)(AppError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "this form has expired or did not come from this site; reload the page and \
             submit it again",
        )));
    }
    Ok(SubmittedFile {
        member,
        fields,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_the_file_are_split_out() {
        let body = "--XY\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
                    --XY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\
                    Content-Type: application/pdf\r\n\r\n%PDF\r\nbinary\r\n--XY--\r\n";
        let (fields, file) = parse(body.as_bytes(), "XY").unwrap();
        assert_eq!(fields["csrf"], "tok");
        let f = file.unwrap();
        assert_eq!(f.filename, "a.pdf");
        assert_eq!(f.content_type, "application/pdf");
        assert_eq!(&f.bytes[..], b"%PDF\r\nbinary");
        assert!(parse(b"garbage", "XY").is_err());
    }
}
