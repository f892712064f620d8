//! An in-process S3 server: the S3 REST protocol over HTTP/1.1 on 127.0.0.1, every request
//! SigV4-verified by `ampfed-sigv4`, objects held in memory. It stands in for LocalStack's S3
//! where a test, a benchmark or a fast run needs thousands of requests per second.
//!
//! ```no_run
//! let s3 = ampfed_s3::EmbeddedS3::start(
//!     ampfed_s3::Config::new("AKIDEXAMPLE", "secret", "us-west-2").with_bucket("etl"),
//! )?;
//! let endpoint = s3.endpoint(); // http://127.0.0.1:<port>, path-style
//! # let _ = endpoint;
//! s3.stop()?;
//! # Ok::<(), ampfed_s3::EmbeddedS3Error>(())
//! ```
//!
//! Modules, each depending only on those listed after it:
//! - [`server`]: [`EmbeddedS3`], the listener, connection and body limits, graceful stop.
//! - `ops`: routing a request (path style) to an operation and rendering its answer.
//! - `auth`: SigV4 through `ampfed_sigv4::Verifier`, failures as S3's error codes.
//! - `chunked`: `aws-chunked` bodies (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
//! - `store`: buckets and objects in `BTreeMap`s, conditional writes, listing pages.
//! - `reply`: an answer, and S3's XML error document.
//! - `xml`: escaping, and reading the two request bodies S3 sends as XML.
//! - [`config`]: [`Config`] and the default limits; [`error`]: [`EmbeddedS3Error`].
//!
//! `docs/embedded-s3.md` lists the operations and the S3 behaviours reproduced, and the limits.

mod auth;
mod chunked;
pub mod config;
pub mod error;
mod ops;
mod reply;
pub mod server;
mod store;
mod xml;

pub use crate::config::Config;
pub use crate::error::EmbeddedS3Error;
pub use crate::server::EmbeddedS3;
