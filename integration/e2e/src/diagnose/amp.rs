//! AMP as a user of a kept-up environment reaches it: with the endpoints file's long-lived
//! keys, the control plane through `aws-sdk-amp` and the data plane's Prometheus API
//! (`/workspaces/<id>/api/v1/query`) signed here with `aws-sigv4`, not through the proxy
//! (whose own credentials would hide a wrong secret in the file).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use crate::up::Endpoints;

/// How long one AMP call may take, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// The most bytes of an answer read.
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// Why an AMP call failed.
#[derive(Debug, thiserror::Error)]
pub enum AmpError {
    /// Nothing answered: AMP is down or the URL is wrong.
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    /// AMP answered with an error status (`kind` is AWS's error type when it sent one).
    #[error("{url} answered HTTP {status}{}: {message}", kind.as_deref().map(|k| format!(" {k}")).unwrap_or_default())]
    Refused { url: String, status: u16, kind: Option<String>, message: String },
    /// The answer was not the Prometheus API's JSON.
    #[error("unexpected answer from {url}: {message}")]
    Decode { url: String, message: String },
    /// The request could not be signed.
    #[error("cannot sign the request: {0}")]
    Sign(String),
}

impl AmpError {
    /// Whether nothing answered (an environment failure, not a check's).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, AmpError::Unreachable { .. })
    }
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// AMP with the keys of an endpoints file.
#[derive(Clone, Debug)]
pub struct Amp {
    endpoints: Endpoints,
    agent: ureq::Agent,
}

impl Amp {
    pub fn new(endpoints: &Endpoints) -> Amp {
        let agent =
            ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(5)).timeout(CALL_TIMEOUT).build();
        Amp { endpoints: endpoints.clone(), agent }
    }

    /// The workspace of the endpoints file.
    pub fn workspace(&self) -> &str {
        &self.endpoints.workspace_id
    }

    /// The endpoints file's keys.
    fn credentials(&self) -> Credentials {
        let keys = &self.endpoints.credentials;
        Credentials::new(
            &keys.access_key_id,
            &keys.secret_access_key,
            keys.session_token.clone(),
            None,
            "ampfed-endpoints",
        )
    }

    /// The control plane client (rule groups namespaces, workspaces): the file's keys, one
    /// attempt per call, [`CALL_TIMEOUT`].
    pub fn control(&self) -> aws_sdk_amp::Client {
        let credentials = self.credentials();
        let config = ampfed_aws::sdk_config(&self.endpoints.amp_url, &self.endpoints.region)
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(CALL_TIMEOUT)
                    .build(),
            )
            .build();
        aws_sdk_amp::Client::new(&config)
    }

    /// An instant query at `time` (unix seconds), signed with the file's keys; blocking.
    pub fn query(&self, promql: &str, time: i64) -> Result<Vec<Sample>, AmpError> {
        let url = format!(
            "{}/workspaces/{}/api/v1/query",
            self.endpoints.amp_url.trim_end_matches('/'),
            self.endpoints.workspace_id
        );
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", promql)
            .append_pair("time", &time.to_string())
            .finish();
        let host = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .ok_or_else(|| AmpError::Sign(format!("no host in {url}")))?
            .to_owned();
        let content_type = "application/x-www-form-urlencoded";
        let headers = [("host", host.as_str()), ("content-type", content_type)];
        let signed = self.sign("POST", &url, &headers, body.as_bytes())?;
        let mut request = self.agent.post(&url).set("content-type", content_type);
        for (name, value) in &signed {
            request = request.set(name, value);
        }
        let response = match request.send_string(&body) {
            Ok(r) => r,
            Err(ureq::Error::Status(status, r)) => {
                let kind = r.header("x-amzn-errortype").map(|k| k.split(':').next().unwrap_or(k).to_owned());
                let text = read_limited(r).unwrap_or_default();
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| {
                        ["message", "Message", "error"]
                            .iter()
                            .find_map(|k| v.get(*k).and_then(|m| m.as_str()).map(str::to_owned))
                    })
                    .unwrap_or(text);
                let message: String = message.lines().next().unwrap_or_default().chars().take(300).collect();
                return Err(AmpError::Refused { url, status, kind, message });
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(AmpError::Unreachable { url, message: t.to_string() });
            }
        };
        let text =
            read_limited(response).map_err(|message| AmpError::Decode { url: url.clone(), message })?;
        let answer: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| AmpError::Decode { url: url.clone(), message: e.to_string() })?;
        let decode = |message: &str| AmpError::Decode { url: url.clone(), message: message.to_owned() };
        if answer.get("status").and_then(|s| s.as_str()) != Some("success") {
            let error = answer.get("error").and_then(|e| e.as_str()).unwrap_or("no error given");
            return Err(AmpError::Refused {
                url: url.clone(),
                status: 200,
                kind: None,
                message: error.to_owned(),
            });
        }
        let result = answer
            .pointer("/data/result")
            .and_then(|r| r.as_array())
            .ok_or_else(|| decode("no data.result"))?;
        result
            .iter()
            .map(|item| {
                let labels = item
                    .get("metric")
                    .and_then(|m| m.as_object())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let value = item
                    .pointer("/value/1")
                    .and_then(|v| v.as_str())
                    .and_then(|v| v.parse::<f64>().ok())
                    .ok_or_else(|| decode("a result without a value"))?;
                Ok(Sample { labels, value })
            })
            .collect()
    }

    /// The SigV4 headers for a request to the `aps` service.
    fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, AmpError> {
        let identity = self.credentials().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.endpoints.region)
            .name("aps")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| AmpError::Sign(e.to_string()))?
            .into();
        let signable = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
            .map_err(|e| AmpError::Sign(e.to_string()))?;
        let (instructions, _) =
            sign(signable, &params).map_err(|e| AmpError::Sign(e.to_string()))?.into_parts();
        Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }
}

fn read_limited(response: ureq::Response) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    response.into_reader().take(MAX_ANSWER_BYTES).read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}
