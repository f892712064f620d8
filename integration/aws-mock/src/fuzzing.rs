//! Thin entry points into the AMP mock's request surface for the cargo-fuzz targets in
//! `integration/aws-mock/fuzz` (`cargo xtask fuzz amp-…`). Hidden from the docs and not an
//! API: each function only reaches a private part of the mock from outside the crate.
//!
//! Every entry point must survive any input: a panic is a bug in the mock (outside input
//! reaching it is a security problem), and so is a violated property the targets assert,
//! such as a scoped query that selects outside its workspace.

use std::sync::Arc;

use ampfed_sigv4::{canonical, CredentialRegistry, IncomingRequest, Verifier, VerifierSettings};
use http::{HeaderMap, HeaderValue, Method};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};

use crate::amp::state::AmpState;
use crate::amp::tenancy::{self, TENANT_LABEL};
use crate::amp::{data_plane, rules};
use crate::exchange::Request;
use crate::front_door::{self, Service};

const REGION: &str = "us-west-2";
const KEY_ID: &str = "AKIDFUZZ";
const SECRET: &str = "fuzz-secret-key";
const AMZ_DATE: &str = "20260101T000000Z";
const HOST: &str = "127.0.0.1:1";

/// A fresh AMP mock (no listener; the backend is a closed port) with one ACTIVE workspace,
/// answering requests signed with a key it trusts.
pub struct Amp {
    service: Service,
    workspace: String,
}

impl Amp {
    /// A new mock; its backend is `backend_url` (use a closed loopback port).
    pub fn new(backend_url: &str) -> Amp {
        let registry = CredentialRegistry::new();
        registry.register_static(KEY_ID, SECRET, "arn:aws:iam::123456789012:user/fuzz");
        let now = canonical::parse_amz_date(AMZ_DATE).expect("a valid date");
        let verifier =
            Verifier::new(VerifierSettings::aps(REGION), registry).with_clock(Arc::new(move || now));
        let service = Service::new(Arc::new(AmpState::new(REGION, backend_url.to_owned(), verifier)));
        let mut amp = Amp { service, workspace: String::new() };
        let (status, body) = amp.request("POST", "/workspaces", b"{}");
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
        let created: serde_json::Value = serde_json::from_slice(&body).expect("a JSON answer");
        amp.workspace = created["workspaceId"].as_str().expect("a workspace id").to_owned();
        // The next control-plane request makes it ACTIVE.
        let (status, _) = amp.request("GET", &format!("/workspaces/{}", amp.workspace), b"");
        assert_eq!(status, 200);
        amp
    }

    /// The ACTIVE workspace's id.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Signs `method target` (origin-form path and query) with `body` and answers it the way
    /// the front door would once the body is read: status and body. An unusable method or
    /// target is a 400, a body over the front door's limit a 413, as the server answers.
    pub fn request(&self, method: &str, target: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else { return (400, Vec::new()) };
        let Some(url) = target.parse().ok().as_ref().and_then(front_door::request_url) else {
            return (400, Vec::new());
        };
        if body.len() > front_door::body_limit(&method, url.path()) {
            return (413, Vec::new());
        }
        let query = url.query().unwrap_or("");
        let mut pairs =
            vec![("host".to_owned(), HOST.to_owned()), ("x-amz-date".to_owned(), AMZ_DATE.to_owned())];
        let unsigned =
            IncomingRequest { method: method.as_str(), path: url.path(), query, headers: &pairs, body };
        let creq =
            canonical::canonical_request(&unsigned, "host;x-amz-date", &canonical::sha256_hex(body), true);
        let scope = canonical::credential_scope(&AMZ_DATE[..8], REGION, "aps");
        let to_sign = canonical::string_to_sign(AMZ_DATE, &scope, &creq);
        let signature =
            canonical::signature(&canonical::signing_key(SECRET, &AMZ_DATE[..8], REGION, "aps"), &to_sign);
        pairs.push((
            "authorization".to_owned(),
            format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/{scope}, SignedHeaders=host;x-amz-date, Signature={signature}"),
        ));
        let mut headers = HeaderMap::new();
        for (name, value) in &pairs {
            let name: http::HeaderName = name.parse().expect("a header name");
            headers.append(name, HeaderValue::from_str(value).expect("a header value"));
        }
        let reply = self.service.answer(&Request { method: &method, url: &url, headers: &headers, body });
        (reply.status, reply.body.to_vec())
    }
}

/// Decodes and checks a remote write body as the mock does, tags it with a workspace and
/// encodes it again: the number of series on success, the 400's message otherwise.
pub fn remote_write(body: &[u8]) -> Result<usize, String> {
    data_plane::fuzz_write(body)
}

/// Parses and checks a rules file as a namespace's `data` is checked, durations included:
/// the number of rules on success.
pub fn rules(data: &[u8]) -> Result<usize, String> {
    let file = rules::parse(data).map_err(|e| e.to_string())?;
    let mut n = 0;
    for group in &file.groups {
        group.interval_secs()?;
        for rule in &group.rules {
            for d in [&rule.for_, &rule.keep_firing_for].into_iter().flatten() {
                rules::parse_duration(d)?;
            }
            n += 1;
        }
    }
    Ok(n)
}

/// The data plane's scoping of a query to `workspace`.
pub fn scope_query(expr: &str, workspace: &str) -> Result<String, String> {
    tenancy::scope_query(expr, workspace).map_err(|e| e.to_string())
}

/// Whether every vector and matrix selector of `expr` carries exactly one matcher on the
/// tenant label, `="<workspace>"`. An `expr` that does not parse passes: the backend refuses
/// it as well (a scoped query is sent as printed, so failing to parse fails closed; the
/// parser prints some expressions it accepted, such as `x[0]`, as ones it refuses).
pub fn is_scoped(expr: &str, workspace: &str) -> Result<(), String> {
    let Ok(ast) = parser::parse(expr) else { return Ok(()) };
    let mut selectors = Vec::new();
    selectors_of(&ast, &mut selectors);
    for vs in selectors {
        // With `or` groups the printer shows only the groups, each of which must be scoped.
        let groups: Vec<&Vec<promql_parser::label::Matcher>> = if vs.matchers.or_matchers.is_empty() {
            vec![&vs.matchers.matchers]
        } else {
            vs.matchers.or_matchers.iter().collect()
        };
        for group in groups {
            let tenant: Vec<_> = group.iter().filter(|m| m.name == TENANT_LABEL).collect();
            let ok =
                tenant.len() == 1 && tenant[0].value == workspace && matches!(tenant[0].op, MatchOp::Equal);
            if !ok {
                return Err(format!("selector {vs} is not scoped to {workspace:?}"));
            }
        }
    }
    Ok(())
}

/// Every vector selector of `expr`, matrix selectors' included, found by a walk of this
/// module's own (not promql-parser's, whose walker skips aggregation parameters, and not
/// the scoper's, which is what is checked).
fn selectors_of<'a>(expr: &'a Expr, out: &mut Vec<&'a promql_parser::parser::VectorSelector>) {
    match expr {
        Expr::Aggregate(a) => {
            selectors_of(&a.expr, out);
            if let Some(param) = &a.param {
                selectors_of(param, out);
            }
        }
        Expr::Unary(u) => selectors_of(&u.expr, out),
        Expr::Binary(b) => {
            selectors_of(&b.lhs, out);
            selectors_of(&b.rhs, out);
        }
        Expr::Paren(p) => selectors_of(&p.expr, out),
        Expr::Subquery(q) => selectors_of(&q.expr, out),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors_of(a, out)),
        Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_check_sees_aggregation_parameters_and_or_groups() {
        let scoped = scope_query("topk(scalar(b), a)", "ws-1").unwrap();
        assert_eq!(is_scoped(&scoped, "ws-1"), Ok(()));
        assert!(is_scoped("topk(scalar(b), a{ampfed_workspace=\"ws-1\"})", "ws-1").is_err());
        let or = scope_query("{a=\"1\" or b=\"2\"}", "ws-1").unwrap();
        assert_eq!(is_scoped(&or, "ws-1"), Ok(()), "{or}");
    }

    /// The routing target's harness gets past SigV4 into both planes.
    #[test]
    fn signed_requests_reach_both_planes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let amp = Amp::new(&closed);
        let ws = amp.workspace().to_owned();
        let status = |method: &str, target: &str, body: &[u8]| amp.request(method, target, body).0;
        assert_eq!(status("GET", &format!("/workspaces/{ws}"), b""), 200);
        assert_eq!(status("GET", &format!("/workspaces/{ws}/api/v1/rules"), b""), 200);
        assert_eq!(status("POST", &format!("/workspaces/{ws}/api/v1/remote_write"), b"junk"), 400);
        assert_eq!(status("GET", &format!("/workspaces/{ws}/api/v1/query?query=up"), b""), 503);
        assert_eq!(status("GET", &format!("/workspaces/{ws}/api/v1/query_exemplars?query=up"), b""), 503);
        assert_eq!(status("GET", "/nothing", b""), 400);
        assert_eq!(status("BAD METHOD", "/", b""), 400);
        assert_eq!(status("POST", "/workspaces", &vec![b' '; (2 << 20) + 1]), 413);
        assert!(is_scoped(&scope_query("sum(rate(up[5m])) / on(job) x", "ws-1").unwrap(), "ws-1").is_ok());
        assert!(is_scoped("up", "ws-1").is_err());
    }
}
