//! The request and answer types the AMP handlers work with, whichever server received the
//! request: [`Request`] is a borrowed view that a `wiremock::Request` and the front door's
//! hyper request (`front_door`) both produce, and [`Reply`] is an answer (status, headers,
//! body) that turns into a `wiremock::ResponseTemplate` or a hyper `Response`.
//!
//! The view's fields have the names and (through auto-deref) the uses of
//! `wiremock::Request`'s, and `Reply`'s builder methods those of `ResponseTemplate`, so a
//! handler reads the same whichever server runs it.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::Full;
use url::Url;

/// A received request, borrowed: method, full URL (path and query as received), headers and
/// the whole body.
#[derive(Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a Method,
    pub(crate) url: &'a Url,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

impl<'a> From<&'a wiremock::Request> for Request<'a> {
    fn from(request: &'a wiremock::Request) -> Request<'a> {
        Request { method: &request.method, url: &request.url, headers: &request.headers, body: &request.body }
    }
}

impl<'a> From<&Request<'a>> for Request<'a> {
    fn from(request: &Request<'a>) -> Request<'a> {
        *request
    }
}

/// An answer: status, headers in order, body.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

impl Reply {
    /// An answer with `status`, no headers and an empty body.
    pub(crate) fn new(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Bytes::new() }
    }

    /// Sets the body and its `Content-Type`.
    pub(crate) fn set_body_raw(mut self, body: impl Into<Bytes>, content_type: &str) -> Reply {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        self.headers.push(("content-type".into(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// Sets a header, replacing any of the same name.
    pub(crate) fn insert_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The hyper answer. A header that is not valid HTTP is left out (the handlers only set
    /// fixed names and values of their own).
    pub(crate) fn into_hyper(self) -> hyper::Response<Full<Bytes>> {
        let mut response = hyper::Response::new(Full::new(self.body));
        *response.status_mut() =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
            {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

impl From<Reply> for wiremock::ResponseTemplate {
    fn from(reply: Reply) -> wiremock::ResponseTemplate {
        let mut template = wiremock::ResponseTemplate::new(reply.status);
        for (name, value) in &reply.headers {
            template = template.insert_header(name.as_str(), value.as_str());
        }
        template.set_body_bytes(reply.body.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_becomes_the_same_answer_on_both_servers() {
        let reply = Reply::new(429)
            .insert_header("Retry-After", "1")
            .set_body_raw("slow down", "text/plain")
            .insert_header("retry-after", "2");
        let response = reply.clone().into_hyper();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(response.headers()["content-type"], "text/plain");
        assert_eq!(response.headers().len(), 2);
        // ResponseTemplate keeps its parts private; it must at least build.
        let _template: wiremock::ResponseTemplate = reply.into();
    }

    #[test]
    fn a_wiremock_request_gives_the_same_view() {
        let received = wiremock::Request {
            url: Url::parse("http://127.0.0.1:1/workspaces/ws-1/api/v1/query?query=up").unwrap(),
            method: Method::POST,
            headers: HeaderMap::new(),
            body: b"x=1".to_vec(),
        };
        let view = Request::from(&Request::from(&received));
        assert_eq!(view.url.path(), "/workspaces/ws-1/api/v1/query");
        assert_eq!(view.url.query(), Some("query=up"));
        assert_eq!(view.method.as_str(), "POST");
        assert_eq!(view.body, b"x=1");
    }
}
