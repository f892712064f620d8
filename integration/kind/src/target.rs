//! Where the clusters send their samples and queries: the host's AMP endpoint (the mock) as
//! the kind nodes reach it, and the workspace. The address is always an input: on Docker
//! Desktop it is `host.docker.internal`, on Linux the gateway of the `kind` Docker network
//! (`docker network inspect kind`), and the AMP mock must listen where that address leads.

/// Why an AMP endpoint or workspace was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the AMP URL `{url}` is not a URL: {reason}; write it as http://HOST:PORT")]
    NotAUrl { url: String, reason: String },
    #[error("the AMP URL `{url}` must start with http:// or https://")]
    Scheme { url: String },
    #[error("the AMP URL `{url}` must be only scheme, host and port (no path, query, user or password); the workspace path is added")]
    Extra { url: String },
    #[error("the workspace id `{id}` must be 1-64 letters, digits, `-` or `_`, e.g. ws-0123abcd")]
    Workspace { id: String },
}

/// The AMP endpoint and workspace, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmpTarget {
    scheme: String,
    authority: String,
    workspace: String,
}

impl AmpTarget {
    /// `url` is `http://HOST[:PORT]` (or https) as the kind nodes reach it; `workspace` the
    /// AMP workspace id.
    pub fn new(url: &str, workspace: &str) -> Result<AmpTarget, TargetError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| TargetError::NotAUrl { url: url.to_owned(), reason: e.to_string() })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(TargetError::Scheme { url: url.to_owned() });
        }
        let extra = !matches!(parsed.path(), "" | "/")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
            || !parsed.username().is_empty()
            || parsed.password().is_some();
        let Some(host) = parsed.host_str().filter(|_| !extra) else {
            return Err(TargetError::Extra { url: url.to_owned() });
        };
        let authority = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let id_ok = !workspace.is_empty()
            && workspace.len() <= 64
            && workspace.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(TargetError::Workspace { id: workspace.to_owned() });
        }
        Ok(AmpTarget { scheme: parsed.scheme().to_owned(), authority, workspace: workspace.to_owned() })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `HOST[:PORT]`: the SigV4 proxy's upstream.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Where Prometheus remote-writes: `<endpoint>/workspaces/<id>/api/v1/remote_write`.
    pub fn remote_write_url(&self) -> String {
        format!("{}://{}/workspaces/{}/api/v1/remote_write", self.scheme, self.authority, self.workspace)
    }

    /// What the cost model queries, through the sidecar on port 8005
    /// (Kubecost's `global.amp.prometheusServerEndpoint`).
    pub fn query_endpoint_via_sidecar(&self) -> String {
        format!("http://localhost:8005/workspaces/{}", self.workspace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_remote_write_and_query_urls() {
        let t = AmpTarget::new("http://host.docker.internal:9095/", "ws-1").unwrap();
        assert_eq!(t.authority(), "host.docker.internal:9095");
        assert_eq!(
            t.remote_write_url(),
            "http://host.docker.internal:9095/workspaces/ws-1/api/v1/remote_write"
        );
        assert_eq!(t.query_endpoint_via_sidecar(), "http://localhost:8005/workspaces/ws-1");
    }

    #[test]
    fn refuses_paths_schemes_and_bad_workspaces() {
        let path = AmpTarget::new("http://h:1/workspaces/ws-1", "ws-1").unwrap_err();
        assert!(path.to_string().contains("no path"), "{path}");
        let scheme = AmpTarget::new("ftp://h:1", "ws-1").unwrap_err();
        assert!(scheme.to_string().contains("http:// or https://"), "{scheme}");
        let ws = AmpTarget::new("http://h:1", "ws/1").unwrap_err();
        assert!(ws.to_string().contains("workspace id `ws/1`"), "{ws}");
        assert!(AmpTarget::new("not a url", "ws-1").is_err());
    }
}
