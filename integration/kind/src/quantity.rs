//! Fixture quantities written the way Kubernetes manifests write them: CPU in whole cores or
//! millicores (`1`, `250m`), memory with the largest binary suffix that divides it exactly.

use ampfed_clustersim::{Bytes, Cores};

/// `1`, `2`, `250m`, `1500m` (rounded to the millicore, the finest CPU unit Kubernetes keeps).
pub(crate) fn cpu(c: Cores) -> String {
    let milli = (c.cores() * 1000.0).round().max(0.0) as u64;
    if milli.is_multiple_of(1000) {
        format!("{}", milli / 1000)
    } else {
        format!("{milli}m")
    }
}

/// `2Gi`, `256Mi`, `70Mi`, `512Ki`, or plain bytes.
pub(crate) fn memory(b: Bytes) -> String {
    let n = b.bytes();
    for (suffix, unit) in [("Ti", 1u64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if n != 0 && n.is_multiple_of(unit) {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_whole_cores_or_millicores() {
        assert_eq!(cpu(Cores(1.0)), "1");
        assert_eq!(cpu(Cores(0.25)), "250m");
        assert_eq!(cpu(Cores(0.025)), "25m");
        assert_eq!(cpu(Cores(1.5)), "1500m");
        assert_eq!(cpu(Cores(0.0)), "0");
    }

    #[test]
    fn memory_takes_the_largest_exact_suffix() {
        assert_eq!(memory(Bytes(2 << 30)), "2Gi");
        assert_eq!(memory(Bytes(70 << 20)), "70Mi");
        assert_eq!(memory(Bytes(1536 << 20)), "1536Mi");
        assert_eq!(memory(Bytes(500_000_000)), "500000000");
        assert_eq!(memory(Bytes(0)), "0");
    }
}
