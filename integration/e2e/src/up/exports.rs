//! The environment variables that point any AWS SDK or the AWS CLI at a kept-up environment,
//! in the SDKs' own names: `AWS_ENDPOINT_URL_<SERVICE>` (the service id, upper case: `AMP`,
//! `STS`, `S3`), the region, and either long-lived keys or a role with a web identity token
//! file. As shell text (`export K='v'`) for `eval`, or as pairs for a child's environment.

use super::state::Endpoints;

/// Which credentials the variables hand out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CredentialStyle {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`: long-lived keys, valid while `up` runs.
    #[default]
    Keys,
    /// `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE`: the SDK assumes the role through the
    /// STS mock and refreshes what it issues.
    WebIdentity,
}

/// The variables to set, in order.
pub fn variables(endpoints: &Endpoints, style: CredentialStyle) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("AWS_ENDPOINT_URL_AMP", endpoints.amp_url.clone()),
        ("AWS_ENDPOINT_URL_STS", endpoints.sts_url.clone()),
        ("AWS_ENDPOINT_URL_S3", endpoints.s3_url.clone()),
        ("AWS_REGION", endpoints.region.clone()),
        // What the AWS CLI v1 and boto3 read for the region.
        ("AWS_DEFAULT_REGION", endpoints.region.clone()),
    ];
    match style {
        CredentialStyle::Keys => {
            let keys = &endpoints.credentials;
            vars.push(("AWS_ACCESS_KEY_ID", keys.access_key_id.clone()));
            vars.push(("AWS_SECRET_ACCESS_KEY", keys.secret_access_key.clone()));
            if let Some(token) = &keys.session_token {
                vars.push(("AWS_SESSION_TOKEN", token.clone()));
            }
        }
        CredentialStyle::WebIdentity => {
            let identity = &endpoints.web_identity;
            vars.push(("AWS_ROLE_ARN", identity.role_arn.clone()));
            vars.push(("AWS_WEB_IDENTITY_TOKEN_FILE", identity.token_file.display().to_string()));
            vars.push(("AWS_ROLE_SESSION_NAME", identity.session_name.clone()));
        }
    }
    vars.extend([
        ("AMPFED_AMP_WORKSPACE_ID", endpoints.workspace_id.clone()),
        ("AMPFED_ETL_BUCKET", endpoints.bucket.clone()),
        ("AMPFED_SIGV4_PROXY_URL", endpoints.proxy_url.clone()),
        ("AMPFED_PROMETHEUS_URL", endpoints.backend_url.clone()),
    ]);
    vars
}

/// The variables to unset, which would otherwise change what the SDKs do with the others: a
/// session token of other keys, the other style's credentials, and the switch that makes the
/// SDKs ignore `AWS_ENDPOINT_URL_*`.
pub fn to_unset(endpoints: &Endpoints, style: CredentialStyle) -> Vec<&'static str> {
    let mut unset = vec!["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"];
    match style {
        CredentialStyle::Keys => {
            if endpoints.credentials.session_token.is_none() {
                unset.push("AWS_SESSION_TOKEN");
            }
            unset.extend(["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME"]);
        }
        CredentialStyle::WebIdentity => {
            unset.extend(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);
        }
    }
    unset
}

/// The variables as POSIX shell text: one `export` line each, then one `unset` line.
pub fn shell(endpoints: &Endpoints, style: CredentialStyle) -> String {
    let mut text: String = variables(endpoints, style)
        .into_iter()
        .map(|(name, value)| format!("export {name}={}\n", quote(&value)))
        .collect();
    text.push_str(&format!("unset {}\n", to_unset(endpoints, style).join(" ")));
    text
}

/// `value` in single quotes, each `'` in it written `'\''`.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::super::state::{Keys, WebIdentityFile};
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints {
            region: "us-west-2".into(),
            amp_url: "http://127.0.0.1:1".into(),
            sts_url: "http://127.0.0.1:2".into(),
            s3_url: "http://127.0.0.1:3".into(),
            proxy_url: "http://127.0.0.1:4".into(),
            backend_url: "http://127.0.0.1:5".into(),
            workspace_id: "ws-1".into(),
            bucket: "b".into(),
            credentials: Keys {
                access_key_id: "AKIAX".into(),
                secret_access_key: "a+b/c'd".into(),
                session_token: None,
                principal_arn: "arn:aws:iam::123456789012:user/u".into(),
            },
            web_identity: WebIdentityFile {
                role_arn: "arn:aws:iam::123456789012:role/r".into(),
                token_file: "/tmp/t".into(),
                session_name: "s".into(),
            },
        }
    }

    #[test]
    fn keys_are_exported_in_the_sdks_names_and_quoted() {
        let text = shell(&endpoints(), CredentialStyle::Keys);
        assert!(text.starts_with("export AWS_ENDPOINT_URL_AMP='http://127.0.0.1:1'\n"), "{text}");
        assert!(text.contains("export AWS_SECRET_ACCESS_KEY='a+b/c'\\''d'\n"), "{text}");
        assert!(!text.contains("AWS_ROLE_ARN="), "{text}");
        assert!(text.ends_with(
            "unset AWS_IGNORE_CONFIGURED_ENDPOINT_URLS AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_SESSION_NAME\n"
        ));
    }

    #[test]
    fn a_web_identity_replaces_the_keys() {
        let vars = variables(&endpoints(), CredentialStyle::WebIdentity);
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"AWS_ROLE_ARN") && names.contains(&"AWS_WEB_IDENTITY_TOKEN_FILE"));
        assert!(!names.contains(&"AWS_ACCESS_KEY_ID"));
        assert!(to_unset(&endpoints(), CredentialStyle::WebIdentity).contains(&"AWS_ACCESS_KEY_ID"));
    }
}
