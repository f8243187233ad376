//! The static page from `www_dir`. No request path can leave that folder: `..`
//! segments are refused before and after percent-decoding, and the resolved file
//! (symlinks followed) must still lie inside the canonical web root.

use super::reply::{ApiError, Reply};
use super::request::percent_decode;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub fn serve(www_dir: &Path, raw_path: &str, headers: &[(String, String)]) -> Reply {
    match resolve(www_dir, raw_path) {
        Ok(file) => send(&file, headers),
        Err(e) => e.into_reply(),
    }
}

/// The file a request path names, or 404 (also for any attempt to escape: saying
/// "forbidden" would confirm what exists outside).
fn resolve(www_dir: &Path, raw_path: &str) -> Result<PathBuf, ApiError> {
    let not_found = || ApiError::not_found(format!("no such page: {raw_path}"));
    let decoded = percent_decode(raw_path).ok_or_else(not_found)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(not_found());
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(not_found()),
            s if s.starts_with('.') => return Err(not_found()), // no dotfiles (.git, .env)
            s => relative.push(s),
        }
    }
    let root = www_dir.canonicalize().map_err(|_| {
        ApiError::not_found(format!(
            "the web root {} is missing; set http.www_dir",
            www_dir.display()
        ))
    })?;
    let mut candidate = root.join(&relative);
    if candidate.is_dir() {
        candidate.push("index.html");
    }
    let real = candidate.canonicalize().map_err(|_| not_found())?;
    if !real.starts_with(&root) || !real.is_file() {
        return Err(not_found());
    }
    Ok(real)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

fn accepts_gzip(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .filter(|(k, _)| k == "accept-encoding")
        .flat_map(|(_, v)| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            (name == "gzip" || name == "*") && !refused
        })
}

/// `If-None-Match` holds `*` or a list of tags; the comparison is weak (RFC
/// 9110 §13.1.2): `W/"x"` matches `"x"`.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|t| {
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag.strip_prefix("W/").unwrap_or(etag)
    })
}

fn send(file: &Path, headers: &[(String, String)]) -> Reply {
    let gz = PathBuf::from(format!("{}.gz", file.display()));
    let use_gz = accepts_gzip(headers) && gz.is_file();
    let chosen = if use_gz { gz.as_path() } else { file };
    let meta = match std::fs::metadata(chosen) {
        Ok(m) => m,
        Err(_) => return ApiError::not_found("no such page").into_reply(),
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let etag = format!(
        "\"{:x}-{:x}{}\"",
        meta.len(),
        mtime,
        if use_gz { "-gz" } else { "" }
    );
    let if_none_match = headers
        .iter()
        .find(|(k, _)| k == "if-none-match")
        .map(|(_, v)| v.as_str());
    let mut reply = if if_none_match.is_some_and(|v| etag_matches(v, &etag)) {
        let mut r = Reply::text(304, Vec::new());
        r.content_type = content_type(file);
        r
    } else {
        match std::fs::read(chosen) {
            Ok(body) => Reply {
                status: 200,
                content_type: content_type(file),
                headers: Vec::new(),
                body,
            },
            Err(_) => return ApiError::not_found("no such page").into_reply(),
        }
    };
    reply.headers.push(("ETag", etag));
    reply.headers.push(("Vary", "Accept-Encoding".into()));
    reply.headers.push(("Cache-Control", "no-cache".into()));
    if use_gz {
        reply.headers.push(("Content-Encoding", "gzip".into()));
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> PathBuf {
        let d = std::env::temp_dir().join(format!("pistack-www-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("www/sub")).unwrap();
        std::fs::write(d.join("www/index.html"), "hi").unwrap();
        std::fs::write(d.join("www/sub/a.css"), "x").unwrap();
        std::fs::write(d.join("secret"), "no").unwrap();
        std::os::unix::fs::symlink(d.join("secret"), d.join("www/link")).unwrap();
        d.join("www")
    }

    #[test]
    fn paths_stay_inside() {
        let www = site();
        assert!(resolve(&www, "/").unwrap().ends_with("index.html"));
        assert!(resolve(&www, "/sub/a.css").is_ok());
        for bad in [
            "/../secret",
            "/%2e%2e/secret",
            "/%2E%2E%2Fsecret",
            "/sub/../../secret",
            "/link",
            "/sub/..%5c..%5csecret",
            "/%00",
            "/.hidden",
            "/%252e%252e/secret",
        ] {
            assert_eq!(resolve(&www, bad).unwrap_err().status, 404, "{bad}");
        }
    }

    #[test]
    fn etags_compare_weakly() {
        let tag = "\"3-9\"";
        for yes in [
            "\"3-9\"",
            "W/\"3-9\"",
            "\"a\", W/\"3-9\"",
            "*",
            " \"x\" ,\"3-9\" ",
        ] {
            assert!(etag_matches(yes, tag), "{yes}");
        }
        for no in ["\"3-8\"", "W/\"3-8\", \"b\"", "", "3-9"] {
            assert!(!etag_matches(no, tag), "{no}");
        }
    }

    #[test]
    fn gzip_negotiation() {
        let h = |v: &str| vec![("accept-encoding".to_string(), v.to_string())];
        assert!(accepts_gzip(&h("gzip, deflate, br")));
        assert!(accepts_gzip(&h("br;q=1.0, gzip;q=0.8")));
        assert!(!accepts_gzip(&h("gzip;q=0")));
        assert!(!accepts_gzip(&h("identity")));
    }
}
