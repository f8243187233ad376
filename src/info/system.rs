//! The machine and the daemon, read from `/proc`, `/sys` and `statvfs`: nothing is
//! run, so an answer costs a few small file reads.

use super::pi::{self, Voltage};
use super::Error;
use serde::Serialize;
use std::path::Path;

/// `GET /api/info/system` (api.md's fields, plus more).
#[derive(Debug, Clone, Serialize)]
pub struct System {
    pub hostname: String,
    /// `/proc/device-tree/model` ("Raspberry Pi Zero W Rev 1.1"); null on a PC.
    pub model: Option<String>,
    pub kernel: String,
    /// `PRETTY_NAME` of `/etc/os-release`.
    pub os: Option<String>,
    pub uptime_s: u64,
    pub load: [f64; 3],
    /// Busy share of all CPUs since the previous answer (at least 1 s before);
    /// null on the first call.
    pub cpu_percent: Option<f64>,
    pub cpu_count: usize,
    /// cpufreq's `scaling_cur_freq` of cpu0; null without cpufreq (VMs, containers).
    pub cpu_freq_hz: Option<u64>,
    pub cpu_temp_c: Option<f64>,
    pub under_voltage: Voltage,
    pub memory: Memory,
    pub swap: Swap,
    pub disk: Disk,
    pub daemon: Daemon,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Memory {
    pub total_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Swap {
    pub total_bytes: u64,
    pub free_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Disk {
    /// The state directory: where pistack writes.
    pub path: String,
    pub total_bytes: u64,
    /// Free for pistack (an unprivileged user): statvfs' `f_bavail`.
    pub free_bytes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Daemon {
    pub version: &'static str,
    pub pid: u32,
    pub rss_bytes: u64,
    pub threads: u64,
    pub open_fds: u64,
}

/// The CPU counters of `/proc/stat`'s first line, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

impl CpuTimes {
    /// Busy share between `earlier` and `self`, in percent; None when no tick passed.
    pub fn percent_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let busy = self.busy.checked_sub(earlier.busy)?;
        (total > 0).then(|| (busy as f64 * 100.0 / total as f64).min(100.0))
    }
}

/// Everything but `cpu_percent`, which needs a previous sample (see [`super::Info`]).
pub fn read(state_dir: &Path) -> Result<System, Error> {
    let meminfo = read_proc("/proc/meminfo")?;
    let (memory, swap) = parse_meminfo(&meminfo);
    Ok(System {
        hostname: hostname()?,
        model: model(),
        kernel: read_proc("/proc/sys/kernel/osrelease")?.trim().to_string(),
        os: std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| pretty_name(&t)),
        uptime_s: parse_uptime(&read_proc("/proc/uptime")?),
        load: parse_loadavg(&read_proc("/proc/loadavg")?),
        cpu_percent: None,
        cpu_count: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_freq_hz: read_u64("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
            .map(|khz| khz * 1000),
        cpu_temp_c: pi::soc_temperature_c(),
        under_voltage: pi::under_voltage(),
        memory,
        swap,
        disk: disk(state_dir)?,
        daemon: daemon()?,
    })
}

/// The kernel's host name, as `hostname` prints it.
pub fn hostname() -> Result<String, Error> {
    Ok(read_proc("/proc/sys/kernel/hostname")?.trim().to_string())
}

/// MemTotal − MemAvailable, in bytes.
pub fn memory_used() -> Result<u64, Error> {
    let (m, _) = parse_meminfo(&read_proc("/proc/meminfo")?);
    Ok(m.total_bytes.saturating_sub(m.available_bytes))
}

fn read_proc(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Unavailable(format!("cannot read {path}: {e} (is /proc mounted?)")))
}

pub(super) fn read_u64(path: impl AsRef<Path>) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The device tree's model string ends in a NUL.
fn model() -> Option<String> {
    let bytes = std::fs::read("/proc/device-tree/model").ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_end_matches('\0').trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `PRETTY_NAME` of an os-release file, unquoted (os-release(5): shell-like quoting).
pub fn pretty_name(text: &str) -> Option<String> {
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("PRETTY_NAME="))?;
    let value = value.trim();
    let unquoted = match value.chars().next() {
        Some(q @ ('"' | '\'')) => value
            .strip_prefix(q)
            .and_then(|v| v.strip_suffix(q))
            .unwrap_or(value),
        _ => value,
    };
    let unescaped = unquoted
        .replace("\\\"", "\"")
        .replace("\\$", "$")
        .replace("\\`", "`")
        .replace("\\\\", "\\");
    (!unescaped.is_empty()).then_some(unescaped)
}

/// Memory and swap from `/proc/meminfo` (kB there, bytes here).
pub fn parse_meminfo(text: &str) -> (Memory, Swap) {
    let mut m = Memory::default();
    let mut s = Swap::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let Some(kb) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        let bytes = kb * 1024;
        match key {
            "MemTotal" => m.total_bytes = bytes,
            "MemAvailable" => m.available_bytes = bytes,
            "SwapTotal" => s.total_bytes = bytes,
            "SwapFree" => s.free_bytes = bytes,
            _ => {}
        }
    }
    (m, s)
}

/// The aggregate `cpu` line of `/proc/stat`: busy is everything but idle and iowait
/// (guest time is already inside user and nice, so it is not added again).
pub fn parse_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map_while(|f| f.parse().ok())
        .collect();
    if v.len() < 4 {
        return None;
    }
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some(CpuTimes {
        busy: total - idle,
        total,
    })
}

pub fn cpu_times() -> Result<CpuTimes, Error> {
    parse_stat(&read_proc("/proc/stat")?)
        .ok_or_else(|| Error::Unavailable("/proc/stat has no \"cpu\" line".into()))
}

pub fn parse_uptime(text: &str) -> u64 {
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |s| s as u64)
}

pub fn parse_loadavg(text: &str) -> [f64; 3] {
    let mut load = [0.0; 3];
    for (slot, v) in load.iter_mut().zip(text.split_whitespace()) {
        *slot = v.parse().unwrap_or(0.0);
    }
    load
}

fn disk(state_dir: &Path) -> Result<Disk, Error> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(state_dir.as_os_str().as_bytes())
        .map_err(|_| Error::Unavailable("the state dir's path holds a NUL byte".into()))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a struct to fill.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::Unavailable(format!(
            "statvfs {}: {e}",
            state_dir.display()
        )));
    }
    let frsize = st.f_frsize as u64;
    Ok(Disk {
        path: state_dir.display().to_string(),
        total_bytes: st.f_blocks as u64 * frsize,
        free_bytes: st.f_bavail as u64 * frsize,
    })
}

/// The daemon itself: `/proc/self/status` and `/proc/self/fd`.
pub fn daemon() -> Result<Daemon, Error> {
    let status = read_proc("/proc/self/status")?;
    let (rss_bytes, threads) = parse_status(&status);
    // read_dir holds one fd of its own on the folder while it lists it.
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1) as u64)
        .unwrap_or(0);
    Ok(Daemon {
        version: env!("CARGO_PKG_VERSION"),
        pid: std::process::id(),
        rss_bytes,
        threads,
        open_fds,
    })
}

/// `VmRSS` (bytes) and `Threads` of a `/proc/<pid>/status`.
pub fn parse_status(text: &str) -> (u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:") * 1024, field("Threads:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_pretty_name() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n";
        assert_eq!(
            pretty_name(debian).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            pretty_name("NAME=x\nPRETTY_NAME='Raspbian \\\"bullseye\\\"'\n").as_deref(),
            Some("Raspbian \"bullseye\"")
        );
        assert_eq!(
            pretty_name("PRETTY_NAME=Alpine\n").as_deref(),
            Some("Alpine")
        );
        assert_eq!(pretty_name("NAME=x\n"), None);
        assert_eq!(pretty_name("PRETTY_NAME=\"\"\n"), None);
    }

    #[test]
    fn proc_stat_deltas() {
        let a =
            parse_stat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 100 0 50 800 50 0 0 0 0 0\nintr 1\n")
                .unwrap();
        assert_eq!(
            a,
            CpuTimes {
                busy: 150,
                total: 1000
            }
        );
        let b = parse_stat("cpu  200 0 100 1100 100 0 0 0 0 0\n").unwrap();
        // 150 busy ticks of 500.
        assert_eq!(b.percent_since(&a), Some(30.0));
        assert_eq!(a.percent_since(&a), None);
        // A counter that went backwards (another boot?) gives nothing, not garbage.
        assert_eq!(a.percent_since(&b), None);
        // Old kernels have only four fields.
        assert_eq!(
            parse_stat("cpu 1 2 3 4\n"),
            Some(CpuTimes { busy: 6, total: 10 })
        );
        assert_eq!(parse_stat("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_stat("cpu 1 2\n"), None);
    }

    #[test]
    fn meminfo_in_bytes() {
        let text = "MemTotal:         443892 kB\nMemFree:           20000 kB\nMemAvailable:     300000 kB\nSwapCached: 0 kB\nSwapTotal:        102396 kB\nSwapFree:          99000 kB\nHugePages_Total:       0\n";
        let (m, s) = parse_meminfo(text);
        assert_eq!(
            m,
            Memory {
                total_bytes: 443892 * 1024,
                available_bytes: 300000 * 1024
            }
        );
        assert_eq!(
            s,
            Swap {
                total_bytes: 102396 * 1024,
                free_bytes: 99000 * 1024
            }
        );
    }

    #[test]
    fn uptime_load_and_status() {
        assert_eq!(parse_uptime("12345.67 2345.00\n"), 12345);
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 1/189 4321\n"),
            [0.52, 0.58, 0.59]
        );
        let status = "Name:\tpistack\nVmRSS:\t    3120 kB\nThreads:\t7\n";
        assert_eq!(parse_status(status), (3120 * 1024, 7));
    }

    #[test]
    fn this_process_reads_itself() {
        let d = daemon().unwrap();
        assert_eq!(d.pid, std::process::id());
        assert!(
            d.rss_bytes > 0 && d.threads >= 1 && d.open_fds >= 3,
            "{d:?}"
        );
    }
}
