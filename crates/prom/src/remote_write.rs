//! Remote write 1.0: a protobuf `WriteRequest`, compressed with snappy's block format.

use std::collections::BTreeMap;

/// The top-level remote write message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One series: its labels (sorted by name, `__name__` among them) and its samples in time order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// A label pair.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A sample: value and timestamp in milliseconds since the epoch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The largest decompressed body accepted: the length is the sender's claim, so it is
/// checked before anything is allocated.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// Why a remote write body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body would decompress to {0} bytes, over the {MAX_DECOMPRESSED_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("body is not snappy block-compressed: {0}")]
    Snappy(#[from] snap::Error),
    #[error("body is not a protobuf WriteRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

impl TimeSeries {
    /// A series with the given metric name and labels; labels come out sorted by name, and
    /// labels with empty values are dropped, as remote write requires.
    pub fn new(name: &str, labels: &BTreeMap<String, String>) -> TimeSeries {
        let mut all: BTreeMap<&str, &str> =
            labels.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.insert("__name__", name);
        TimeSeries {
            labels: all
                .into_iter()
                .map(|(name, value)| Label { name: name.to_owned(), value: value.to_owned() })
                .collect(),
            samples: Vec::new(),
        }
    }

    /// The value of a label, if the series has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|l| l.name == name).map(|l| l.value.as_str())
    }
}

impl WriteRequest {
    /// Number of samples over all series.
    pub fn sample_count(&self) -> usize {
        self.timeseries.iter().map(|ts| ts.samples.len()).sum()
    }
}

/// Encodes a request as it goes on the wire: protobuf, then snappy block format.
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    let raw = prost::Message::encode_to_vec(request);
    // Compressing into a buffer sized by `max_compress_len` cannot fail.
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_else(|e| unreachable!("snappy compression of an in-memory buffer failed: {e}"))
}

/// Decodes a body as it comes off the wire.
pub fn decode(body: &[u8]) -> Result<WriteRequest, DecodeError> {
    let claimed = snap::raw::decompress_len(body)?;
    if claimed > MAX_DECOMPRESSED_BYTES {
        return Err(DecodeError::TooLarge(claimed));
    }
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(prost::Message::decode(raw.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_series_and_sorts_labels() {
        let labels: BTreeMap<String, String> = [("pod", "a"), ("container", "c"), ("empty", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut ts = TimeSeries::new("up", &labels);
        ts.samples.push(Sample { value: 1.5, timestamp: 1_000 });
        let req = WriteRequest { timeseries: vec![ts] };
        let back = decode(&encode(&req)).expect("decodes");
        assert_eq!(back, req);
        let names: Vec<&str> = back.timeseries[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "container", "pod"]);
    }

    #[test]
    fn a_huge_claimed_length_is_refused_before_allocating() {
        let err = decode(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge(n) if n == u32::MAX as usize), "{err}");
    }

    #[test]
    fn framed_snappy_is_rejected() {
        let err = decode(b"\xff\x06\x00\x00sNaPpY").unwrap_err();
        assert!(matches!(err, DecodeError::Snappy(_) | DecodeError::Protobuf(_)), "{err}");
    }
}
