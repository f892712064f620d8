//! Output rounding: what snapshots and API answers show of a float.

/// Rounds to `digits` decimals and at most 12 significant digits (the last bits of a large
/// float are summation noise), turning `-0` into `0`: what snapshots and API output show.
pub fn round(x: f64, digits: i32) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x == 0.0 { 0.0 } else { x };
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = digits.min(11 - magnitude);
    let f = 10f64.powi(decimals);
    let v = (x * f).round() / f;
    if v == 0.0 {
        0.0
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_the_given_digits_and_twelve_significant_ones() {
        assert_eq!(round(0.123456789, 5), 0.12346);
        assert_eq!(round(-0.000001, 5).to_bits(), 0f64.to_bits());
        assert_eq!(round(92_654_374_024.533_33, 5), 92_654_374_024.5);
        assert!(round(f64::NAN, 5).is_nan());
    }
}
