//! The STS mock: `AssumeRoleWithWebIdentity` (query protocol, unsigned), answering in STS's XML.
//!
//! A token is accepted only for the role it was trusted for (see
//! [`AwsMock::trust_web_identity`](crate::AwsMock::trust_web_identity)); the credentials go into
//! the registry the AMP mock verifies against.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use wiremock::{Request, Respond, ResponseTemplate};

use crate::{lock, Shared};

pub(crate) struct StsResponder(pub(crate) Arc<Shared>);

impl Respond for StsResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut params: BTreeMap<String, String> =
            request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        params.extend(form_urlencoded::parse(&request.body).map(|(k, v)| (k.into_owned(), v.into_owned())));
        match params.get("Action").map(String::as_str) {
            Some("AssumeRoleWithWebIdentity") => self.assume_role_with_web_identity(&params),
            Some(other) => error(
                400,
                "InvalidAction",
                &format!("Could not find operation {other} for version 2011-06-15"),
            ),
            None => error(400, "MissingAction", "Missing Action"),
        }
    }
}

impl StsResponder {
    fn assume_role_with_web_identity(&self, params: &BTreeMap<String, String>) -> ResponseTemplate {
        let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
        let (role_arn, session, token) = (get("RoleArn"), get("RoleSessionName"), get("WebIdentityToken"));
        for (name, value) in
            [("RoleArn", role_arn), ("RoleSessionName", session), ("WebIdentityToken", token)]
        {
            if value.is_empty() {
                return error(400, "ValidationError", &format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"));
            }
        }
        let trusted = lock(&self.0.trust).get(token).cloned();
        match trusted {
            None => return error(400, "InvalidIdentityToken", "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request."),
            Some(allowed) if allowed != role_arn => {
                return error(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
            }
            Some(_) => {}
        }
        let role_name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        let assumed_arn = format!("arn:aws:sts::{}:assumed-role/{role_name}/{session}", crate::ACCOUNT_ID);
        let now = Utc::now();
        let cred = self.0.registry.issue_temporary(&assumed_arn, self.0.options.credential_lifetime, now);
        if lock(&self.0.expire_on_issue).iter().any(|r| r == role_arn) {
            tracing::warn!(role = role_arn, "fault: credentials issued already expired on the server side");
            self.0.registry.expire(&cred.access_key_id);
        }
        let expiration = cred.expiration.unwrap_or(now).to_rfc3339_opts(SecondsFormat::Secs, true);
        let body = format!(
            r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:ampfed:{session}</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>{assumed_arn}</Arn>
      <AssumedRoleId>AROAAMPFEDMOCKROLE:{session}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{ak}</AccessKeyId>
      <SecretAccessKey>{sk}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <Provider>oidc.ampfed.local</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>{request_id}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"#,
            session = xml_escape(session),
            assumed_arn = xml_escape(&assumed_arn),
            ak = cred.access_key_id,
            sk = cred.secret_access_key,
            token = cred.session_token.as_deref().unwrap_or(""),
            request_id = request_id(),
        );
        ResponseTemplate::new(200).set_body_raw(body, "text/xml")
    }
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{code}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        xml_escape(message),
        request_id()
    );
    ResponseTemplate::new(status).set_body_raw(body, "text/xml")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(crate) fn request_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let hex: String = (0..32).map(|_| format!("{:x}", rng.gen_range(0..16u8))).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
