//! The real SMTP server of the e-mail and rules tests: tests/smtp/server.py
//! (aiosmtpd) in the venv at target/venv or $PISTACK_TEST_VENV, and a CA with a
//! server certificate for its TLS modes.

use super::{eventually, temp_dir};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The venv's python with aiosmtpd, made from tests/requirements.txt when absent.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = std::env::var_os("PISTACK_TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv"));
        let python = venv.join("bin/python");
        let has_aiosmtpd = || {
            Command::new(&python)
                .args(["-c", "import aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has_aiosmtpd() {
            let req = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/requirements.txt");
            let made = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(venv.join("bin/pip"))
                    .args(["install", "-q", "-r", req])
                    .status()
                    .is_ok_and(|s| s.success());
            assert!(
                made && has_aiosmtpd(),
                "the e-mail tests need aiosmtpd in the venv {}: run `make deps` or \
                 `python3 -m venv {0} && {0}/bin/pip install -r tests/requirements.txt`",
                venv.display()
            );
        }
        python
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a server certificate for localhost / 127.0.0.1 signed by it.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn certs(dir: &Path) -> Certs {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
    ]
    .iter()
    .chain(&[
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pistack test CA",
    ])
    .copied()
    .collect::<Vec<_>>());
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("srv.pem"),
        key: dir.join("srv.key"),
    }
}

/// tests/smtp/server.py on `port`; killed when dropped.
pub struct Relay {
    child: Child,
    out: PathBuf,
}

impl Relay {
    pub fn start(
        port: u16,
        mode: &str,
        certs: Option<&Certs>,
        auth: Option<(&str, &str)>,
    ) -> Relay {
        let out = temp_dir("relay");
        let mut cmd = Command::new(python());
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py"))
            .arg("--out")
            .arg(&out)
            .args(["--port", &port.to_string(), "--mode", mode]);
        if let Some(c) = certs {
            cmd.arg("--cert").arg(&c.cert).arg("--key").arg(&c.key);
        }
        if let Some((user, password)) = auth {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let ready = rx.recv_timeout(Duration::from_secs(20));
        assert_eq!(
            ready.as_deref(),
            Ok("ready"),
            "the SMTP server did not start"
        );
        Relay { child, out }
    }

    /// What the server received, in the order it arrived.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    pub fn wait_messages(&self, n: usize) -> Vec<Value> {
        eventually(30, || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .unwrap_or_else(|| panic!("fewer than {n} messages arrived: {:?}", self.messages()))
    }

    /// Connections a `hang` server took.
    pub fn connections(&self) -> usize {
        std::fs::read_dir(&self.out)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("conn-")
            })
            .count()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.out);
        }
    }
}
