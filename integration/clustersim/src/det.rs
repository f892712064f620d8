//! Deterministic building blocks: a string hash, the splitmix64 mixer, Kubernetes-style random
//! name suffixes and a smooth daily wave, all pure functions of their inputs.
//!
//! Only IEEE basic operations (`+ - * /`, `abs`) are used on floats, so values are
//! bit-identical on every platform (no `sin`/`exp`, whose last bits vary between libms).

/// The alphabet Kubernetes uses for generated name suffixes and pod-template hashes
/// (`k8s.io/apimachinery/pkg/util/rand`: no vowels, no confusable characters).
const K8S_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a over the parts, with a separator byte between them so `("ab","c") != ("a","bc")`.
pub(crate) fn seed(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    splitmix64(h)
}

/// One step of splitmix64 (Steele, Lea and Flood), used as a stateless mixer.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stream of pseudo-random words derived from a seed.
pub(crate) struct Stream(u64);

impl Stream {
    pub(crate) fn new(seed: u64) -> Stream {
        Stream(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        splitmix64(self.0)
    }
}

/// `len` characters of the Kubernetes name alphabet (`7d9c8b6f5d`, `x2k9p`).
pub(crate) fn k8s_suffix(seed: u64, len: usize) -> String {
    let mut s = Stream::new(seed);
    (0..len).map(|_| char::from(K8S_ALPHABET[(s.next_u64() % K8S_ALPHABET.len() as u64) as usize])).collect()
}

/// `len` lower-case hex digits.
pub(crate) fn hex(seed: u64, len: usize) -> String {
    let mut s = Stream::new(seed);
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        out.push_str(&format!("{:016x}", s.next_u64()));
    }
    out.truncate(len);
    out
}

/// A version-4-shaped UUID, as Kubernetes gives every object.
pub(crate) fn uuid(seed: u64) -> String {
    let h = hex(seed, 32);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// Uniform noise in [-1, 1) for sample `step` of the series seeded with `seed`; stateless, so a
/// sample's value does not depend on which other samples were computed.
pub(crate) fn noise(seed: u64, step: u64) -> f64 {
    let bits = splitmix64(seed ^ step.wrapping_mul(0xd605_bbb5_8c8a_bbf5)) >> 11;
    (bits as f64) / ((1u64 << 53) as f64) * 2.0 - 1.0
}

/// A smooth wave with a period of one day, 1.0 at `peak_secs` past UTC midnight and -1.0
/// twelve hours later: a triangle wave smoothed by `1.5x - 0.5x³`, so its slope is 0 at the
/// peak and the trough (the shape of a cosine, within 2 %).
pub(crate) fn daily_wave(unix_secs: i64, peak_secs: i64) -> f64 {
    const DAY: i64 = 86_400;
    let x = (unix_secs - peak_secs).rem_euclid(DAY) as f64 / DAY as f64;
    let tri = 4.0 * (x - 0.5).abs() - 1.0;
    1.5 * tri - 0.5 * tri * tri * tri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_separate_parts() {
        assert_ne!(seed(&["ab", "c"]), seed(&["a", "bc"]));
        assert_eq!(seed(&["a", "b"]), seed(&["a", "b"]));
    }

    #[test]
    fn suffixes_use_the_kubernetes_alphabet() {
        let s = k8s_suffix(seed(&["x"]), 10);
        assert_eq!(s.len(), 10);
        assert!(s.bytes().all(|b| K8S_ALPHABET.contains(&b)), "{s}");
        assert_eq!(uuid(7).len(), 36);
        assert_eq!(hex(7, 70).len(), 70);
    }

    #[test]
    fn wave_peaks_and_troughs() {
        assert_eq!(daily_wave(14 * 3600, 14 * 3600), 1.0);
        assert_eq!(daily_wave(2 * 3600, 14 * 3600), -1.0);
        for t in (0..86_400).step_by(600) {
            let w = daily_wave(t, 0);
            assert!((-1.0..=1.0).contains(&w));
        }
    }

    #[test]
    fn noise_is_in_range() {
        for k in 0..1000 {
            let n = noise(42, k);
            assert!((-1.0..1.0).contains(&n));
        }
    }
}
