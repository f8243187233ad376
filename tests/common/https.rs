//! A stand-in HTTPS peer: Python's http.server behind its ssl module, with a
//! certificate for localhost (from `smtp::certs`). It answers every GET and POST
//! with `body` and reports each request on a channel; killed when dropped.

use super::smtp::Certs;
use serde_json::Value;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

pub struct Server {
    child: Child,
    pub port: u16,
    /// One `{"method", "path", "body"}` per request answered.
    pub requests: mpsc::Receiver<Value>,
}

const SCRIPT: &str = r#"
import http.server, json, ssl, sys
cert, key, answer = sys.argv[1], sys.argv[2], sys.argv[3].encode()
class H(http.server.BaseHTTPRequestHandler):
    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        print(json.dumps({"method": self.command, "path": self.path, "body": body}), flush=True)
    do_GET = do_POST = reply
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

impl Server {
    pub fn start(certs: &Certs, body: &str) -> Server {
        let mut child = Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(&certs.cert)
            .arg(&certs.key)
            .arg(body)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 for the HTTPS stand-in");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let port = lines
            .next()
            .and_then(Result::ok)
            .and_then(|l| l.trim().parse().ok())
            .expect("the HTTPS stand-in's port");
        let (tx, requests) = mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Server {
            child,
            port,
            requests,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
