//! The request as the verifier receives it: method, raw path and query, headers in order
//! (any case, repeats kept) and the whole body. Its `Debug` shows no header value and no
//! query, which may carry session tokens.

use std::fmt;

/// A request exactly as received.
#[derive(Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The raw path as received, percent-encoded (no query).
    pub path: &'a str,
    /// The raw query string without `?` (empty when there is none).
    pub query: &'a str,
    /// Headers as received: any case, repeated names allowed, in order.
    pub headers: &'a [(String, String)],
    /// The whole body.
    pub body: &'a [u8],
}

impl fmt::Debug for IncomingRequest<'_> {
    /// Header values and the query may carry session tokens: only names and sizes are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_len", &self.query.len())
            .field("header_names", &self.headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Collects the received headers of an `http` header map as `(name, value)` pairs, in order,
/// repeated names kept (non-UTF-8 values are converted lossily).
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_pairs_keep_order_and_repeats() {
        let mut map = http::HeaderMap::new();
        map.append("x-a", http::HeaderValue::from_static("1"));
        map.append("x-a", http::HeaderValue::from_static("2"));
        map.append("host", http::HeaderValue::from_static("127.0.0.1:9090"));
        let pairs = header_pairs(&map);
        assert_eq!(pairs.len(), 3);
        assert!(pairs.contains(&("host".to_owned(), "127.0.0.1:9090".to_owned())));
        let a: Vec<&str> = pairs.iter().filter(|(n, _)| n == "x-a").map(|(_, v)| v.as_str()).collect();
        assert_eq!(a, ["1", "2"]);
    }

    #[test]
    fn debug_of_incoming_request_shows_no_header_values_or_query() {
        let headers = vec![("x-amz-security-token".to_owned(), "SECRETTOKEN".to_owned())];
        let req = IncomingRequest {
            method: "GET",
            path: "/",
            query: "X-Amz-Security-Token=SECRETQ",
            headers: &headers,
            body: b"",
        };
        let printed = format!("{req:?}");
        assert!(!printed.contains("SECRETTOKEN") && !printed.contains("SECRETQ"));
    }
}
