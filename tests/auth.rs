//! Auth over real HTTP: sessions, users, forged tokens, throttling, persistence.
mod common;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use serde_json::{json, Value};

fn tokens(d: &Daemon) -> (String, String) {
    let b = d.login("root", ROOT_PASSWORD);
    (
        b["access_token"].as_str().unwrap().to_string(),
        b["refresh_token"].as_str().unwrap().to_string(),
    )
}

#[test]
fn login_shape_and_failures() {
    let d = Daemon::start(json!({}));
    let b = d.login("root", ROOT_PASSWORD);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 900);
    assert_eq!(b["user"]["name"], "root");
    assert_eq!(b["user"]["level"], "Root");
    assert!(b["user"].get("password_hash").is_none());
    let bad = d.try_login(json!({"name":"root","password":"nope"}));
    assert_eq!(bad.status, 401);
    assert_eq!(bad.message(), "invalid credentials");
    let unknown = d.try_login(json!({"name":"ghost","password":"nope"}));
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.message(), "invalid credentials");
    let missing = d.try_login(json!({"name":"root"}));
    assert_eq!(missing.status, 400);
    assert!(
        missing.message().contains("password"),
        "{}",
        missing.message()
    );
}

#[test]
fn validate_me_refresh_logout() {
    let d = Daemon::start(json!({}));
    let (access, refresh) = tokens(&d);
    let v = d.post("/api/auth/session/validate", &access, json!(null));
    assert_eq!(v.status, 200);
    assert_eq!(v.body["valid"], true);
    assert_eq!(v.body["token"]["typ"], "access");
    for claim in ["jti", "sub", "nam", "lvl", "iat", "exp"] {
        assert!(v.body["token"].get(claim).is_some(), "claim {claim}");
    }
    assert_eq!(d.get("/api/auth/session/me", &access).body["level"], "Root");

    let r = d.refresh(&refresh);
    assert_eq!(r.status, 200);
    let refresh2 = r.body["refresh_token"].as_str().unwrap().to_string();
    let access2 = r.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    assert_eq!(d.get("/api/auth/session/me", &access2).status, 200);

    let out = d.call(
        "POST",
        "/api/auth/session/logout",
        None,
        Some(&json!({"refresh_token": refresh2})),
    );
    assert_eq!(out.status, 200);
    assert_eq!(out.body["revoked"], true);
    // Idempotent, and the session's tokens are dead.
    let again = d.call("POST", "/api/auth/session/logout", Some(&refresh2), None);
    assert_eq!(again.status, 200);
    assert_eq!(d.get("/api/auth/session/me", &access2).status, 401);
    let r = d.refresh(&refresh2);
    assert_eq!(r.status, 401);
    assert_eq!(
        d.call("POST", "/api/auth/session/logout", None, Some(&json!({})))
            .status,
        400
    );
    assert_eq!(
        d.call(
            "POST",
            "/api/auth/session/logout",
            None,
            Some(&json!({"refresh_token": "x.y.z"}))
        )
        .status,
        401
    );
}

#[test]
fn refresh_reuse_revokes_the_family() {
    let d = Daemon::start(json!({}));
    let (_, r1) = tokens(&d);
    let (other_access, _) = tokens(&d);
    let r2 = d.refresh(&r1);
    let a2 = r2.body["access_token"].as_str().unwrap().to_string();
    let r2 = r2.body["refresh_token"].as_str().unwrap().to_string();
    let replay = d.refresh(&r1);
    assert_eq!(replay.status, 401);
    assert!(
        replay.message().contains("already used"),
        "{}",
        replay.message()
    );
    assert_eq!(d.refresh(&r2).status, 401);
    assert_eq!(d.get("/api/auth/session/me", &a2).status, 401);
    // Another login of the same user is untouched.
    assert_eq!(d.get("/api/auth/session/me", &other_access).status, 200);
}

#[test]
fn logout_all_and_password_change_end_sessions() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let alice = d.user(&root, "alice", "User");
    let alice2 = d.login("alice", "password-of-test-user")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = d.post("/api/auth/session/logout-all", &alice, json!(null));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["revoked"], 2);
    assert_eq!(d.get("/api/auth/session/me", &alice2).status, 401);

    let alice = d.login("alice", "password-of-test-user")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = d.get("/api/auth/session/me", &alice).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/auth/users/{id}");
    // Self-service needs the current password.
    let no_current = d.call(
        "PATCH",
        &path,
        Some(&alice),
        Some(&json!({"password": "another-password"})),
    );
    assert_eq!(no_current.status, 400);
    let wrong = d.call(
        "PATCH",
        &path,
        Some(&alice),
        Some(&json!({"password": "another-password", "current_password": "bad"})),
    );
    assert_eq!(wrong.status, 403);
    let ok = d.call(
        "PATCH",
        &path,
        Some(&alice),
        Some(&json!({"password": "another-password", "current_password": "password-of-test-user"})),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(d.get("/api/auth/session/me", &alice).status, 401);
    d.login("alice", "another-password");
    // Deletion ends sessions too.
    let alice = d.login("alice", "another-password")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(d.call("DELETE", &path, Some(&root), None).status, 204);
    assert_eq!(d.get("/api/auth/session/me", &alice).status, 401);
    assert_eq!(d.call("DELETE", &path, Some(&root), None).status, 404);
}

#[test]
fn users_crud_rules() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let admin = d.user(&root, "adm", "Admin");
    // Admin may create only Users.
    let r = d.post(
        "/api/auth/users",
        &admin,
        json!({"name":"x1","password":"long-enough","level":"Admin"}),
    );
    assert_eq!(r.status, 403);
    let r = d.post(
        "/api/auth/users",
        &admin,
        json!({"name":"bob","password":"long-enough","level":"User"}),
    );
    assert_eq!(r.status, 201);
    let bob_id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.body["created_at"].as_u64().map(|t| t > 1_600_000_000),
        Some(true)
    );
    // Validation and conflicts.
    assert_eq!(
        d.post(
            "/api/auth/users",
            &root,
            json!({"name":"bob","password":"long-enough"})
        )
        .status,
        409
    );
    let r = d.post(
        "/api/auth/users",
        &root,
        json!({"name":"bad name!","password":"long-enough"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.message().contains("name"));
    let r = d.post(
        "/api/auth/users",
        &root,
        json!({"name":"shorty","password":"short"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.message().contains("password"));
    assert_eq!(
        d.post(
            "/api/auth/users",
            &root,
            json!({"name":"lvl","password":"long-enough","level":"God"})
        )
        .status,
        400
    );
    // Listing never shows hashes.
    let list = d.get("/api/auth/users", &root);
    assert_eq!(list.status, 200);
    assert_eq!(list.body.as_array().unwrap().len(), 3);
    assert!(!list.text.contains("pbkdf2"));
    // Admin sets a User's password, not an Admin's, and not a level.
    let bob_path = format!("/api/auth/users/{bob_id}");
    assert_eq!(
        d.call(
            "PATCH",
            &bob_path,
            Some(&admin),
            Some(&json!({"password":"set-by-admin"}))
        )
        .status,
        200
    );
    assert_eq!(
        d.call(
            "PATCH",
            &bob_path,
            Some(&admin),
            Some(&json!({"level":"Admin"}))
        )
        .status,
        403
    );
    let root_id = d.get("/api/auth/session/me", &root).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let root_path = format!("/api/auth/users/{root_id}");
    assert_eq!(
        d.call(
            "PATCH",
            &root_path,
            Some(&admin),
            Some(&json!({"password":"hijacked!!"}))
        )
        .status,
        403
    );
    // Root renames and promotes; name clash is 409.
    let r = d.call(
        "PATCH",
        &bob_path,
        Some(&root),
        Some(&json!({"name":"robert","level":"Admin"})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["level"], "Admin");
    assert_eq!(
        d.call(
            "PATCH",
            &bob_path,
            Some(&root),
            Some(&json!({"name":"adm"}))
        )
        .status,
        409
    );
    assert_eq!(
        d.call("PATCH", &bob_path, Some(&root), Some(&json!({"nmae":"x"})))
            .status,
        400
    );
    // The last Root can be neither deleted nor demoted.
    assert_eq!(d.call("DELETE", &root_path, Some(&root), None).status, 409);
    assert_eq!(
        d.call(
            "PATCH",
            &root_path,
            Some(&root),
            Some(&json!({"level":"User"}))
        )
        .status,
        409
    );
    assert_eq!(d.get("/api/auth/users/no-such-id", &root).status, 404);
    // A User reads itself, not others.
    let user = d.user(&root, "carol", "User");
    let carol_id = d.get("/api/auth/session/me", &user).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        d.get(&format!("/api/auth/users/{carol_id}"), &user).status,
        200
    );
    assert_eq!(d.get(&bob_path, &user).status, 403);
}

fn forge(payload: &Value, alg: &str, key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
    let p = URL_SAFE_NO_PAD.encode(payload.to_string());
    let input = format!("{h}.{p}");
    if alg == "none" {
        return format!("{input}.");
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[test]
fn forged_tokens_are_refused() {
    let secret = "a-test-secret-of-at-least-32-bytes-long";
    let dir = temp_dir("forge");
    let d = Daemon::start_in(dir, json!({}), &[("AUTH_SECRET", secret)]);
    let (access, refresh) = tokens(&d);
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    // Our own signature over the real claims is accepted: any JWT library with the secret agrees.
    assert_eq!(
        d.get(
            "/api/auth/session/me",
            &forge(&claims, "HS256", secret.as_bytes())
        )
        .status,
        200
    );
    let mut expired = claims.clone();
    expired["exp"] = json!(1);
    let mut escalated = claims.clone();
    escalated["sub"] = json!("someone-else");
    let tampered = {
        let mut parts: Vec<String> = access.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(escalated.to_string());
        parts.join(".")
    };
    let cases = [
        ("alg none", forge(&claims, "none", b"")),
        (
            "wrong key",
            forge(&claims, "HS256", b"another-secret-another-secret-xx"),
        ),
        ("HS512 header", forge(&claims, "HS512", secret.as_bytes())),
        ("tampered payload", tampered),
        ("expired", forge(&expired, "HS256", secret.as_bytes())),
        ("refresh as access", refresh.clone()),
        ("garbage", "not-a-token".to_string()),
    ];
    for (what, token) in cases {
        let r = d.get("/api/auth/session/me", &token);
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert!(!r.message().is_empty(), "{what}");
    }
    // Access token used as refresh token.
    let r = d.refresh(&access);
    assert_eq!(r.status, 401);
    // The tolerated header forms of the original.
    for header in [
        format!("Bearer Bearer {access}"),
        format!("Bearer%20{access}"),
        format!("Bearer \"{access}\""),
    ] {
        let r = ureq::get(&d.url("/api/auth/session/me"))
            .set("Authorization", &header)
            .call();
        assert_eq!(r.map(|r| r.status()).unwrap_or(0), 200, "{header}");
    }
}

#[test]
fn throttling_per_account_and_address() {
    let d = Daemon::start(json!({"auth": {"throttle_free_attempts": 3}}));
    let bad = json!({"name": "root", "password": "wrong-password"});
    for _ in 0..3 {
        assert_eq!(d.try_login(bad.clone()).status, 401);
    }
    let r = d.try_login(bad.clone());
    assert_eq!(r.status, 429);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    // Even the right password waits while throttled: guessing gains nothing.
    let good = json!({"name": "root", "password": ROOT_PASSWORD});
    assert_eq!(d.try_login(good.clone()).status, 429);
    std::thread::sleep(std::time::Duration::from_millis(1100 * wait));
    assert_eq!(d.try_login(good.clone()).status, 200);
}

#[test]
fn bad_bodies_get_clear_errors() {
    let d = Daemon::start(json!({}));
    let root = d.root();
    let send = |body: &str| {
        let r = ureq::post(&d.url("/api/auth/users"))
            .set("Authorization", &format!("Bearer {root}"))
            .set("Content-Type", "application/json")
            .send_string(body);
        match r {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    let (s, b) = send("{not json");
    assert_eq!(s, 400);
    assert!(b.contains("invalid JSON"), "{b}");
    let (s, b) = send(r#"{"name": 5, "password": "long-enough"}"#);
    assert_eq!(s, 400);
    assert!(b.contains("invalid type"), "{b}");
    let (s, _) = send("");
    assert_eq!(s, 400);
    let (s, _) = send("[]");
    assert_eq!(s, 400);
    let big = format!(r#"{{"name":"x","password":"{}"}}"#, "a".repeat(200 * 1024));
    let (s, b) = send(&big);
    assert_eq!(s, 413);
    assert!(b.contains("limit"), "{b}");
    // Nothing was created by any of it, and the daemon still answers.
    assert_eq!(
        d.get("/api/auth/users", &root)
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn restart_keeps_users_and_sessions() {
    let dir = temp_dir("restart");
    let mut d = Daemon::start_in(dir.clone(), json!({}), &[]);
    let root = d.root();
    d.user(&root, "dave", "User");
    let (access, refresh) = tokens(&d);
    assert_eq!(d.stop(), Some(0));
    let d = Daemon::start_in(dir, json!({}), &[]);
    assert_eq!(d.get("/api/auth/session/me", &access).status, 200);
    let r = d.refresh(&refresh);
    assert_eq!(r.status, 200);
    d.login("dave", "password-of-test-user");
    assert!(
        !d.dir.join("state/initial-root-password").exists(),
        "the env password was used, no file"
    );
}

#[test]
fn first_start_writes_a_random_root_password() {
    let dir = temp_dir("first");
    let cfg = config(&dir, json!({}));
    std::fs::write(dir.join("c.json"), cfg.to_string()).unwrap();
    let mut child = std::process::Command::new(bin())
        .args(["--config", dir.join("c.json").to_str().unwrap(), "serve"])
        .env_remove("PISTACK_ROOT_PASSWORD")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let file = dir.join("state/initial-root-password");
    let pw = eventually(10, || {
        std::fs::read_to_string(&file)
            .ok()
            .filter(|s| s.ends_with('\n'))
    })
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(pw.trim().len() >= 16);
    assert_ne!(pw.trim(), "password");
    child.kill().unwrap();
    child.wait().unwrap();
}
