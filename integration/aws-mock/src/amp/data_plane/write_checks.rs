//! What a remote write must satisfy before the mock forwards it: the series rules every
//! receiver applies, and, for exemplars, native histograms and metadata, the checks that
//! Prometheus 2.42 (the backend) would otherwise fail in ways a sender cannot act on. Its
//! receiver drops an exemplar it refuses and still answers 2xx, and answers 500 (which the
//! mock turns into a 503 that senders retry forever) for a histogram it cannot store; here
//! either is a 400 that says what is wrong and where.

use ampfed_prom::remote_write::{
    self, BucketSpan, Exemplar, FullTimeSeries, FullWriteRequest, Histogram, HistogramCount,
    HistogramZeroCount, Label, MetricMetadata, MetricType, RawLabel, ResetHint,
};

use crate::amp::tenancy::TENANT_LABEL;
use crate::names::{is_label_name, is_metric_name};

/// Labels per series AMP accepts.
const MAX_LABELS_PER_SERIES: usize = 70;

/// Characters (names plus values) an exemplar's labels may have, as Prometheus counts them.
const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

/// Native histogram schemas Prometheus 2.42 stores.
const SCHEMAS: std::ops::RangeInclusive<i32> = -4..=8;

/// Decodes a remote write body and checks every part of it; the error says what is wrong and
/// where.
pub(super) fn validate_write(body: &[u8]) -> Result<FullWriteRequest, String> {
    let request = remote_write::decode(body).map_err(|e| e.to_string())?;
    for (i, ts) in request.timeseries.iter().enumerate() {
        check_series(i, ts)?;
    }
    for (i, m) in request.metadata.iter().enumerate() {
        check_metadata(m).map_err(|e| format!("metadata {i} ({:?}): {e}", m.metric_family_name))?;
    }
    Ok(request)
}

/// A checked write, ready for the backend.
pub(super) struct Checked {
    /// The body for the backend, every series tagged with the workspace; `None` when the
    /// write has no series.
    pub(super) forward: Option<Vec<u8>>,
    /// Float and histogram samples.
    pub(super) samples: usize,
    pub(super) exemplars: usize,
    /// Metadata, kept by the mock and not forwarded.
    pub(super) metadata: Vec<MetricMetadata>,
}

/// Checks a remote write as [`validate_write`] does and tags it for `workspace`. A write of
/// labels and float samples only (what Prometheus and the simulator send) is checked and
/// tagged in place in the decompressed body, nothing decoded, and snappy-compressed again for
/// the backend (`encode_with_label`: Prometheus then decompresses what the sender sent, not a
/// literal five times larger); anything else (rare) is decoded whole and forwarded as one
/// snappy literal (`encode_full_stored`).
pub(super) fn check_and_tag(body: &[u8], workspace: &str) -> Result<Checked, String> {
    let raw = remote_write::decompress(body).map_err(|e| e.to_string())?;
    if let Some(series) = remote_write::scan_series(&raw) {
        for (i, ts) in series.iter().enumerate() {
            check_labels(i, &ts.labels)?;
        }
        let forward = if series.is_empty() {
            None
        } else {
            let tagged = remote_write::encode_with_label(&series, TENANT_LABEL, workspace);
            Some(tagged.map_err(|e| e.to_string())?)
        };
        return Ok(Checked {
            forward,
            samples: series.iter().map(|s| s.samples).sum(),
            exemplars: 0,
            metadata: Vec::new(),
        });
    }
    let mut request = validate_write(body)?;
    let metadata = std::mem::take(&mut request.metadata);
    let (samples, exemplars) = (request.sample_count() + request.histogram_count(), request.exemplar_count());
    tag(&mut request, workspace);
    Ok(Checked {
        forward: (!request.timeseries.is_empty()).then(|| remote_write::encode_full_stored(&request)),
        samples,
        exemplars,
        metadata,
    })
}

/// Adds the tenant label to every series, keeping labels sorted.
pub(super) fn tag(request: &mut FullWriteRequest, workspace: &str) {
    for ts in &mut request.timeseries {
        let at = ts.labels.partition_point(|l| l.name.as_str() < TENANT_LABEL);
        ts.labels.insert(at, Label { name: TENANT_LABEL.into(), value: workspace.into() });
    }
}

/// The series rules every receiver applies, on a series' labels (owned or borrowed).
fn check_labels(i: usize, labels: &[RawLabel<'_>]) -> Result<(), String> {
    let at = || format!("series {i} {}", render_labels(labels));
    if labels.is_empty() {
        return Err(format!("series {i}: series has no labels"));
    }
    if labels.len() > MAX_LABELS_PER_SERIES {
        return Err(format!(
            "{}: series has {} labels, more than the limit of {MAX_LABELS_PER_SERIES}",
            at(),
            labels.len()
        ));
    }
    for (j, l) in labels.iter().enumerate() {
        if j > 0 {
            let prev = labels[j - 1].name;
            if prev == l.name {
                return Err(format!("{}: duplicate label name {:?}", at(), l.name));
            }
            if prev > l.name {
                return Err(format!(
                    "{}: labels are not sorted by name: {:?} comes after {:?}",
                    at(),
                    l.name,
                    prev
                ));
            }
        }
        if l.name.is_empty() {
            return Err(format!("{}: empty label name", at()));
        }
        if !is_label_name(l.name) {
            return Err(format!("{}: invalid label name {:?}", at(), l.name));
        }
        if l.value.is_empty() {
            return Err(format!("{}: label {:?} has an empty value", at(), l.name));
        }
        if l.name == TENANT_LABEL {
            return Err(format!("{}: label name {TENANT_LABEL:?} is reserved by the mock", at()));
        }
    }
    match labels.iter().find(|l| l.name == "__name__") {
        None => return Err(format!("{}: series has no metric name (__name__)", at())),
        Some(l) if !is_metric_name(l.value) => {
            return Err(format!("{}: invalid metric name {:?}", at(), l.value))
        }
        Some(_) => {}
    }
    Ok(())
}

fn check_series(i: usize, ts: &FullTimeSeries) -> Result<(), String> {
    let labels: Vec<RawLabel<'_>> =
        ts.labels.iter().map(|l| RawLabel { name: &l.name, value: &l.value }).collect();
    check_labels(i, &labels)?;
    let at = || format!("series {i} {}", render_labels(&labels));
    for (k, e) in ts.exemplars.iter().enumerate() {
        check_exemplar(e).map_err(|m| format!("{}: exemplar {k}: {m}", at()))?;
        if k > 0 && e.timestamp <= ts.exemplars[k - 1].timestamp {
            // The backend keeps only exemplars newer than the newest it has, and drops the
            // others without failing the request.
            return Err(format!(
                "{}: exemplar {k}: timestamps must increase within a series ({} after {})",
                at(),
                e.timestamp,
                ts.exemplars[k - 1].timestamp
            ));
        }
    }
    for (k, h) in ts.histograms.iter().enumerate() {
        check_histogram(h).map_err(|m| format!("{}: histogram {k}: {m}", at()))?;
    }
    Ok(())
}

fn check_exemplar(e: &Exemplar) -> Result<(), String> {
    let mut chars = 0;
    for (j, l) in e.labels.iter().enumerate() {
        if !is_label_name(&l.name) {
            return Err(format!("invalid label name {:?}", l.name));
        }
        if l.name == TENANT_LABEL {
            return Err(format!("label name {TENANT_LABEL:?} is reserved by the mock"));
        }
        if j > 0 && e.labels[j - 1].name >= l.name {
            return Err(format!("labels must be sorted and unique by name ({:?})", l.name));
        }
        chars += l.name.chars().count() + l.value.chars().count();
    }
    if chars > MAX_EXEMPLAR_LABEL_CHARS {
        return Err(format!(
            "labels have {chars} characters, more than the limit of {MAX_EXEMPLAR_LABEL_CHARS}"
        ));
    }
    Ok(())
}

/// A native histogram as Prometheus 2.42 would validate and store it.
fn check_histogram(h: &Histogram) -> Result<(), String> {
    if !SCHEMAS.contains(&h.schema) {
        return Err(format!(
            "schema {} is not one the backend (Prometheus 2.42) stores ({} to {})",
            h.schema,
            SCHEMAS.start(),
            SCHEMAS.end()
        ));
    }
    if ResetHint::try_from(h.reset_hint).is_err() {
        return Err(format!("unknown reset hint {}", h.reset_hint));
    }
    if !non_negative(h.zero_threshold) {
        return Err(format!("zero threshold {} is not a non-negative number", h.zero_threshold));
    }
    if h.is_float() {
        check_float_histogram(h)
    } else {
        check_integer_histogram(h)
    }
}

fn check_integer_histogram(h: &Histogram) -> Result<(), String> {
    let count = match h.count {
        Some(HistogramCount::CountInt(n)) => n,
        _ => 0,
    };
    if matches!(h.zero_count, Some(HistogramZeroCount::ZeroCountFloat(_))) {
        return Err("an integer histogram (CountInt) has a float zero count".into());
    }
    if !h.negative_counts.is_empty() || !h.positive_counts.is_empty() {
        return Err("an integer histogram (CountInt) has float bucket counts; use deltas".into());
    }
    let negative = integer_buckets("negative", &h.negative_spans, &h.negative_deltas)?;
    let positive = integer_buckets("positive", &h.positive_spans, &h.positive_deltas)?;
    match negative.checked_add(positive) {
        Some(n) if n <= count => Ok(()),
        Some(n) => Err(format!("{n} observations found in buckets, but the count is {count}")),
        None => Err("bucket counts overflow".into()),
    }
}

fn check_float_histogram(h: &Histogram) -> Result<(), String> {
    let count = match h.count {
        Some(HistogramCount::CountFloat(c)) => c,
        _ => 0.0,
    };
    let zero = match h.zero_count {
        Some(HistogramZeroCount::ZeroCountFloat(c)) => c,
        Some(HistogramZeroCount::ZeroCountInt(_)) => {
            return Err("a float histogram (CountFloat) has an integer zero count".into())
        }
        None => 0.0,
    };
    if !h.negative_deltas.is_empty() || !h.positive_deltas.is_empty() {
        return Err("a float histogram (CountFloat) has bucket deltas; use absolute counts".into());
    }
    if !non_negative(count) || !non_negative(zero) {
        return Err(format!("count {count} and zero count {zero} must be non-negative numbers"));
    }
    let negative = float_buckets("negative", &h.negative_spans, &h.negative_counts)?;
    let positive = float_buckets("positive", &h.positive_spans, &h.positive_counts)?;
    // Prometheus 2.42's receiver takes a histogram for a float one only when one of these
    // two is above zero, and reads any other as an integer histogram.
    if count == 0.0 && zero == 0.0 && !(h.negative_counts.is_empty() && h.positive_counts.is_empty()) {
        return Err(
            "a float histogram with a count and zero count of 0 but buckets cannot be stored by the backend (Prometheus 2.42 reads it as an integer histogram)"
                .into(),
        );
    }
    if negative + positive > count {
        return Err(format!(
            "{} observations found in buckets, but the count is {count}",
            negative + positive
        ));
    }
    Ok(())
}

/// The number of buckets the spans describe, and that only the first span's offset may be
/// negative.
fn span_buckets(side: &str, spans: &[BucketSpan]) -> Result<u64, String> {
    let mut buckets = 0u64;
    for (n, span) in spans.iter().enumerate() {
        if n > 0 && span.offset < 0 {
            return Err(format!("{side} span {} has a negative offset {}", n + 1, span.offset));
        }
        buckets += u64::from(span.length);
    }
    Ok(buckets)
}

fn integer_buckets(side: &str, spans: &[BucketSpan], deltas: &[i64]) -> Result<u64, String> {
    let needed = span_buckets(side, spans)?;
    if needed != deltas.len() as u64 {
        return Err(format!("{side} spans need {needed} buckets, have {}", deltas.len()));
    }
    let (mut current, mut total) = (0i64, 0u64);
    for (i, delta) in deltas.iter().enumerate() {
        current = current.checked_add(*delta).ok_or_else(|| format!("{side} bucket {} overflows", i + 1))?;
        let count = u64::try_from(current)
            .map_err(|_| format!("{side} bucket {} has a negative count {current}", i + 1))?;
        total = total.checked_add(count).ok_or_else(|| format!("{side} bucket counts overflow"))?;
    }
    Ok(total)
}

fn float_buckets(side: &str, spans: &[BucketSpan], counts: &[f64]) -> Result<f64, String> {
    let needed = span_buckets(side, spans)?;
    if needed != counts.len() as u64 {
        return Err(format!("{side} spans need {needed} buckets, have {}", counts.len()));
    }
    let mut total = 0.0;
    for (i, c) in counts.iter().enumerate() {
        if !non_negative(*c) {
            return Err(format!("{side} bucket {} has a count of {c}", i + 1));
        }
        total += c;
    }
    Ok(total)
}

/// A number that is zero or more (not NaN).
fn non_negative(x: f64) -> bool {
    x >= 0.0
}

fn check_metadata(m: &MetricMetadata) -> Result<(), String> {
    if !is_metric_name(&m.metric_family_name) {
        return Err("invalid metric family name".into());
    }
    if MetricType::try_from(m.r#type).is_err() {
        return Err(format!("unknown metric type {}", m.r#type));
    }
    Ok(())
}

fn render_labels(labels: &[RawLabel<'_>]) -> String {
    let inner: Vec<String> = labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use ampfed_prom::remote_write::{Sample, TimeSeries, WriteRequest};

    use super::*;

    fn body(labels: &[(&str, &str)]) -> Vec<u8> {
        let ts = TimeSeries {
            labels: labels.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }).collect(),
            samples: vec![Sample { value: 1.0, timestamp: 1 }],
        };
        remote_write::encode(&WriteRequest { timeseries: vec![ts] })
    }

    fn with(f: impl FnOnce(&mut FullTimeSeries), metadata: Vec<MetricMetadata>) -> Vec<u8> {
        let mut ts = FullTimeSeries {
            labels: vec![Label { name: "__name__".into(), value: "x".into() }],
            ..Default::default()
        };
        f(&mut ts);
        remote_write::encode_full(&FullWriteRequest { timeseries: vec![ts], metadata })
    }

    fn histogram() -> Histogram {
        Histogram {
            count: Some(HistogramCount::CountInt(5)),
            sum: 7.5,
            schema: 0,
            zero_threshold: 1e-128,
            zero_count: Some(HistogramZeroCount::ZeroCountInt(1)),
            positive_spans: vec![BucketSpan { offset: 0, length: 2 }],
            positive_deltas: vec![2, 0],
            timestamp: 1,
            ..Default::default()
        }
    }

    #[test]
    fn the_in_place_path_checks_and_tags_as_the_decoding_one() {
        let bodies = [
            body(&[("b", "1"), ("__name__", "x")]),
            body(&[("__name__", "x"), ("a", "1"), ("a", "2")]),
            body(&[("__name__", "x"), ("a", "")]),
            body(&[("__name__", "1x")]),
            body(&[("a", "1")]),
            body(&[("__name__", "x"), ("ampfed_workspace", "w")]),
            body(&[("__name__", "x"), ("zone", "1")]),
            b"not snappy".to_vec(),
        ];
        for b in &bodies {
            let fast = check_and_tag(b, "ws-1");
            match validate_write(b) {
                Err(e) => assert_eq!(fast.err(), Some(e)),
                Ok(mut request) => {
                    tag(&mut request, "ws-1");
                    let fast = fast.unwrap();
                    assert_eq!((fast.samples, fast.exemplars), (1, 0));
                    assert_eq!(remote_write::decode(&fast.forward.unwrap()).unwrap(), request);
                }
            }
        }
        // Exemplars take the decoding path, tagged the same way.
        let with_exemplar =
            with(|ts| ts.exemplars.push(Exemplar { labels: vec![], value: 1.0, timestamp: 1 }), vec![]);
        let checked = check_and_tag(&with_exemplar, "ws-1").unwrap();
        assert_eq!((checked.samples, checked.exemplars), (0, 1));
        let forwarded = remote_write::decode(&checked.forward.unwrap()).unwrap();
        assert_eq!(forwarded.timeseries[0].labels[1].name, TENANT_LABEL);
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let err = |b: &[u8]| validate_write(b).unwrap_err();
        assert!(err(b"not snappy").contains("snappy"), "{}", err(b"not snappy"));
        let garbage = snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff").unwrap();
        assert!(err(&garbage).contains("protobuf"), "{}", err(&garbage));
        assert!(err(&body(&[("b", "1"), ("__name__", "x")])).contains("not sorted"));
        assert!(err(&body(&[("__name__", "x"), ("a", "1"), ("a", "2")])).contains("duplicate label name"));
        assert!(err(&body(&[("__name__", "x"), ("a", "")])).contains("empty value"));
        assert!(err(&body(&[("__name__", "1x")])).contains("invalid metric name"));
        assert!(err(&body(&[("__name__", "x"), ("a-b", "1")])).contains("invalid label name"));
        assert!(err(&body(&[("a", "1")])).contains("no metric name"));
        assert!(err(&body(&[("__name__", "x"), ("ampfed_workspace", "w")])).contains("reserved"));
    }

    #[test]
    fn exemplars_histograms_and_metadata_are_kept_when_valid() {
        let meta = MetricMetadata {
            r#type: MetricType::Histogram as i32,
            metric_family_name: "x".into(),
            help: "h".into(),
            unit: String::new(),
        };
        let ok = with(
            |ts| {
                ts.exemplars.push(Exemplar {
                    labels: vec![Label { name: "trace_id".into(), value: "abc".into() }],
                    value: 1.0,
                    timestamp: 1,
                });
                ts.histograms.push(histogram());
            },
            vec![meta.clone()],
        );
        let got = validate_write(&ok).unwrap();
        assert_eq!(got.timeseries[0].exemplars.len(), 1);
        assert_eq!(got.timeseries[0].histograms, [histogram()]);
        assert_eq!(got.metadata, [meta]);
    }

    #[test]
    fn what_the_backend_would_drop_or_fail_on_is_a_400() {
        let err = |f: &dyn Fn(&mut FullTimeSeries)| validate_write(&with(f, vec![])).unwrap_err();
        let exemplar = |ts: i64, labels: Vec<Label>| Exemplar { labels, value: 1.0, timestamp: ts };
        let long = Label { name: "trace_id".into(), value: "a".repeat(121) };
        assert!(err(&|ts| ts.exemplars.push(exemplar(1, vec![long.clone()]))).contains("129 characters"));
        let e = err(&|ts| ts.exemplars.extend([exemplar(2, vec![]), exemplar(1, vec![])]));
        assert!(e.contains("timestamps must increase"), "{e}");
        let reserved =
            check_exemplar(&exemplar(1, vec![Label { name: TENANT_LABEL.into(), value: "ws-other".into() }]))
                .unwrap_err();
        assert!(reserved.contains("is reserved"), "{reserved}");
        let h = |f: &dyn Fn(&mut Histogram)| {
            err(&|ts| {
                let mut h = histogram();
                f(&mut h);
                ts.histograms.push(h);
            })
        };
        assert!(h(&|h| h.schema = 9).contains("schema 9"));
        assert!(h(&|h| h.positive_deltas.push(1)).contains("need 2 buckets, have 3"));
        assert!(h(&|h| h.positive_deltas = vec![2, -3]).contains("negative count"));
        assert!(h(&|h| h.count = Some(HistogramCount::CountInt(3))).contains("4 observations"));
        assert!(
            h(&|h| h.positive_spans.push(BucketSpan { offset: -1, length: 0 })).contains("negative offset")
        );
        assert!(h(&|h| h.positive_deltas = vec![i64::MAX, 1]).contains("overflows"));
        assert!(h(&|h| h.positive_counts = vec![1.0]).contains("float bucket counts"));
        let float = |h: &mut Histogram| {
            h.count = Some(HistogramCount::CountFloat(0.0));
            h.zero_count = Some(HistogramZeroCount::ZeroCountFloat(0.0));
            h.positive_deltas.clear();
            h.positive_counts = vec![0.0, 0.0];
        };
        assert!(h(&float).contains("Prometheus 2.42 reads it as an integer histogram"));
        assert!(h(&|h| {
            float(h);
            h.count = Some(HistogramCount::CountFloat(f64::NAN));
        })
        .contains("non-negative"));
        let meta = |name: &str, kind: i32| MetricMetadata {
            r#type: kind,
            metric_family_name: name.into(),
            ..Default::default()
        };
        assert!(validate_write(&with(|_| {}, vec![meta("1x", 1)]))
            .unwrap_err()
            .contains("invalid metric family"));
        assert!(validate_write(&with(|_| {}, vec![meta("x", 42)]))
            .unwrap_err()
            .contains("unknown metric type 42"));
    }
}
