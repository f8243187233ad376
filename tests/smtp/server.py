"""A real SMTP server on loopback for pistack's e-mail tests (aiosmtpd).

Each message received is written to OUT/<n>.json: the envelope (mail_from,
rcpt_tos), the raw data, and the subject and body as Python's email package
decodes them, so the test checks the encoding against an independent decoder.

  server.py --out DIR --port N [--mode plain|starttls|tls|hang]
            [--cert PEM --key PEM] [--user NAME --password PW]

"hang" accepts connections and never answers (a hung relay); each connection
is recorded as OUT/conn-<n>. The server prints "ready" once it listens and
runs until its stdin closes.
"""

import argparse
import email
import email.header
import email.policy
import json
import os
import socket
import ssl
import sys
import threading

counter = 0
lock = threading.Lock()


def next_name(out, prefix, suffix):
    global counter
    with lock:
        counter += 1
        return os.path.join(out, f"{prefix}{counter:04d}{suffix}")


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


class Handler:
    def __init__(self, out, mode):
        self.out = out
        self.mode = mode

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "raw": raw.decode("utf-8", "replace"),
            "raw_subject": email.message_from_bytes(raw)["Subject"],
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "message_id": str(msg["Message-ID"]),
            "date": str(msg["Date"]),
            "content_type": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "body": body.get_content() if body is not None else None,
            # aiosmtpd sets session.ssl after STARTTLS; implicit TLS is all TLS.
            "tls": session.ssl is not None or self.mode == "tls",
            "authenticated": bool(session.authenticated),
        }
        write_atomic(next_name(self.out, "", ".json"), json.dumps(record))
        return "250 Message accepted for delivery"


def hang(out, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(16)
    held = []

    def accept():
        while True:
            conn, _ = sock.accept()
            held.append(conn)  # never answered, never closed
            write_atomic(next_name(out, "conn-", ""), "")

    threading.Thread(target=accept, daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", default="plain", choices=["plain", "starttls", "tls", "hang"])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)

    if a.mode == "hang":
        hang(a.out, a.port)
    else:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        kwargs = {}
        ctx = None
        if a.mode in ("starttls", "tls"):
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(a.cert, a.key)
        if a.mode == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        if a.user:
            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login.decode() == a.user
                      and auth_data.password.decode() == a.password)
                return AuthResult(success=ok)
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=a.mode == "starttls")
        controller = Controller(
            Handler(a.out, a.mode), hostname="127.0.0.1", port=a.port,
            ssl_context=ctx if a.mode == "tls" else None,
            server_hostname="localhost", **kwargs)
        controller.start()

    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
