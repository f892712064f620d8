//! What the server answers: a [`Reply`] (status, headers, body), and [`S3Error`], S3's
//! error document
//! (`<Error><Code>…</Code><Message>…</Message>…<RequestId>…</RequestId></Error>`) with the
//! status S3 sends it with. The constructors name S3's codes and word their messages as S3
//! does; answers to `HEAD` carry no body, as S3's do.

use std::borrow::Cow;

use bytes::Bytes;

use crate::xml::{element, DECLARATION};

/// One answer: status, headers in order, body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(Cow<'static, str>, String)>,
    pub(crate) body: Bytes,
}

impl Reply {
    /// An empty answer with `status`.
    pub(crate) fn empty(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Bytes::new() }
    }

    /// A `200` XML document (the declaration is prepended).
    pub(crate) fn xml(document: String) -> Reply {
        let mut body = String::with_capacity(DECLARATION.len() + document.len());
        body.push_str(DECLARATION);
        body.push_str(&document);
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/xml".to_owned())],
            body: body.into(),
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((Cow::Borrowed(name), value.into()));
        self
    }
}

/// An S3 error: the status, the code, the message and the code's own elements (`Key`,
/// `BucketName`, `Condition`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Error {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) fields: Vec<(&'static str, String)>,
    /// Ask the client to close the connection (the body was not read).
    pub(crate) close: bool,
}

impl S3Error {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> S3Error {
        S3Error { status, code, message: message.into(), fields: Vec::new(), close: false }
    }

    /// Adds an element after `Message`.
    pub(crate) fn field(mut self, name: &'static str, value: impl Into<String>) -> S3Error {
        self.fields.push((name, value.into()));
        self
    }

    /// Sends `Connection: close` with the answer.
    pub(crate) fn closing(mut self) -> S3Error {
        self.close = true;
        self
    }

    pub(crate) fn no_such_bucket(bucket: &str) -> S3Error {
        S3Error::new(404, "NoSuchBucket", "The specified bucket does not exist").field("BucketName", bucket)
    }

    pub(crate) fn no_such_key(key: &str) -> S3Error {
        S3Error::new(404, "NoSuchKey", "The specified key does not exist.").field("Key", key)
    }

    /// A failed `If-Match` / `If-None-Match` / `If-Unmodified-Since` (named by `condition`).
    pub(crate) fn precondition_failed(condition: &str) -> S3Error {
        S3Error::new(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .field("Condition", condition)
    }

    pub(crate) fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> S3Error {
        S3Error::new(400, "InvalidArgument", message)
            .field("ArgumentName", name)
            .field("ArgumentValue", value)
    }

    pub(crate) fn not_implemented(what: &str) -> S3Error {
        S3Error::new(
            501,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
        )
        .field("Header", what)
    }

    pub(crate) fn malformed_xml(detail: &str) -> S3Error {
        tracing::debug!(detail, "malformed XML body");
        S3Error::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    pub(crate) fn entity_too_large(limit: usize, proposed: Option<u64>) -> S3Error {
        let error =
            S3Error::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
                .field("MaxSizeAllowed", limit.to_string());
        match proposed {
            Some(size) => error.field("ProposedSize", size.to_string()),
            None => error,
        }
        .closing()
    }

    pub(crate) fn bad_digest(message: &str) -> S3Error {
        S3Error::new(400, "BadDigest", message)
    }

    pub(crate) fn internal(message: &str) -> S3Error {
        tracing::error!(message, "embedded S3 internal error");
        S3Error::new(500, "InternalError", "We encountered an internal error. Please try again.")
    }

    /// The answer: the XML document (none for `HEAD`), `request_id` in the body and headers.
    pub(crate) fn reply(self, head: bool, request_id: &str) -> Reply {
        let mut reply = if head {
            Reply::empty(self.status)
        } else {
            let mut doc = String::from("<Error>");
            element(&mut doc, "Code", self.code);
            element(&mut doc, "Message", &self.message);
            for (name, value) in &self.fields {
                element(&mut doc, name, value);
            }
            element(&mut doc, "RequestId", request_id);
            element(&mut doc, "HostId", &host_id(request_id));
            doc.push_str("</Error>");
            let mut reply = Reply::xml(doc);
            reply.status = self.status;
            reply
        };
        if self.close {
            reply = reply.header("connection", "close");
        }
        reply
    }
}

/// The `x-amz-id-2` of a request: S3 sends an opaque base64 string; this one is derived from
/// the request id so that both name the same request.
pub(crate) fn host_id(request_id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("ampfed-s3/{request_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_document_reads_like_s3() {
        let reply = S3Error::no_such_key("a/<b>").reply(false, "REQ1");
        assert_eq!(reply.status, 404);
        let body = std::str::from_utf8(&reply.body).unwrap();
        assert!(
            body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"),
            "{body}"
        );
        assert!(body.contains("<Key>a/&lt;b&gt;</Key><RequestId>REQ1</RequestId><HostId>"), "{body}");
    }

    #[test]
    fn a_head_error_has_no_body() {
        let reply = S3Error::no_such_bucket("b").reply(true, "REQ2");
        assert_eq!(reply.status, 404);
        assert!(reply.body.is_empty());
    }

    #[test]
    fn too_large_closes_the_connection() {
        let reply = S3Error::entity_too_large(10, Some(11)).reply(false, "R");
        assert_eq!(reply.status, 400);
        assert!(reply.headers.contains(&("connection".into(), "close".to_owned())));
        let body = std::str::from_utf8(&reply.body).unwrap();
        assert!(
            body.contains("<MaxSizeAllowed>10</MaxSizeAllowed><ProposedSize>11</ProposedSize>"),
            "{body}"
        );
    }
}
