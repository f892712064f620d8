//! Usage profiles: what a container uses on each grid step, from its fixture's `base`,
//! `amplitude` and `profile`, a seed and the step. Stateless per sample, so a value does not
//! depend on which other samples were computed.

use crate::det;
use crate::fixture::Profile;

/// The usage of one resource of one container.
pub(crate) struct UsageModel {
    pub(crate) profile: Profile,
    pub(crate) base: f64,
    pub(crate) amplitude: f64,
    /// Share of the amplitude that is noise rather than the daily wave (diurnal profile).
    pub(crate) noise_share: f64,
    /// Seconds past UTC midnight of the daily peak.
    pub(crate) peak_secs: i64,
    pub(crate) seed: u64,
    /// Steps `from..to` of the pod's life, for the ramp.
    pub(crate) life: (usize, usize),
}

impl UsageModel {
    /// Usage on step `step` (at unix second `unix`); never below zero.
    pub(crate) fn at(&self, unix: i64, step: usize) -> f64 {
        let noise = det::noise(self.seed, step as u64);
        let v = match self.profile {
            Profile::Constant => self.base,
            Profile::Diurnal => {
                let wave = det::daily_wave(unix, self.peak_secs);
                self.base + self.amplitude * ((1.0 - self.noise_share) * wave + self.noise_share * noise)
            }
            Profile::Spiky => {
                // About one sample in twenty bursts to between half and all of the amplitude.
                let burst = det::splitmix64(self.seed ^ (step as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let jitter = 0.02 * self.base * noise;
                if burst.is_multiple_of(20) {
                    self.base + self.amplitude * (0.75 + 0.25 * noise) + jitter
                } else {
                    self.base + jitter
                }
            }
            Profile::Ramp => {
                let (from, to) = self.life;
                let span = (to.saturating_sub(from + 1)).max(1) as f64;
                let t = (step.saturating_sub(from) as f64 / span).min(1.0);
                self.base + self.amplitude * t + 0.02 * self.base * noise
            }
            // The OOM profile's saw tooth needs the restart times; the emitter computes it.
            Profile::Oom => self.base,
        };
        v.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(profile: Profile) -> UsageModel {
        UsageModel {
            profile,
            base: 1.0,
            amplitude: 0.5,
            noise_share: 0.2,
            peak_secs: 50_400,
            seed: 7,
            life: (10, 110),
        }
    }

    #[test]
    fn constant_is_exact_and_ramp_runs_from_base_to_base_plus_amplitude() {
        let c = model(Profile::Constant);
        assert!((0..500).all(|k| c.at(k * 60, k as usize) == 1.0));
        let r = model(Profile::Ramp);
        assert!((r.at(600, 10) - 1.0).abs() <= 0.02 + 1e-12);
        assert!((r.at(6540, 109) - 1.5).abs() <= 0.02 + 1e-12);
        assert!(r.at(3600, 60) > r.at(1200, 20));
    }

    #[test]
    fn spiky_bursts_on_about_one_sample_in_twenty() {
        let s = model(Profile::Spiky);
        let bursts = (0..10_000).filter(|&k| s.at(k * 60, k as usize) > 1.2).count();
        assert!((350..650).contains(&bursts), "{bursts} bursts in 10000 samples");
    }

    #[test]
    fn diurnal_stays_within_base_plus_or_minus_amplitude() {
        let d = model(Profile::Diurnal);
        assert!((0..1440).all(|k| (d.at(k * 60, k as usize) - 1.0).abs() <= 0.5 + 1e-12));
    }
}
