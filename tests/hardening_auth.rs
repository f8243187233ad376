//! Issue 8, the auth items, as an attacker or a fault would do them, over real
//! sockets against the real binary: lock-outs through the throttle (6, 7), a full
//! or nearly full disk (8, 9), temp files of interrupted writes (12), and the id
//! oracle of PATCH (13).
mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::io::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// An answer read off a raw connection.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

/// One request from the source address `src` (any of 127/8: Linux routes them all
/// to lo), so that the daemon sees a different client address.
fn request_from(
    src: Ipv4Addr,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Answer {
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let addr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor we own, with valid sockaddr_in values.
    let mut stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let local = addr(src, 0);
        let rc = libc::bind(fd, &local as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind {src}: {}", std::io::Error::last_os_error());
        let remote = addr(Ipv4Addr::LOCALHOST, port);
        let rc = libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
        TcpStream::from_raw_fd(fd)
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let retry_after = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("retry-after")
            .then(|| v.trim().to_string())
    });
    Answer {
        status,
        retry_after,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

fn login_from(src: Ipv4Addr, base: &str, name: &str, password: &str) -> Answer {
    request_from(
        src,
        base,
        "POST",
        "/api/auth/session/login",
        None,
        &json!({"name": name, "password": password}),
    )
}

fn token(body: &Value, which: &str) -> String {
    body[which].as_str().unwrap().to_string()
}

fn me_status(d: &Daemon, access: &str) -> u16 {
    d.get("/api/auth/session/me", access).status
}

// ----- item 6 -----------------------------------------------------------------

#[test]
fn guesses_from_one_address_do_not_lock_out_root_at_another() {
    let d = Daemon::start(json!({"auth": {"throttle_free_attempts": 3}}));
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let answers: Vec<u16> = (0..6)
        .map(|_| login_from(attacker, &d.base, "root", "a-wrong-guess").status)
        .collect();
    assert_eq!(answers[..3], [401, 401, 401], "{answers:?}");
    assert_eq!(answers[5], 429, "{answers:?}");
    // The throttled pair stays throttled, with a Retry-After, even with the right password.
    let r = login_from(attacker, &d.base, "root", ROOT_PASSWORD);
    assert_eq!(r.status, 429);
    assert!(r.retry_after.is_some());
    // The owner at another address is not locked out.
    let r = login_from(Ipv4Addr::LOCALHOST, &d.base, "root", ROOT_PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_right_password_clears_the_failures_of_its_address() {
    let d = Daemon::start(json!({"auth": {"throttle_free_attempts": 3}}));
    let owner = Ipv4Addr::new(127, 0, 0, 3);
    for round in 0..3 {
        for _ in 0..2 {
            let r = login_from(owner, &d.base, "root", "a-typo");
            assert_eq!(r.status, 401, "round {round}: {}", r.body);
        }
        let r = login_from(owner, &d.base, "root", ROOT_PASSWORD);
        assert_eq!(r.status, 200, "round {round}: {}", r.body);
    }
}

#[test]
fn a_flood_of_unknown_names_does_not_turn_away_roots_login() {
    // A real cost (some 100 ms a check in a debug build), so that the flood keeps
    // the password checks busy.
    let d =
        Daemon::start(json!({"auth": {"pbkdf2_iterations": 10_000, "password_checks_per_s": 10}}));
    let stop = AtomicBool::new(false);
    let answered = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..6u8 {
            let (base, stop, answered, refused) = (&d.base, &stop, &answered, &refused);
            s.spawn(move || {
                let mut n = 0u8;
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_add(1);
                    let src = Ipv4Addr::new(127, 0, 10 + t, n.max(1));
                    let r = login_from(src, base, &format!("ghost{t}-{n}"), "guess");
                    if r.status != 401 {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let flooding = eventually(30, || {
            (answered.load(Ordering::Relaxed) >= 12).then_some(())
        });
        // Logins wait for their turn on the password pool, not on the workers
        // that answer health (and the watchdog's check).
        let health_ms: Vec<u128> = (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                let r = d.call("GET", "/api/health", None, None);
                assert_eq!(r.status, 200);
                t.elapsed().as_millis()
            })
            .collect();
        let roots: Vec<u16> = (0..5)
            .map(|_| login_from(Ipv4Addr::LOCALHOST, &d.base, "root", ROOT_PASSWORD).status)
            .collect();
        stop.store(true, Ordering::Relaxed);
        assert!(flooding.is_some(), "the flood never got going");
        assert_eq!(roots, [200; 5], "root's logins during the flood");
        assert!(
            health_ms.iter().all(|&ms| ms < 100),
            "health during the login flood took {health_ms:?} ms"
        );
    });
    // The flood was slowed, not refused: each guess waited for its turn.
    assert_eq!(refused.load(Ordering::Relaxed), 0);
}

// ----- item 7 -----------------------------------------------------------------

#[test]
fn current_password_guesses_are_throttled_like_logins() {
    let d = Daemon::start(json!({"auth": {"throttle_free_attempts": 3}}));
    let root = d.root();
    let alice = d.user(&root, "alice", "User");
    let id = d.get("/api/auth/session/me", &alice).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/auth/users/{id}");
    let guesser = Ipv4Addr::new(127, 0, 0, 4);
    let guess = |current: &str| {
        request_from(
            guesser,
            &d.base,
            "PATCH",
            &path,
            Some(&alice),
            &json!({"password": "a-new-password", "current_password": current}),
        )
    };
    for _ in 0..3 {
        let r = guess("not-it");
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.message(), "current_password is wrong");
    }
    let r = guess("not-it");
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.retry_after.is_some());
    // One counter for the account at that address, whichever door is used.
    assert_eq!(
        login_from(guesser, &d.base, "alice", "password-of-test-user").status,
        429
    );
    assert_eq!(
        login_from(
            Ipv4Addr::LOCALHOST,
            &d.base,
            "alice",
            "password-of-test-user"
        )
        .status,
        200
    );
}

// ----- items 8 and 9: a small real filesystem ---------------------------------

/// A tmpfs of 1 MiB mounted at `<dir>/state` for the daemon's state, and a
/// filler file outside the daemon's names to take its space away. Unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
    state: PathBuf,
}

const PAGE: u64 = 4096;

impl SmallDisk {
    /// `None` (with the reason printed) where mounting is not allowed.
    fn mount(tag: &str) -> Option<SmallDisk> {
        let dir = temp_dir(tag);
        let state = dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let c = |s: &str| std::ffi::CString::new(s).unwrap();
        let target = c(state.to_str().unwrap());
        // SAFETY: mount(2) with valid C strings.
        let rc = unsafe {
            libc::mount(
                c("tmpfs").as_ptr(),
                target.as_ptr(),
                c("tmpfs").as_ptr(),
                0,
                c("size=1m,mode=0700").as_ptr() as *const libc::c_void,
            )
        };
        if rc != 0 {
            eprintln!(
                "SKIPPED: cannot mount a small tmpfs ({}); run the tests as root \
                 (or with CAP_SYS_ADMIN) to test a full disk for real",
                std::io::Error::last_os_error()
            );
            return None;
        }
        Some(SmallDisk { dir, state })
    }

    fn filler(&self) -> PathBuf {
        self.state.join("filler")
    }

    /// Fill the disk, then give back `pages` pages.
    fn fill_leaving(&self, pages: u64) {
        let mut f = std::fs::File::create(self.filler()).unwrap();
        let chunk = vec![0u8; PAGE as usize];
        let mut len = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => len += n as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling: {e}"),
            }
        }
        let keep = (len / PAGE).saturating_sub(pages) * PAGE;
        f.set_len(keep).unwrap();
        f.sync_all().unwrap();
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let target = std::ffi::CString::new(self.state.to_str().unwrap()).unwrap();
        // SAFETY: umount2(2) with a valid C string.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Both state files parse, whatever happened.
fn state_files_parse(state: &Path) {
    for name in ["users.json", "sessions.json"] {
        let text = std::fs::read_to_string(state.join(name)).unwrap();
        serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_failed_password_change_never_brings_back_revoked_tokens() {
    let Some(disk) = SmallDisk::mount("nearly-full") else {
        return;
    };
    let mut d = Daemon::start_in(disk.dir.clone(), json!({}), &[]);
    let root = d.login("root", ROOT_PASSWORD);
    let (access, refresh) = (token(&root, "access_token"), token(&root, "refresh_token"));
    // Others' logins make sessions.json a few pages; users.json stays under one.
    for name in ["bob", "ben"] {
        d.user(&access, name, "User");
        for _ in 0..40 {
            d.login(name, "password-of-test-user");
        }
    }
    assert!(
        std::fs::metadata(disk.state.join("sessions.json"))
            .unwrap()
            .len()
            > 3 * PAGE
    );
    assert!(
        std::fs::metadata(disk.state.join("users.json"))
            .unwrap()
            .len()
            < PAGE
    );
    let root_id = token(&root["user"], "id");
    let path = format!("/api/auth/users/{root_id}");
    let change = json!({"password": "the-new-root-password"});

    // Room for a new users.json, not for a new sessions.json.
    disk.fill_leaving(2);
    let failed = d.call("PATCH", &path, Some(&access), Some(&change));
    let before_restart = me_status(&d, &access);
    d.kill();
    disk.free();
    let mut d = Daemon::start_in(disk.dir.clone(), json!({}), &[]);
    state_files_parse(&disk.state);
    let new_password_works = d
        .try_login(json!({"name": "root", "password": "the-new-root-password"}))
        .status
        == 200;
    let after_restart = me_status(&d, &access);
    assert!(
        !(new_password_works && after_restart == 200),
        "the new password is stored but the old session came back"
    );
    assert_eq!(before_restart, after_restart, "memory and disk disagreed");
    assert_eq!(failed.status, 503, "{}", failed.body);
    assert!(
        failed.message().contains("disk is full"),
        "{}",
        failed.message()
    );
    // Nothing was changed: the old password and the old tokens still work.
    assert!(!new_password_works);
    assert_eq!(after_restart, 200);

    // With space back, the change is acknowledged only once durable.
    let r = d.call("PATCH", &path, Some(&access), Some(&change));
    assert_eq!(r.status, 200, "{}", r.body);
    d.kill();
    let d = Daemon::start_in(disk.dir.clone(), json!({}), &[]);
    assert_eq!(me_status(&d, &access), 401);
    assert_eq!(d.refresh(&refresh).status, 401);
    d.login("root", "the-new-root-password");
}

#[test]
fn a_full_disk_answers_503_keeps_what_is_stored_and_recovers() {
    let Some(disk) = SmallDisk::mount("full") else {
        return;
    };
    let mut d = Daemon::start_in(disk.dir.clone(), json!({}), &[]);
    let root = d.login("root", ROOT_PASSWORD);
    let (access, refresh) = (token(&root, "access_token"), token(&root, "refresh_token"));
    let users_before = std::fs::read(disk.state.join("users.json")).unwrap();
    let sessions_before = std::fs::read(disk.state.join("sessions.json")).unwrap();

    disk.fill_leaving(0);
    let login = d.try_login(json!({"name": "root", "password": ROOT_PASSWORD}));
    let create = d.post(
        "/api/auth/users",
        &access,
        json!({"name": "carol", "password": "long-enough"}),
    );
    let logout = d.call(
        "POST",
        "/api/auth/session/logout",
        None,
        Some(&json!({ "refresh_token": refresh })),
    );
    for (what, r) in [("login", &login), ("create", &create), ("logout", &logout)] {
        assert_eq!(r.status, 503, "{what}: {}", r.body);
        assert!(
            r.message().contains("disk is full"),
            "{what}: {}",
            r.message()
        );
    }
    // Nothing changed, in memory or on disk: the logout that was not saved did not happen.
    assert_eq!(me_status(&d, &access), 200);
    assert_eq!(
        std::fs::read(disk.state.join("users.json")).unwrap(),
        users_before
    );
    assert_eq!(
        std::fs::read(disk.state.join("sessions.json")).unwrap(),
        sessions_before
    );
    assert_eq!(
        std::fs::read_dir(&disk.state)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp"))
            .count(),
        0,
        "a failed write left its temp file"
    );
    // A restart on the full disk comes up with what was stored.
    d.kill();
    let mut d = Daemon::start_in(disk.dir.clone(), json!({}), &[]);
    assert_eq!(me_status(&d, &access), 200);
    assert_eq!(
        d.try_login(json!({"name": "root", "password": ROOT_PASSWORD}))
            .status,
        503
    );

    disk.free();
    d.login("root", ROOT_PASSWORD);
    let r = d.post(
        "/api/auth/users",
        &access,
        json!({"name": "carol", "password": "long-enough"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = d.call(
        "POST",
        "/api/auth/session/logout",
        None,
        Some(&json!({ "refresh_token": refresh })),
    );
    assert_eq!(r.status, 200);
    d.kill();
    let d = Daemon::start_in(disk.dir.clone(), json!({}), &[]);
    assert_eq!(me_status(&d, &access), 401);
    d.login("carol", "long-enough");
}

// ----- item 12 ----------------------------------------------------------------

#[test]
fn temp_files_of_interrupted_writes_are_removed_at_start() {
    let dir = temp_dir("temps");
    let mut d = Daemon::start_in(dir.clone(), json!({}), &[]);
    d.kill();
    let state = dir.join("state");
    let users = std::fs::read(state.join("users.json")).unwrap();
    // What a power cut in the middle of a write leaves: a copy of the hashes.
    std::fs::write(state.join(".users.json.tmp4242"), &users).unwrap();
    std::fs::write(state.join(".sessions.json.tmp17"), b"{\"fami").unwrap();
    std::fs::write(state.join("notes.txt"), b"the admin's own file").unwrap();
    let d = Daemon::start_in(dir.clone(), json!({}), &[]);
    assert!(!state.join(".users.json.tmp4242").exists());
    assert!(!state.join(".sessions.json.tmp17").exists());
    assert!(state.join("notes.txt").exists(), "only temp files go");
    d.login("root", ROOT_PASSWORD);
}

// ----- item 13 ----------------------------------------------------------------

#[test]
fn a_users_patch_of_unknown_and_of_other_ids_answers_the_same() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let carol = d.user(&root, "carol", "User");
    d.user(&root, "dan", "User");
    let dan_id = d
        .get("/api/auth/users", &root)
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "dan")
        .map(|u| token(u, "id"))
        .unwrap();
    for body in [
        json!({"password": "a-new-password"}),
        json!({"password": "a-new-password", "current_password": "password-of-test-user"}),
        json!({"name": "x"}),
    ] {
        let other = d.call(
            "PATCH",
            &format!("/api/auth/users/{dan_id}"),
            Some(&carol),
            Some(&body),
        );
        let unknown = d.call(
            "PATCH",
            "/api/auth/users/no-such-id",
            Some(&carol),
            Some(&body),
        );
        assert_eq!(other.status, 403, "{body}: {}", other.body);
        assert_eq!(
            (other.status, other.message()),
            (unknown.status, unknown.message()),
            "{body}"
        );
    }
}
