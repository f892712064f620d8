//! `ampfed-sigv4-proxy`: the signing proxy as its own process, with flags in the spirit of
//! awslabs' aws-sigv4-proxy, credentials from the standard chain ([`ampfed_proxy::chain`]),
//! and an STS endpoint that can be pointed anywhere (`--sts-endpoint`).
//!
//! It listens on 127.0.0.1, prints `listening on http://127.0.0.1:<port>` on stdout once
//! ready, and stops on Ctrl-C or SIGTERM. It serves only requests whose `Host` names it
//! (`127.0.0.1:<port>`, `localhost:<port>`, or a name given with `--allow-host`), never one
//! from a web browser (`Origin`), and bounds waits and sizes (`--upstream-timeout-secs`,
//! `--max-body-bytes`, `--max-connections`).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ampfed_common::errors;
use ampfed_proxy::chain::{self, ChainOptions, Env};
use ampfed_proxy::{
    AssumeRole, AssumeRoleCredentials, ProxyOptions, SigningProxy, DEFAULT_MAX_BODY, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_UPSTREAM_TIMEOUT,
};
use anyhow::{bail, Context, Result};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use clap::{Parser, ValueEnum};

/// Signs plain-HTTP requests from local clients with SigV4 and forwards them to one upstream.
#[derive(Debug, Parser)]
#[command(name = "ampfed-sigv4-proxy", version)]
struct Flags {
    /// The service to sign for (the signing name).
    #[arg(long, default_value = "aps")]
    name: String,
    /// The signing region; defaults to AWS_REGION, then AWS_DEFAULT_REGION.
    #[arg(long)]
    region: Option<String>,
    /// The upstream host[:port] every request goes to.
    #[arg(long)]
    host: String,
    /// The upstream's scheme: https (the real AMP; the system's roots, plus --upstream-ca) or
    /// http (a mock).
    #[arg(long, value_enum, default_value_t = Scheme::Https)]
    upstream_url_scheme: Scheme,
    /// The port to listen on, on 127.0.0.1 (0 picks a free one). The default is the port of
    /// Kubecost's sigv4-proxy sidecar (awslabs' proxy itself defaults to 8080).
    #[arg(long, default_value_t = 8005)]
    port: u16,
    /// A role to assume (sts:AssumeRole) with the credentials the chain found.
    #[arg(long)]
    role_arn: Option<String>,
    /// A request header to drop before signing; repeatable.
    #[arg(short = 's', long = "strip")]
    strip: Vec<String>,
    /// The STS endpoint (http://…); defaults to AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL.
    #[arg(long)]
    sts_endpoint: Option<String>,
    /// Log every request answered with status 400 or more.
    #[arg(long)]
    log_failed_requests: bool,
    /// Seconds before expiry that temporary credentials are refreshed.
    #[arg(long, default_value_t = 60)]
    refresh_ahead_secs: u64,
    /// Also serve requests whose Host is NAME (any port) or NAME:PORT, e.g. the service name
    /// a sidecar is reached by (kubecost-sigv4-proxy:8005); repeatable. 127.0.0.1:<port> and
    /// localhost:<port> are always served; any other Host gets 421.
    #[arg(long = "allow-host", value_name = "NAME[:PORT]")]
    allow_host: Vec<String>,
    /// A PEM file of CAs to trust for the https upstream besides the system's roots (a
    /// TLS-inspecting corporate proxy's CA).
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<std::path::PathBuf>,
    /// Seconds one upstream exchange may take, the answer included (504 after it).
    #[arg(long, default_value_t = DEFAULT_UPSTREAM_TIMEOUT.as_secs())]
    upstream_timeout_secs: u64,
    /// Largest request body in bytes (bodies are buffered to be hashed; 413 beyond).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY)]
    max_body_bytes: usize,
    /// Connections served at a time; further ones wait until one closes.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Resolve credentials, print where they came from and the access key id, and exit.
    #[arg(long)]
    check_credentials: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scheme {
    Http,
    Https,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(flags).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ampfed-sigv4-proxy: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(flags: Flags) -> Result<()> {
    let env = Env::from_process();
    let Some(region) = flags
        .region
        .clone()
        .or_else(|| env.get("AWS_REGION").map(str::to_owned))
        .or_else(|| env.get("AWS_DEFAULT_REGION").map(str::to_owned))
    else {
        bail!("no region: pass --region or set AWS_REGION");
    };
    let scheme = match flags.upstream_url_scheme {
        Scheme::Https => "https",
        Scheme::Http => "http",
    };
    let upstream = format!("{scheme}://{}", flags.host);
    let chain_options = ChainOptions::new(region.clone())
        .sts_endpoint(flags.sts_endpoint.clone())
        .refresh_ahead(Duration::from_secs(flags.refresh_ahead_secs));
    let resolved = chain::resolve(&env, &chain_options).context("resolve credentials")?;
    let mut source = resolved.source.to_string();
    let credentials = match &flags.role_arn {
        None => resolved.provider,
        Some(role_arn) => {
            let sts_endpoint = chain::sts_endpoint(&env, &chain_options).context("--role-arn")?;
            source = format!("role {role_arn} assumed at {sts_endpoint} with {source}");
            let role = AssumeRole {
                role_arn: role_arn.clone(),
                session_name: "ampfed-sigv4-proxy".into(),
                sts_endpoint,
                region: region.clone(),
            };
            SharedCredentialsProvider::new(AssumeRoleCredentials::new(
                resolved.provider,
                role,
                Duration::from_secs(flags.refresh_ahead_secs),
            ))
        }
    };
    tracing::info!(%source, "credentials");

    if flags.check_credentials {
        let creds = credentials
            .provide_credentials()
            .await
            .map_err(|e| anyhow::anyhow!(errors::chain(&e)))
            .context("fetch credentials")?;
        println!("credentials: {source}");
        println!("access key id: {}", creds.access_key_id());
        return Ok(());
    }

    let options = ProxyOptions {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, flags.port)),
        upstream,
        region,
        service: flags.name.clone(),
        fault: None,
    };
    let mut builder = SigningProxy::builder(options);
    if let Some(ca) = &flags.upstream_ca {
        builder = builder.upstream_ca(ca);
    }
    let mut proxy = builder
        .strip(&flags.strip)
        .context("--strip")?
        .allow_hosts(&flags.allow_host)?
        .upstream_timeout(Duration::from_secs(flags.upstream_timeout_secs))
        .max_body(flags.max_body_bytes)
        .max_connections(flags.max_connections)
        .log_failed_requests(flags.log_failed_requests)
        .start(credentials)
        .await
        .context("start the proxy")?;
    println!("listening on {}", proxy.url());
    shutdown_signal().await;
    tracing::info!("stopping");
    proxy.stop();
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
