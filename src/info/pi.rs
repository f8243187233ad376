//! The board's own health: SoC temperature and under-voltage, from sysfs.
//!
//! Under-voltage comes only from the `rpi_volt` hwmon device (`in0_lcrit_alarm`),
//! which the firmware offers on the Pi 3B+/4/5 class of boards. A Pi Zero (and a PC)
//! has no such sensor: the answer is then `unsupported`, never a reassuring `ok`.
//! `get_throttled` is not read: it is deprecated and gone from newer kernels.

use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Voltage {
    /// The sensor exists and its alarm is clear.
    Ok,
    /// The sensor's alarm is set: the supply is too weak right now.
    #[serde(rename = "under-voltage")]
    Under,
    /// No sensor on this board (or its alarm cannot be read).
    Unsupported,
}

pub fn soc_temperature_c() -> Option<f64> {
    temperature_in(Path::new("/sys/class/thermal"))
}

pub fn under_voltage() -> Voltage {
    under_voltage_in(Path::new("/sys/class/hwmon"))
}

/// The zone of type `cpu-thermal` (the Pi's SoC), else the lowest-numbered zone.
fn temperature_in(thermal: &Path) -> Option<f64> {
    let mut zones: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(thermal)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("thermal_zone")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    zones.sort();
    let is_cpu = |dir: &Path| {
        std::fs::read_to_string(dir.join("type")).is_ok_and(|t| t.trim() == "cpu-thermal")
    };
    let zone = zones
        .iter()
        .find(|(_, d)| is_cpu(d))
        .or_else(|| zones.first())?;
    let milli: i64 = std::fs::read_to_string(zone.1.join("temp"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(milli as f64 / 1000.0)
}

fn under_voltage_in(hwmon: &Path) -> Voltage {
    let Ok(dirs) = std::fs::read_dir(hwmon) else {
        return Voltage::Unsupported;
    };
    for dir in dirs.filter_map(|e| e.ok()).map(|e| e.path()) {
        let named = std::fs::read_to_string(dir.join("name")).is_ok_and(|n| n.trim() == "rpi_volt");
        if !named {
            continue;
        }
        return match super::system::read_u64(dir.join("in0_lcrit_alarm")) {
            Some(0) => Voltage::Ok,
            Some(_) => Voltage::Under,
            None => Voltage::Unsupported,
        };
    }
    Voltage::Unsupported
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pistack-pi-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn temperature_prefers_cpu_thermal() {
        let d = dir("thermal");
        for (zone, kind, temp) in [
            ("thermal_zone0", "acpitz", "30000"),
            ("thermal_zone1", "cpu-thermal", "48312"),
        ] {
            fs::create_dir(d.join(zone)).unwrap();
            fs::write(d.join(zone).join("type"), format!("{kind}\n")).unwrap();
            fs::write(d.join(zone).join("temp"), format!("{temp}\n")).unwrap();
        }
        assert_eq!(temperature_in(&d), Some(48.312));
        fs::write(d.join("thermal_zone1/type"), "x86_pkg_temp\n").unwrap();
        assert_eq!(temperature_in(&d), Some(30.0), "else the first zone");
        fs::remove_dir_all(d.join("thermal_zone0")).unwrap();
        fs::remove_dir_all(d.join("thermal_zone1")).unwrap();
        assert_eq!(temperature_in(&d), None);
        assert_eq!(temperature_in(&d.join("absent")), None);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn under_voltage_only_from_rpi_volt() {
        let d = dir("hwmon");
        assert_eq!(under_voltage_in(&d.join("absent")), Voltage::Unsupported);
        fs::create_dir(d.join("hwmon0")).unwrap();
        fs::write(d.join("hwmon0/name"), "cpu_thermal\n").unwrap();
        fs::write(d.join("hwmon0/in0_lcrit_alarm"), "1\n").unwrap();
        assert_eq!(
            under_voltage_in(&d),
            Voltage::Unsupported,
            "another device's alarm"
        );
        fs::create_dir(d.join("hwmon1")).unwrap();
        fs::write(d.join("hwmon1/name"), "rpi_volt\n").unwrap();
        assert_eq!(under_voltage_in(&d), Voltage::Unsupported, "no alarm file");
        fs::write(d.join("hwmon1/in0_lcrit_alarm"), "0\n").unwrap();
        assert_eq!(under_voltage_in(&d), Voltage::Ok);
        fs::write(d.join("hwmon1/in0_lcrit_alarm"), "1\n").unwrap();
        assert_eq!(under_voltage_in(&d), Voltage::Under);
        assert_eq!(
            serde_json::to_value(Voltage::Under).unwrap(),
            "under-voltage"
        );
        fs::remove_dir_all(&d).unwrap();
    }
}
