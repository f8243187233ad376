//! The PBKDF2 cost of new hashes. An explicit `auth.pbkdf2_iterations` wins;
//! without one the count is calibrated on this machine at first start, as
//! cryptsetup's `--iter-time` does: as many iterations as take [`TARGET`] per
//! check, never fewer than [`FLOOR`]. The count is kept in the state dir
//! (`pbkdf2.json`) so that restarts neither measure again nor re-hash every
//! password; each hash keeps its own count, so a changed cost re-hashes at the
//! next login as before.

use crate::store;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

/// Time per password check the calibration aims at: a login that feels
/// immediate, while an offline guess costs a quarter second of this CPU.
pub const TARGET: Duration = Duration::from_millis(250);

/// The least a calibrated count may be, however slow the machine (or however
/// loaded at the measurement): 50 000 is OWASP's PBKDF2-HMAC-SHA256 advice of
/// 2021 (600 000) over twelve, about half a second per check on a Pi Zero.
pub const FLOOR: u32 = 50_000;

/// The state dir's record of a calibration.
#[derive(Debug, Serialize, Deserialize)]
struct Calibrated {
    iterations: u32,
    target_ms: u64,
}

const FILE: &str = "pbkdf2.json";

/// The cost of new hashes: `explicit`, else the stored calibration, else one
/// measured now and stored.
pub fn resolve(explicit: Option<u32>, state_dir: &Path) -> Result<u32, String> {
    if let Some(n) = explicit {
        return Ok(n);
    }
    let path = state_dir.join(FILE);
    if let Some(c) = store::read_json::<Calibrated>(&path).map_err(|e| e.to_string())? {
        if c.iterations >= FLOOR {
            return Ok(c.iterations);
        }
    }
    let iterations = calibrate(TARGET);
    let record = Calibrated {
        iterations,
        target_ms: TARGET.as_millis() as u64,
    };
    store::write_json(&path, &record).map_err(|e| format!("{}: {e}", path.display()))?;
    log::info!(
        "auth: PBKDF2 calibrated to {iterations} iterations ({} ms per check here; stored in {})",
        TARGET.as_millis(),
        path.display()
    );
    Ok(iterations)
}

/// Iterations that take about `target` here: a probe doubled until it takes
/// 40 ms, then the fastest of three runs (the least disturbed by other load)
/// scaled to the target, rounded to thousands, at least [`FLOOR`].
pub fn calibrate(target: Duration) -> u32 {
    (measure(target).min(u32::MAX as u64) as u32).max(FLOOR)
}

/// Iterations that take about `target` here, in thousands, before the floor.
fn measure(target: Duration) -> u64 {
    let mut probe: u32 = 4_000;
    let mut took = time(probe);
    while took < Duration::from_millis(40) && probe < 1 << 28 {
        probe *= 2;
        took = time(probe);
    }
    let best = (0..2).map(|_| time(probe)).fold(took, Duration::min);
    let per_ns = probe as f64 / best.as_nanos().max(1) as f64;
    (per_ns * target.as_nanos() as f64 / 1000.0).round() as u64 * 1000
}

fn time(iterations: u32) -> Duration {
    let start = Instant::now();
    super::password::derive_for_timing(iterations);
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_count_wins_and_nothing_is_stored() {
        let dir = std::env::temp_dir().join(format!("pistack-cost-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(resolve(Some(1234), &dir).unwrap(), 1234);
        assert!(!dir.join(FILE).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn calibrated_once_then_read_back() {
        let dir = std::env::temp_dir().join(format!("pistack-cost2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = resolve(None, &dir).unwrap();
        assert!(first >= FLOOR && first % 1000 == 0, "{first}");
        // A stored count is used as it is, not measured again.
        store::write_json(
            &dir.join(FILE),
            &Calibrated {
                iterations: 77_000,
                target_ms: 250,
            },
        )
        .unwrap();
        assert_eq!(resolve(None, &dir).unwrap(), 77_000);
        // One below the floor (a hand edit) is measured again.
        store::write_json(
            &dir.join(FILE),
            &Calibrated {
                iterations: 10,
                target_ms: 250,
            },
        )
        .unwrap();
        assert!(resolve(None, &dir).unwrap() >= FLOOR);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn calibration_scales_with_the_target() {
        // Before the floor, which a slow machine (qemu-arm in make test-pi) reaches.
        let short = measure(Duration::from_millis(50));
        let long = measure(Duration::from_millis(2000));
        assert!(long > short, "{short} {long}");
    }
}
