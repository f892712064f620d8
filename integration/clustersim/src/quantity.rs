//! Quantities as fixtures write them: CPU in cores or Kubernetes millicores (`0.5`, `250m`),
//! memory in bytes or with Kubernetes suffixes (`268435456`, `256Mi`, `1.5Gi`, `500M`), and
//! offsets from the simulation start as `HH:MM` or `HH:MM:SS`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A CPU amount in cores.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Cores(pub f64);

/// A memory amount in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Bytes(pub u64);

/// A time offset from the simulation start, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Offset(pub i64);

impl Cores {
    /// The amount in cores.
    pub fn cores(self) -> f64 {
        self.0
    }
}

impl Bytes {
    /// The amount in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// The amount in GiB (2³⁰ bytes), as node RAM prices count it.
    pub fn gib(self) -> f64 {
        self.0 as f64 / (1u64 << 30) as f64
    }
}

impl Offset {
    /// The offset in seconds.
    pub fn secs(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Cores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cores", self.0)
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    }
}

/// Parses a CPU quantity: a plain number of cores or `<n>m` millicores.
pub(crate) fn parse_cores(text: &str) -> Result<Cores, String> {
    let t = text.trim();
    let expected = || format!("invalid CPU quantity {text:?}: write cores (0.5, 2) or millicores (250m)");
    let (number, scale) = match t.strip_suffix('m') {
        Some(n) => (n, 1e-3),
        None => (t, 1.0),
    };
    let value: f64 = number.parse().map_err(|_| expected())?;
    cores_from(value * scale).map_err(|e| format!("invalid CPU quantity {text:?}: {e}"))
}

fn cores_from(value: f64) -> Result<Cores, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(Cores(value))
    } else {
        Err("must be a finite number of cores, 0 or more".to_owned())
    }
}

/// Parses a memory quantity: bytes, optionally with a Kubernetes suffix.
pub(crate) fn parse_bytes(text: &str) -> Result<Bytes, String> {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let t = text.trim();
    let expected = || {
        format!("invalid memory quantity {text:?}: write bytes (268435456) or use Ki, Mi, Gi, Ti, k, M, G, T (256Mi)")
    };
    let (number, scale) = SUFFIXES
        .iter()
        .find_map(|(suffix, scale)| t.strip_suffix(suffix).map(|n| (n, *scale)))
        .unwrap_or((t, 1.0));
    let value: f64 = number.parse().map_err(|_| expected())?;
    bytes_from(value * scale).map_err(|e| format!("invalid memory quantity {text:?}: {e}"))
}

fn bytes_from(value: f64) -> Result<Bytes, String> {
    if !value.is_finite() || value < 0.0 {
        return Err("must be 0 or more".to_owned());
    }
    if value.fract() != 0.0 {
        return Err(format!("is {value} bytes, not a whole number of bytes"));
    }
    if value > 9.0e15 {
        return Err("is larger than any node".to_owned());
    }
    Ok(Bytes(value as u64))
}

/// Parses an offset `HH:MM` or `HH:MM:SS` (hours may exceed 23 for multi-day simulations).
pub(crate) fn parse_offset(text: &str) -> Result<Offset, String> {
    let expected =
        || format!("invalid time offset {text:?}: write HH:MM or HH:MM:SS from the simulation start (02:30)");
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(expected());
    }
    let mut nums = [0i64; 3];
    for (slot, part) in nums.iter_mut().zip(&parts) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 4 {
            return Err(expected());
        }
        *slot = part.parse().map_err(|_| expected())?;
    }
    let [h, m, s] = nums;
    if m > 59 || s > 59 {
        return Err(format!("invalid time offset {text:?}: minutes and seconds must be below 60"));
    }
    Ok(Offset(h * 3600 + m * 60 + s))
}

struct CoresVisitor;

impl Visitor<'_> for CoresVisitor {
    type Value = Cores;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CPU quantity in cores (0.5) or millicores (\"250m\")")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cores, E> {
        cores_from(v).map_err(|e| E::custom(format!("invalid CPU quantity {v}: {e}")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cores, E> {
        self.visit_f64(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cores, E> {
        self.visit_f64(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cores, E> {
        parse_cores(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Cores {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cores, D::Error> {
        d.deserialize_any(CoresVisitor)
    }
}

struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a memory quantity in bytes (268435456) or with a suffix (\"256Mi\")")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bytes, E> {
        bytes_from(v).map_err(|e| E::custom(format!("invalid memory quantity {v}: {e}")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bytes, E> {
        Ok(Bytes(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bytes, E> {
        u64::try_from(v)
            .map(Bytes)
            .map_err(|_| E::custom(format!("invalid memory quantity {v}: must be 0 or more")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
        parse_bytes(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        d.deserialize_any(BytesVisitor)
    }
}

struct OffsetVisitor;

impl Visitor<'_> for OffsetVisitor {
    type Value = Offset;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a time offset \"HH:MM\" or \"HH:MM:SS\" from the simulation start")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Offset, E> {
        parse_offset(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Offset, D::Error> {
        d.deserialize_str(OffsetVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities() {
        assert_eq!(parse_cores("250m"), Ok(Cores(0.25)));
        assert_eq!(parse_cores("2"), Ok(Cores(2.0)));
        assert!(parse_cores("2x").unwrap_err().contains("millicores"));
        assert!(parse_cores("-1").is_err());
    }

    #[test]
    fn memory_quantities() {
        assert_eq!(parse_bytes("256Mi"), Ok(Bytes(268_435_456)));
        assert_eq!(parse_bytes("1.5Gi"), Ok(Bytes(1_610_612_736)));
        assert_eq!(parse_bytes("500M"), Ok(Bytes(500_000_000)));
        assert_eq!(parse_bytes("4096"), Ok(Bytes(4096)));
        assert!(parse_bytes("0.5").unwrap_err().contains("whole number"));
        assert!(parse_bytes("12Xi").is_err());
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("02:30"), Ok(Offset(9000)));
        assert_eq!(parse_offset("24:00:00"), Ok(Offset(86_400)));
        assert!(parse_offset("2h").is_err());
        assert!(parse_offset("01:60").is_err());
        assert_eq!(Offset(9005).to_string(), "02:30:05");
    }

    #[test]
    fn yaml_forms() {
        let c: Vec<Cores> = serde_yaml::from_str("[0.5, 2, \"100m\", 100m]").unwrap();
        assert_eq!(c, [Cores(0.5), Cores(2.0), Cores(0.1), Cores(0.1)]);
        let b: Vec<Bytes> = serde_yaml::from_str("[1024, 1Ki, \"2Mi\"]").unwrap();
        assert_eq!(b, [Bytes(1024), Bytes(1024), Bytes(2_097_152)]);
        let o: Offset = serde_yaml::from_str("02:00").unwrap();
        assert_eq!(o, Offset(7200));
    }
}
