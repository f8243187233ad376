//! `<state_dir>/supervisor.json`: the processes this daemon has running, so that a
//! daemon started after a crash never runs a second copy of a program.
//!
//! Normally there is nothing to clean: PR_SET_PDEATHSIG kills every program when
//! the daemon dies. It cannot reach grandchildren (it is not inherited), nor a
//! program that exec'd a set-uid binary (which clears it). So at start the
//! recorded process groups that still exist are killed — but only when the pid and
//! its start time (`/proc/<pid>/stat`, ticks after boot) still match the record
//! and the boot is the same, so that a recycled pid is never killed.

use super::process::{alive, proc_stat, signal_group, signal_pid, ProcStat};
use crate::store;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Records {
    /// The kernel's boot id: start times are only comparable within one boot.
    pub boot_id: String,
    pub processes: Vec<Record>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub name: String,
    pub pid: u32,
    pub pgid: u32,
    pub start_time: u64,
}

pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Write the records atomically (a temp file renamed over the old one), but
/// without fsync: they only matter after the daemon dies while the kernel keeps
/// running, when the page cache survives; after a power cut or a kernel crash
/// the boot id differs and they are ignored anyway. So a crash-looping program
/// does not force a flush to the SD card per restart, and the supervisor thread,
/// which writes them while holding the programs' lock, never waits for the card.
pub fn save(path: &Path, processes: Vec<Record>) -> std::io::Result<()> {
    let records = Records {
        boot_id: boot_id(),
        processes,
    };
    let mut bytes = serde_json::to_vec_pretty(&records).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("records");
    // The temp name store::write_atomic uses, so that one clean-up finds both.
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Every process in /proc, with its stat.
fn all_processes() -> Vec<(u32, ProcStat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .collect()
}

/// The processes left over from the recorded ones: (program, pid) pairs.
pub fn leftovers(
    records: &Records,
    current_boot: &str,
    procs: &[(u32, ProcStat)],
) -> Vec<(String, u32)> {
    if records.boot_id.is_empty() || records.boot_id != current_boot {
        return Vec::new();
    }
    let mut found = Vec::new();
    for r in &records.processes {
        let leader = procs.iter().find(|(pid, _)| *pid == r.pgid).map(|(_, s)| s);
        match leader {
            // The leader's pid now belongs to another process: the group was
            // empty when that pid was handed out, so nothing in it is ours.
            Some(s) if s.start_time != r.start_time => continue,
            // Our leader (or what is left of our group): everything in the group
            // started no earlier than the leader did.
            _ => {}
        }
        for (pid, s) in procs {
            if s.pgrp == r.pgid && s.start_time >= r.start_time && s.state != 'Z' {
                found.push((r.name.clone(), *pid));
            }
        }
    }
    found
}

/// Kill what the last run left behind; returns how many processes were killed.
pub fn kill_leftovers(path: &Path) -> usize {
    let records: Records = match store::read_json(path) {
        Ok(Some(r)) => r,
        Ok(None) => return 0,
        Err(e) => {
            log::warn!("supervisor: ignoring {}: {e}", path.display());
            return 0;
        }
    };
    let victims = leftovers(&records, &boot_id(), &all_processes());
    for r in &records.processes {
        if victims.iter().any(|(_, pid)| *pid == r.pgid) {
            let _ = signal_group(r.pgid, libc::SIGKILL);
        }
    }
    for (name, pid) in &victims {
        log::warn!("supervisor: killing pid {pid} of {name}, left over from an earlier run");
        let _ = signal_pid(*pid, libc::SIGKILL);
    }
    // They are not our children (init reaps them); wait a little until they are
    // gone, so that e.g. their ports are free before the programs start again.
    let deadline = Instant::now() + Duration::from_secs(2);
    while victims.iter().any(|(_, pid)| alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    victims.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pgrp: u32, start_time: u64) -> ProcStat {
        ProcStat {
            state: 'S',
            pgrp,
            start_time,
        }
    }

    fn records(boot: &str) -> Records {
        Records {
            boot_id: boot.into(),
            processes: vec![Record {
                name: "web".into(),
                pid: 100,
                pgid: 100,
                start_time: 5000,
            }],
        }
    }

    #[test]
    fn the_recorded_group_is_found_when_the_leader_matches() {
        let procs = [
            (100, stat(100, 5000)),
            (101, stat(100, 5001)),
            (7, stat(7, 10)),
        ];
        assert_eq!(
            leftovers(&records("b"), "b", &procs),
            vec![("web".to_string(), 100), ("web".to_string(), 101)]
        );
    }

    #[test]
    fn orphaned_members_are_found_when_the_leader_is_gone() {
        let procs = [(101, stat(100, 5001)), (7, stat(7, 10))];
        assert_eq!(
            leftovers(&records("b"), "b", &procs),
            vec![("web".to_string(), 101)]
        );
    }

    #[test]
    fn a_recycled_pid_or_another_boot_is_left_alone() {
        let recycled = [(100, stat(100, 9999)), (101, stat(100, 10000))];
        assert!(leftovers(&records("b"), "b", &recycled).is_empty());
        let procs = [(100, stat(100, 5000))];
        assert!(leftovers(&records("a"), "b", &procs).is_empty());
        assert!(leftovers(&records(""), "", &procs).is_empty());
    }
}
