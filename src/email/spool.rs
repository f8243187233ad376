//! `<state_dir>/outbox/`: one JSON file per message, `<id>.json`, written
//! atomically on every change of state, so the folder is the queue and a restart
//! (or a kill -9) resumes from it.

use crate::store;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Sent,
    Failed,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Queued, Status::Sent, Status::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }
}

/// A message as it is kept on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// `<id@host>`, fixed when the message is accepted, so that a message delivered
    /// twice (see the module doc of `email`) carries the same Message-ID both times.
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub status: Status,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: u64,
    pub sent_at: Option<u64>,
    /// Unix milliseconds before which no attempt is made.
    pub next_attempt_ms: u64,
    /// When it became `sent` or `failed`, for pruning.
    pub done_at: Option<u64>,
}

impl Record {
    /// What the message costs the spool: its text, roughly as sent.
    pub fn size(&self) -> u64 {
        let to: usize = self.to.iter().map(|t| t.len()).sum();
        (self.subject.len() + self.body.len() + to + self.from.len()) as u64
    }
}

pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    pub fn open(dir: PathBuf) -> io::Result<Spool> {
        store::ensure_dir(&dir)?;
        Ok(Spool { dir })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub fn save(&self, record: &Record) -> io::Result<()> {
        store::write_json(&self.path(&record.id), record)
    }

    pub fn remove(&self, id: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every record in the folder, oldest first. A file that cannot be read is
    /// renamed to `<name>.bad` (kept for a look, never lost) and reported in the
    /// returned warnings; leftovers of interrupted atomic writes are deleted.
    pub fn load(&self) -> io::Result<(Vec<Record>, Vec<String>)> {
        let mut records = Vec::new();
        let mut warnings = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') && name.contains(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            match read(&path) {
                Ok(r) => records.push(r),
                Err(e) => match store::move_aside(&path) {
                    Some(bad) => warnings.push(format!("{e}; moved to {}", bad.display())),
                    None => warnings.push(format!("{e}; it could not be moved aside")),
                },
            }
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((records, warnings))
    }
}

fn read(path: &Path) -> io::Result<Record> {
    store::read_json(path)?.ok_or_else(|| io::Error::other(format!("{} vanished", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Record {
        Record {
            id: id.into(),
            message_id: format!("<{id}@test>"),
            from: "a@b.example".into(),
            to: vec!["c@d.example".into()],
            subject: "Grüße".into(),
            body: "body".into(),
            status: Status::Queued,
            attempts: 0,
            last_error: None,
            created_at: 1,
            sent_at: None,
            next_attempt_ms: 0,
            done_at: None,
        }
    }

    #[test]
    fn saves_loads_in_order_and_sets_bad_files_aside() {
        let dir = std::env::temp_dir().join(format!("pistack-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Spool::open(dir.clone()).unwrap();
        spool.save(&record("2")).unwrap();
        spool.save(&record("1")).unwrap();
        std::fs::write(dir.join("3.json"), b"{torn").unwrap();
        std::fs::write(dir.join(".4.json.tmp77"), b"{").unwrap();
        let (records, warnings) = spool.load().unwrap();
        assert_eq!(records, vec![record("1"), record("2")]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(dir.join("3.json.bad").exists());
        assert!(!dir.join(".4.json.tmp77").exists());
        spool.remove("1").unwrap();
        spool.remove("1").unwrap();
        assert_eq!(spool.load().unwrap().0, vec![record("2")]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
