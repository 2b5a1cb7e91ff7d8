#!/usr/bin/env python3
"""The fake internet's web servers: plain HTTP on :80 and HTTPS on :443 of every address of
the namespace they run in (see tests/integration/fake_internet.sh).

Logs (one line each, appended):
  http.log   "<client> <Host> <path>" per plain HTTP request
  https.log  "<client> <Host> <path>" per HTTPS request
  conn.log   "<scheme> <local address> <client> sni=<server name>" per TCP connection, made
             before any byte is read (so a connection that sends nothing is still seen);
             HTTPS adds "reused=yes|no" (TLS session resumption) once the handshake is done

Paths: /sse (five server-sent events 0.3 s apart, chunked, each with the server's time),
/bytes?n=N (N bytes streamed), /idle-close (answered keep-alive, then the connection is
closed by the server 0.2 s later, as servers close idle connections), POST anything (answers the body's size and sha256), /ws
(a WebSocket upgrade answered 101, then an echo of raw bytes), /headers (the request's fields
and target as JSON, also appended to headers.log), else "hello from <local
address> host <Host> scheme <http|https>". POSTs over HTTPS to api.anthropic.com,
api.openai.com and bedrock-runtime.* are fake AI provider APIs (fake_providers.py; calls
logged to ai.log). Over HTTPS, GitHub's hosts are a fake GitHub (fake_github.py) once a test
has made its state directory <logs>/github.
"""
import json
import argparse, hashlib, http.server, os, socket, socketserver, ssl, sys, threading, time
from urllib.parse import urlsplit, parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_github  # noqa: E402
import fake_providers  # noqa: E402

ARGS = None


def append(name, line):
    with open(os.path.join(ARGS.logs, name), "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self):
        append("https.log" if self.server.scheme == "https" else "http.log",
               "%s %s %s" % (self.client_address[0], self.headers.get("Host", ""), self.path))

    def reply(self, code, body, ctype="text/plain", headers=()):
        """A whole answer: `headers` are (name, value) pairs sent besides the type and length."""
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        """The request's body, whole (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self):
        self.record()
        if self.server.scheme == "https" and fake_github.handle(self, ARGS.logs, b""):
            return
        url = urlsplit(self.path)
        if url.path == "/sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(5):
                data = ("data: %d %.3f\n\n" % (i, time.time())).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(0.3)
            self.wfile.write(b"0\r\n\r\n")
            return
        if url.path == "/bytes":
            n = int(parse_qs(url.query).get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"\0" * (1 << 20)
            while n > 0:
                k = min(n, len(block))
                self.wfile.write(block[:k])
                n -= k
            return
        if url.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            while True:
                data = self.connection.recv(4096)
                if not data:
                    return
                self.connection.sendall(data)
        if url.path == "/headers":  # the request's header fields and target, as JSON (logged to headers.log)
            seen = {"target": self.path, "headers": [[k, v] for k, v in self.headers.items()]}
            append("headers.log", json.dumps(seen))
            self.reply(200, json.dumps(seen).encode(), "application/json")
            return
        if url.path == "/idle-close":  # a keep-alive answer, then the server closes while idle
            self.reply(200, b"closing soon\n")
            self.wfile.flush()
            time.sleep(0.2)
            self.close_connection = True
            return
        host = self.headers.get("Host", "")
        if host.split(":")[0] in ("api.anthropic.com", "api.openai.com") and self.command == "GET" \
                and (url.path.startswith("/api/") or url.path == "/v1/responses"):
            # What the real agent CLIs ask at start (Claude Code's settings and policy limits;
            # Codex's WebSocket try): the providers' 404, so they go on at once.
            body = json.dumps({"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.reply(200, ("hello from %s host %s scheme %s\n" % (self.connection.getsockname()[0], host,
                                                               self.server.scheme)).encode())

    do_HEAD = do_GET

    def do_POST(self):
        self.record()
        host = self.headers.get("Host", "").split(":")[0]
        path = urlsplit(self.path).path
        if self.server.scheme == "https" and host in fake_github.HOSTS and fake_github.active(ARGS.logs):
            fake_github.handle(self, ARGS.logs, self.body())
            return
        if self.server.scheme == "https" and (host in ("api.anthropic.com", "api.openai.com")
                                              or host.startswith("bedrock-runtime.")):
            body = self.body()
            if host == "api.anthropic.com" and path == "/v1/messages":
                return fake_providers.anthropic_messages(self, body, ARGS.logs)
            if host == "api.anthropic.com" and path == "/v1/messages/count_tokens":
                return fake_providers.anthropic_count_tokens(self, body, ARGS.logs)
            if host == "api.openai.com" and path == "/v1/chat/completions":
                return fake_providers.openai_chat(self, body, ARGS.logs)
            if host == "api.openai.com" and path == "/v1/responses":
                return fake_providers.openai_responses(self, body, ARGS.logs)
            if host.startswith("bedrock-runtime."):
                return fake_providers.bedrock(self, path, body, ARGS.logs)
            self.reply(200, ("%d %s\n" % (len(body), hashlib.sha256(body).hexdigest())).encode())
            return
        h = hashlib.sha256()
        size = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                data = self.rfile.read(n)
                self.rfile.readline()
                h.update(data)
                size += n
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                data = self.rfile.read(min(left, 1 << 16))
                if not data:
                    break
                h.update(data)
                size += len(data)
                left -= len(data)
        self.reply(200, ("%d %s\n" % (size, h.hexdigest())).encode())


def _other_method(self):
    """PUT, PATCH and DELETE: the fake GitHub's API; 501 elsewhere (as before)."""
    self.record()
    host = self.headers.get("Host", "").split(":")[0]
    if self.server.scheme == "https" and host in fake_github.HOSTS and fake_github.active(ARGS.logs):
        fake_github.handle(self, ARGS.logs, self.body())
        return
    self.reply(501, b"unsupported method\n")


Handler.do_PUT = _other_method
Handler.do_PATCH = _other_method
Handler.do_DELETE = _other_method


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port, scheme, ctx):
        self.scheme = scheme
        self.ctx = ctx
        super().__init__(("0.0.0.0", port), Handler)

    def process_request(self, request, client_address):
        if self.scheme == "http":
            append("conn.log", "http %s %s sni=" % (request.getsockname()[0], client_address[0]))
        super().process_request(request, client_address)

    def finish_request(self, request, client_address):
        if self.ctx:
            local = request.getsockname()[0]
            seen = {"sni": ""}

            def on_sni(sock, name, _ctx):
                seen["sni"] = name or ""

            self.ctx.sni_callback = on_sni
            try:
                request.settimeout(10)
                request = self.ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                append("conn.log", "https %s %s sni=%s failed=%s" % (local, client_address[0], seen["sni"], type(e).__name__))
                return
            append("conn.log", "https %s %s sni=%s reused=%s" % (local, client_address[0], seen["sni"],
                                                                 "yes" if request.session_reused else "no"))
        super().finish_request(request, client_address)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--logs", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    ARGS = p.parse_args()
    for name in ("http.log", "https.log", "conn.log"):
        open(os.path.join(ARGS.logs, name), "a").close()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    ctx.set_alpn_protocols(["http/1.1"])
    plain = Server(80, "http", None)
    tls = Server(443, "https", ctx)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    print("ready", flush=True)
    tls.serve_forever()


if __name__ == "__main__":
    main()
