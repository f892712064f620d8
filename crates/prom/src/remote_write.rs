//! Remote write 1.0: a protobuf `WriteRequest`, compressed with snappy's block format.
//!
//! Two views of the same wire message (field numbers as in Prometheus's `prompb/types.proto`
//! and `prompb/remote.proto`):
//! - [`WriteRequest`] / [`TimeSeries`]: labels and float samples only, what the senders in
//!   this project build;
//! - [`FullWriteRequest`] / [`FullTimeSeries`]: everything a remote write 1.0 request can
//!   carry, exemplars, native histograms and metric metadata included. [`decode`] always reads
//!   this one, so a receiver never drops a part of a request without seeing it.
//!
//! A `WriteRequest` encodes to exactly the bytes of the `FullWriteRequest` it converts into.

use std::collections::BTreeMap;

/// The top-level remote write message, samples only (see [`FullWriteRequest`]).
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

/// The whole remote write 1.0 message: series and metric metadata (field 2 is reserved).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FullWriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<FullTimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// One series with everything it can carry: float samples, exemplars and native histograms.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FullTimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// An exemplar: its own labels (a trace id, typically; may be empty), a value and a
/// timestamp in milliseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// A native (sparse) histogram, integer or float: integer ones carry `CountInt`,
/// `ZeroCountInt` and bucket deltas, float ones `CountFloat`, `ZeroCountFloat` and absolute
/// bucket counts.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    #[prost(oneof = "HistogramCount", tags = "1, 2")]
    pub count: Option<HistogramCount>,
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Base-2 bucket schema; Prometheus 2.42 knows -4 to 8.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    #[prost(oneof = "HistogramZeroCount", tags = "6, 7")]
    pub zero_count: Option<HistogramZeroCount>,
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Integer histograms: each bucket's count as a delta to the previous bucket's.
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Float histograms: each bucket's absolute count.
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    #[prost(enumeration = "ResetHint", tag = "14")]
    pub reset_hint: i32,
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

/// A histogram's observation count (`oneof count`).
#[derive(Clone, Copy, PartialEq, prost::Oneof)]
pub enum HistogramCount {
    #[prost(uint64, tag = "1")]
    CountInt(u64),
    #[prost(double, tag = "2")]
    CountFloat(f64),
}

/// A histogram's zero-bucket count (`oneof zero_count`).
#[derive(Clone, Copy, PartialEq, prost::Oneof)]
pub enum HistogramZeroCount {
    #[prost(uint64, tag = "6")]
    ZeroCountInt(u64),
    #[prost(double, tag = "7")]
    ZeroCountFloat(f64),
}

/// What a histogram says about counter resets (`Histogram.ResetHint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResetHint {
    Unknown = 0,
    Yes = 1,
    No = 2,
    Gauge = 3,
}

/// Consecutive buckets: the gap to the previous span (or the first bucket's index), and how
/// many buckets follow.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// Type, help and unit of a metric family (field 3 is unused in the proto).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct MetricMetadata {
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// `MetricMetadata.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Unknown = 0,
    Counter = 1,
    Gauge = 2,
    Histogram = 3,
    GaugeHistogram = 4,
    Summary = 5,
    Info = 6,
    StateSet = 7,
}

impl MetricType {
    /// The name Prometheus's `/api/v1/metadata` uses for the type.
    pub fn api_name(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }
}

impl Histogram {
    /// Whether this is a float histogram (it carries `CountFloat`).
    pub fn is_float(&self) -> bool {
        matches!(self.count, Some(HistogramCount::CountFloat(_)))
    }
}

impl FullWriteRequest {
    /// Float samples over all series.
    pub fn sample_count(&self) -> usize {
        self.timeseries.iter().map(|ts| ts.samples.len()).sum()
    }

    /// Histogram samples over all series.
    pub fn histogram_count(&self) -> usize {
        self.timeseries.iter().map(|ts| ts.histograms.len()).sum()
    }

    /// Exemplars over all series.
    pub fn exemplar_count(&self) -> usize {
        self.timeseries.iter().map(|ts| ts.exemplars.len()).sum()
    }
}

impl From<WriteRequest> for FullWriteRequest {
    fn from(request: WriteRequest) -> FullWriteRequest {
        FullWriteRequest {
            timeseries: request
                .timeseries
                .into_iter()
                .map(|ts| FullTimeSeries { labels: ts.labels, samples: ts.samples, ..Default::default() })
                .collect(),
            metadata: Vec::new(),
        }
    }
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

/// Why a request could not be encoded for the wire.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("request cannot be snappy-compressed: {0}")]
    Snappy(#[from] snap::Error),
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
    compress(&prost::Message::encode_to_vec(request))
}

/// Encodes a full request (exemplars, histograms and metadata included) for the wire.
pub fn encode_full(request: &FullWriteRequest) -> Vec<u8> {
    compress(&prost::Message::encode_to_vec(request))
}

fn compress(raw: &[u8]) -> Vec<u8> {
    // Compressing into a buffer sized by `max_compress_len` cannot fail.
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .unwrap_or_else(|e| unreachable!("snappy compression of an in-memory buffer failed: {e}"))
}

/// Decodes a body as it comes off the wire, every part of the message kept.
pub fn decode(body: &[u8]) -> Result<FullWriteRequest, DecodeError> {
    let claimed = snap::raw::decompress_len(body)?;
    if claimed > MAX_DECOMPRESSED_BYTES {
        return Err(DecodeError::TooLarge(claimed));
    }
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(prost::Message::decode(raw.as_slice())?)
}

/// Decompresses a snappy block body, refusing one that claims to be over
/// [`MAX_DECOMPRESSED_BYTES`] before anything is allocated.
pub fn decompress(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let claimed = snap::raw::decompress_len(body)?;
    if claimed > MAX_DECOMPRESSED_BYTES {
        return Err(DecodeError::TooLarge(claimed));
    }
    Ok(snap::raw::Decoder::new().decompress_vec(body)?)
}

/// Encodes a full request for a receiver on the same machine: protobuf in a snappy block made
/// of one literal (valid snappy that any decoder reads, written at the speed of a copy; the
/// bytes are not smaller, which loopback does not mind).
pub fn encode_full_stored(request: &FullWriteRequest) -> Vec<u8> {
    let len = prost::Message::encoded_len(request);
    let mut out = Vec::with_capacity(len + 16);
    literal_header(&mut out, len);
    prost::Message::encode_raw(request, &mut out);
    out
}

/// The snappy block header for `len` raw bytes sent as one literal: the decompressed length
/// as a varint, then a literal tag with a 4-byte length.
fn literal_header(out: &mut Vec<u8>, len: usize) {
    prost::encoding::encode_varint(len as u64, out);
    if len > 0 {
        out.push(63 << 2);
        out.extend_from_slice(&((len - 1) as u32).to_le_bytes());
    }
}

/// A label pair borrowed from a decompressed body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawLabel<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// One series of a decompressed request, read in place: labels borrowed, float samples
/// checked for their shape and counted, not decoded.
#[derive(Debug)]
pub struct RawSeries<'a> {
    /// Labels in the order sent.
    pub labels: Vec<RawLabel<'a>>,
    /// Float samples.
    pub samples: usize,
    /// The series message (without its key and length).
    body: &'a [u8],
    /// Where each label field starts in `body`, and where the last one ends.
    label_starts: Vec<usize>,
    labels_end: usize,
}

/// Reads a decompressed request that holds only series of labels and float samples, without
/// copying anything: `None` when it holds anything else (exemplars, histograms, metadata,
/// unknown fields, a field given twice) or is not well-formed protobuf, for which
/// [`decode`] is the way (and says what is wrong). What it accepts, [`decode`] reads as the
/// same labels and sample counts.
pub fn scan_series(raw: &[u8]) -> Option<Vec<RawSeries<'_>>> {
    let mut series = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let (key, body, next) = field(raw, at)?;
        if key != 0x0a {
            return None;
        }
        series.push(scan_one(body?)?);
        at = next;
    }
    Some(series)
}

fn scan_one(body: &[u8]) -> Option<RawSeries<'_>> {
    let (mut labels, mut label_starts, mut labels_end, mut samples) = (Vec::new(), Vec::new(), 0, 0);
    let mut at = 0;
    while at < body.len() {
        let (key, inner, next) = field(body, at)?;
        match key {
            0x0a => {
                labels.push(scan_label(inner?)?);
                label_starts.push(at);
                labels_end = next;
            }
            0x12 => {
                scan_sample(inner?)?;
                samples += 1;
            }
            _ => return None,
        }
        at = next;
    }
    Some(RawSeries { labels, samples, body, label_starts, labels_end })
}

fn scan_label(body: &[u8]) -> Option<RawLabel<'_>> {
    let (mut name, mut value) = (None, None);
    let mut at = 0;
    while at < body.len() {
        let (key, inner, next) = field(body, at)?;
        let slot = match key {
            0x0a => &mut name,
            0x12 => &mut value,
            _ => return None,
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(std::str::from_utf8(inner?).ok()?);
        at = next;
    }
    Some(RawLabel { name: name.unwrap_or(""), value: value.unwrap_or("") })
}

fn scan_sample(body: &[u8]) -> Option<()> {
    let (mut value, mut timestamp) = (false, false);
    let mut at = 0;
    while at < body.len() {
        let (key, _, next) = field(body, at)?;
        let seen = match key {
            0x09 => &mut value,
            0x10 => &mut timestamp,
            _ => return None,
        };
        if *seen {
            return None;
        }
        *seen = true;
        at = next;
    }
    Some(())
}

/// The field at `at`: its key, its payload if length-delimited (`None` for the fixed64 and
/// varint fields, whose payload is only skipped), and where the next field starts. `None`
/// for a key over one byte, another wire type, or a field running past the end.
#[allow(clippy::type_complexity)]
fn field(buf: &[u8], at: usize) -> Option<(u8, Option<&[u8]>, usize)> {
    let key = *buf.get(at)?;
    if key & 0x80 != 0 {
        return None;
    }
    let at = at + 1;
    match key & 7 {
        0 => {
            let (_, len) = varint(&buf[at..])?;
            Some((key, None, at + len))
        }
        1 => (buf.len() - at >= 8).then_some((key, None, at + 8)),
        2 => {
            let (len, n) = varint(&buf[at..])?;
            let start = at + n;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            Some((key, Some(buf.get(start..end)?), end))
        }
        _ => None,
    }
}

/// A varint and its length in bytes (at most 10).
fn varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in buf.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The request of `series` with `label` added to every series before the first label whose
/// name sorts after it (the rest of each series copied as it came), protobuf in a snappy block
/// compressed for real: the receiver decompresses what the sender would have sent, not a
/// literal five times its size. Fails only for a request over snappy's 4 GiB block limit.
pub fn encode_with_label(series: &[RawSeries<'_>], name: &str, value: &str) -> Result<Vec<u8>, EncodeError> {
    let raw = with_label(series, name, value);
    let mut body = snap::raw::Encoder::new().compress_vec(&raw)?;
    // `compress_vec` leaves room for the worst case, 1.17 times the raw size; the body is held
    // while it is forwarded.
    body.shrink_to_fit();
    Ok(body)
}

/// The protobuf of [`encode_with_label`], uncompressed: each series' bytes copied around the
/// spliced label.
fn with_label(series: &[RawSeries<'_>], name: &str, value: &str) -> Vec<u8> {
    let label_len = 2 + name.len() + varint_len(name.len()) + value.len() + varint_len(value.len());
    let extra = 1 + varint_len(label_len) + label_len;
    let total: usize = series
        .iter()
        .map(|s| {
            let len = s.body.len() + extra;
            1 + varint_len(len) + len
        })
        .sum();
    let mut out = Vec::with_capacity(total);
    for s in series {
        out.push(0x0a);
        prost::encoding::encode_varint((s.body.len() + extra) as u64, &mut out);
        let at = s.labels.partition_point(|l| l.name < name);
        let split = s.label_starts.get(at).copied().unwrap_or(s.labels_end);
        out.extend_from_slice(&s.body[..split]);
        out.push(0x0a);
        prost::encoding::encode_varint(label_len as u64, &mut out);
        for (key, text) in [(0x0a, name), (0x12, value)] {
            out.push(key);
            prost::encoding::encode_varint(text.len() as u64, &mut out);
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&s.body[split..]);
    }
    debug_assert_eq!(out.len(), total);
    out
}

fn varint_len(n: usize) -> usize {
    prost::encoding::encoded_len_varint(n as u64)
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
        assert_eq!(back, FullWriteRequest::from(req.clone()));
        assert_eq!(encode_full(&back), encode(&req), "a samples-only request has the same bytes");
        let names: Vec<&str> = back.timeseries[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "container", "pod"]);
    }

    /// Bytes written by hand from `prompb/types.proto` and `remote.proto` (not by prost), so a
    /// wrong field number or wire type cannot hide behind a round trip.
    #[test]
    fn exemplars_histograms_and_metadata_use_prometheus_field_numbers() {
        let label = [&[0x0a, 0x08][..], b"__name__", &[0x12, 0x01], b"x"].concat();
        let exemplar = [&[0x11][..], &1.5f64.to_le_bytes(), &[0x18, 0x07]].concat();
        let histogram: Vec<u8> = vec![
            0x08, 0x05, // count_int = 5
            0x20, 0x06, // schema = 3 (zigzag)
            0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, // positive_spans [{offset -1, length 2}]
            0x62, 0x02, 0x04, 0x02, // positive_deltas [2, 1] (packed, zigzag)
            0x70, 0x02, // reset_hint = NO
            0x78, 0x09, // timestamp = 9
        ];
        let field = |key: u8, body: &[u8]| [&[key, body.len() as u8][..], body].concat();
        let series = [field(0x0a, &label), field(0x1a, &exemplar), field(0x22, &histogram)].concat();
        let metadata =
            [&[0x08, 0x01, 0x12, 0x01][..], b"x", &[0x22, 0x01], b"h", &[0x2a, 0x01], b"u"].concat();
        let raw = [field(0x0a, &series), field(0x1a, &metadata)].concat();
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();

        let got = decode(&body).expect("decodes");
        let ts = &got.timeseries[0];
        assert_eq!(ts.labels, [Label { name: "__name__".into(), value: "x".into() }]);
        assert_eq!(ts.exemplars, [Exemplar { labels: vec![], value: 1.5, timestamp: 7 }]);
        let h = &ts.histograms[0];
        assert_eq!(h.count, Some(HistogramCount::CountInt(5)));
        assert!(!h.is_float());
        assert_eq!(h.schema, 3);
        assert_eq!(h.positive_spans, [BucketSpan { offset: -1, length: 2 }]);
        assert_eq!(h.positive_deltas, [2, 1]);
        assert_eq!(h.reset_hint, ResetHint::No as i32);
        assert_eq!(h.timestamp, 9);
        assert_eq!(
            got.metadata,
            [MetricMetadata {
                r#type: MetricType::Counter as i32,
                metric_family_name: "x".into(),
                help: "h".into(),
                unit: "u".into()
            }]
        );
        // And back: prost writes the same bytes (packed repeated fields, fields in order).
        assert_eq!(prost::Message::encode_to_vec(&got), raw);
        assert_eq!((got.sample_count(), got.histogram_count(), got.exemplar_count()), (0, 1, 1));
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
    #[test]
    fn a_scanned_request_tagged_in_place_decodes_as_the_decoded_one_tagged() {
        let labels: BTreeMap<String, String> =
            [("a", "1"), ("zone", "z")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let mut one = TimeSeries::new("up", &labels);
        one.samples = (0..3).map(|i| Sample { value: i as f64, timestamp: i }).collect();
        let mut two = TimeSeries::new("b", &BTreeMap::new());
        two.samples.push(Sample { value: 0.0, timestamp: 0 });
        let request = WriteRequest { timeseries: vec![one, two] };
        let raw = decompress(&encode(&request)).unwrap();
        let scanned = scan_series(&raw).expect("labels and samples only");
        assert_eq!(scanned.iter().map(|s| s.samples).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(scanned[0].labels[1], RawLabel { name: "a", value: "1" });
        let mut expected = FullWriteRequest::from(request);
        for ts in &mut expected.timeseries {
            let at = ts.labels.partition_point(|l| l.name.as_str() < "m_tenant");
            ts.labels.insert(at, Label { name: "m_tenant".into(), value: "ws-1".into() });
        }
        let tagged = encode_with_label(&scanned, "m_tenant", "ws-1").unwrap();
        assert_eq!(decode(&tagged).unwrap(), expected);
        assert_eq!(decode(&encode_full_stored(&expected)).unwrap(), expected);
        assert_eq!(decode(&encode_with_label(&[], "m", "v").unwrap()).unwrap(), FullWriteRequest::default());
    }

    /// The spliced label first, between others and last, with lengths whose varints grow by a
    /// byte when the label is added; what comes out is snappy compressed for real, and holds
    /// exactly the protobuf prost writes for the request tagged in owned structs.
    #[test]
    fn a_request_tagged_in_place_is_compressed_and_decodes_as_tagged_in_owned_structs() {
        let labels: BTreeMap<String, String> = [("cluster_id", "cluster-0001"), ("pod", "api-1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let series = |name: &str, samples: usize| {
            let mut ts = TimeSeries::new(name, &labels);
            ts.samples = (0..samples).map(|i| Sample { value: 1.5, timestamp: 60_000 * i as i64 }).collect();
            ts
        };
        // Two samples make a series of 84 bytes: a 40-byte value takes it past 127, a
        // 200-byte one takes the label itself past 127.
        let request =
            WriteRequest { timeseries: (0..50).map(|i| series(&format!("m{}", i % 3), 2)).collect() };
        let raw = decompress(&encode(&request)).unwrap();
        let scanned = scan_series(&raw).expect("labels and samples only");
        for (name, value) in [("A", "ws-1"), ("m_tenant", &"w".repeat(40)[..]), ("zz", &"v".repeat(200)[..])]
        {
            let mut expected = FullWriteRequest::from(request.clone());
            for ts in &mut expected.timeseries {
                let at = ts.labels.iter().position(|l| l.name.as_str() > name).unwrap_or(ts.labels.len());
                ts.labels.insert(at, Label { name: name.into(), value: value.into() });
            }
            let tagged = encode_with_label(&scanned, name, value).unwrap();
            let inner = decompress(&tagged).unwrap();
            assert!(
                tagged.len() * 4 < inner.len(),
                "{name}: {} bytes for {}: not compressed",
                tagged.len(),
                inner.len()
            );
            assert_eq!(inner, prost::Message::encode_to_vec(&expected), "{name}");
            assert_eq!(decode(&tagged).unwrap(), expected, "{name}");
        }
    }

    #[test]
    fn the_scan_leaves_anything_but_labels_and_samples_to_the_decoder() {
        let full = |ts: FullTimeSeries, metadata| {
            prost::Message::encode_to_vec(&FullWriteRequest { timeseries: vec![ts], metadata })
        };
        let name = Label { name: "__name__".into(), value: "x".into() };
        let plain = FullTimeSeries { labels: vec![name.clone()], ..Default::default() };
        assert!(scan_series(&full(plain.clone(), vec![])).is_some());
        let exemplar = Exemplar { labels: vec![], value: 1.0, timestamp: 1 };
        assert!(scan_series(&full(FullTimeSeries { exemplars: vec![exemplar], ..plain.clone() }, vec![]))
            .is_none());
        assert!(scan_series(&full(plain, vec![MetricMetadata::default()])).is_none());
        // Truncated, or a label name twice in one label.
        let raw = full(FullTimeSeries { labels: vec![name], ..Default::default() }, vec![]);
        assert!(scan_series(&raw[..raw.len() - 1]).is_none());
        assert!(scan_series(&[0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x01, b'a', 0x0a, 0x01, b'b']).is_none());
        assert!(scan_series(&[0x0a, 0x03, 0x0a, 0x01, 0xff]).is_none(), "a label that is not UTF-8");
    }
}
