//! What `pistack ctl` prints: supervisorctl's layout for people, JSON for scripts.

use serde_json::Value;

/// supervisorctl's namespec: `group:name`, or `name` when they are the same.
pub fn namespec(p: &Value) -> String {
    let (name, group) = (
        p["name"].as_str().unwrap_or(""),
        p["group"].as_str().unwrap_or(""),
    );
    if group.is_empty() || group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    }
}

/// The description column, as supervisorctl shows it.
fn description(p: &Value, now: u64) -> String {
    let state = p["state"].as_str().unwrap_or("UNKNOWN");
    match state {
        "RUNNING" => {
            let up = p["started_at"]
                .as_u64()
                .map_or(0, |t| now.saturating_sub(t));
            format!(
                "pid {}, uptime {}",
                p["pid"].as_u64().unwrap_or(0),
                crate::xmlrpc::uptime(up)
            )
        }
        "BACKOFF" | "FATAL" => p["message"].as_str().unwrap_or("").to_string(),
        "STOPPED" | "EXITED" => match (p["started_at"].as_u64(), p["stopped_at"].as_u64()) {
            (Some(_), Some(stop)) => crate::xmlrpc::stop_time(stop),
            _ => "Not started".into(),
        },
        _ => p["message"].as_str().unwrap_or("").to_string(),
    }
}

/// supervisorctl's `status` lines: the name padded to 3 past the longest (at
/// least 30), the state to 10, then the description.
pub fn status_lines(list: &[Value], now: u64) -> String {
    let width = list
        .iter()
        .map(|p| namespec(p).len())
        .max()
        .unwrap_or(0)
        .max(30)
        + 3;
    let mut out = String::new();
    for p in list {
        let state = p["state"].as_str().unwrap_or("UNKNOWN");
        let line = format!("{:<width$}{state:<10}{}", namespec(p), description(p, now));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One event: `time seq name FROM -> TO message`.
pub fn event_line(e: &Value) -> String {
    format!(
        "{} #{} {} {} -> {} {}",
        e["time"].as_u64().unwrap_or(0),
        e["seq"].as_u64().unwrap_or(0),
        e["name"].as_str().unwrap_or(""),
        e["from"].as_str().unwrap_or(""),
        e["to"].as_str().unwrap_or(""),
        e["message"].as_str().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

/// A pin: name, value, direction.
pub fn pin_line(p: &Value) -> String {
    let value = match &p["value"] {
        Value::Number(n) => n.to_string(),
        _ => "-".into(),
    };
    let mut line = format!(
        "{:<20}{:<6}{}",
        p["name"].as_str().unwrap_or(""),
        value,
        p["direction"].as_str().unwrap_or("")
    );
    if let Some(e) = p["error"].as_str() {
        line.push_str(&format!("  ({e})"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_is_laid_out_like_supervisorctl() {
        let list = [
            json!({"name":"web","group":"web","state":"RUNNING","pid":42,"started_at":100}),
            json!({"name":"a","group":"g","state":"STOPPED","pid":null,"started_at":null}),
            json!({"name":"b","group":"b","state":"FATAL","message":"exited too quickly"}),
        ];
        let out = status_lines(&list, 3825);
        let want = format!(
            "{:<33}{:<10}pid 42, uptime 1:02:05\n{:<33}{:<10}Not started\n{:<33}{:<10}exited too quickly\n",
            "web", "RUNNING", "g:a", "STOPPED", "b", "FATAL"
        );
        assert_eq!(out, want);
    }
}
