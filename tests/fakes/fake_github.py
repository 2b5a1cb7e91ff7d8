"""A fake GitHub for the source-access tests, served by fake_web.py over HTTPS for github.com,
api.github.com, raw.githubusercontent.com and codeload.githubusercontent.com.

State lives in <logs>/github/:
  repos/OWNER/NAME.git  bare repositories, served by the real `git http-backend` (smart HTTP)
  tokens                valid installation tokens, one per line (a test revokes one by
                        removing its line)
  app.pub.pem           the GitHub App's public key: App JWTs are verified with openssl
  token_ttl             seconds a new installation token lives (default 3600)
  github.log            one line per request: "token installation=ID repos=… iss=…",
                        "git SERVICE OWNER/NAME auth=ok|none|bad", "api METHOD PATH auth=…"

Every repository is private: git and the API answer 401 without a valid token, as GitHub does.
"""
import base64, json, os, secrets, subprocess, tempfile, time
from urllib.parse import urlsplit

HOSTS = ("github.com", "api.github.com", "raw.githubusercontent.com", "codeload.githubusercontent.com")


def _dir(logs):
    return os.path.join(logs, "github")


def _log(logs, line):
    with open(os.path.join(_dir(logs), "github.log"), "a") as f:
        f.write(line + "\n")


def _tokens(logs):
    try:
        with open(os.path.join(_dir(logs), "tokens")) as f:
            return {t.strip() for t in f if t.strip()}
    except FileNotFoundError:
        return set()


def _reply(h, code, body, ctype="application/json", headers=()):
    if isinstance(body, str):
        body = body.encode()
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


def _auth(h, logs):
    """'ok', 'none' or 'bad' for the request's Authorization."""
    value = h.headers.get("Authorization", "")
    if not value:
        return "none"
    scheme, _, cred = value.partition(" ")
    token = ""
    if scheme.lower() == "basic":
        try:
            user, _, token = base64.b64decode(cred).decode().partition(":")
        except Exception:
            return "bad"
    elif scheme.lower() in ("token", "bearer"):
        token = cred.strip()
    return "ok" if token in _tokens(logs) else "bad"


def _b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _verify_jwt(logs, jwt):
    """The App JWT's claims when its RS256 signature verifies with app.pub.pem, else None."""
    try:
        head, claims, sig = jwt.split(".")
        header = json.loads(_b64url(head))
        if header.get("alg") != "RS256":
            return None
        with tempfile.NamedTemporaryFile() as s:
            s.write(_b64url(sig))
            s.flush()
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", os.path.join(_dir(logs), "app.pub.pem"),
                                "-signature", s.name], input=(head + "." + claims).encode(), capture_output=True)
        if r.returncode != 0:
            return None
        c = json.loads(_b64url(claims))
        now = time.time()
        if not (c["iat"] <= now + 60 and c["exp"] > now and c["exp"] - c["iat"] <= 660):
            return None
        return c
    except Exception:
        return None


def _token_request(h, logs, installation, body):
    value = h.headers.get("Authorization", "")
    claims = _verify_jwt(logs, value[7:]) if value.startswith("Bearer ") else None
    if claims is None:
        _log(logs, "token installation=%s jwt=bad" % installation)
        return _reply(h, 401, json.dumps({"message": "A JSON web token could not be decoded"}))
    try:
        repos = json.loads(body or b"{}").get("repositories")
    except ValueError:
        return _reply(h, 422, json.dumps({"message": "Invalid request"}))
    token = "ghs_" + secrets.token_hex(18)
    with open(os.path.join(_dir(logs), "tokens"), "a") as f:
        f.write(token + "\n")
    try:
        ttl = int(open(os.path.join(_dir(logs), "token_ttl")).read())
    except (FileNotFoundError, ValueError):
        ttl = 3600
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + ttl))
    _log(logs, "token installation=%s repos=%s iss=%s jwt=ok" % (installation, ",".join(repos) if repos else "*", claims["iss"]))
    _reply(h, 201, json.dumps({"token": token, "expires_at": expires, "permissions": {"contents": "write"}}))


def _git(h, logs, path, query, body):
    parts = path.strip("/").split("/")
    owner, name = parts[0], parts[1]
    if name.endswith(".git"):
        name = name[:-4]
    rest = "/".join(parts[2:])
    service = rest if rest in ("git-upload-pack", "git-receive-pack") else query.replace("service=", "")
    auth = _auth(h, logs)
    _log(logs, "git %s %s/%s auth=%s" % (service, owner, name, auth))
    if auth != "ok":
        return _reply(h, 401, "Invalid username or token.\n", "text/plain",
                      [("WWW-Authenticate", 'Basic realm="GitHub"')])
    env = dict(os.environ, GIT_PROJECT_ROOT=os.path.join(_dir(logs), "repos"), GIT_HTTP_EXPORT_ALL="1",
               PATH_INFO="/%s/%s.git/%s" % (owner, name, rest), QUERY_STRING=query,
               REQUEST_METHOD=h.command, CONTENT_TYPE=h.headers.get("Content-Type", ""),
               CONTENT_LENGTH=str(len(body)), REMOTE_USER="x-access-token", REMOTE_ADDR=h.client_address[0])
    if h.headers.get("Content-Encoding"):
        env["HTTP_CONTENT_ENCODING"] = h.headers["Content-Encoding"]
    r = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
    head, _, out = r.stdout.partition(b"\r\n\r\n")
    code, headers = 200, []
    for line in head.decode(errors="replace").split("\r\n"):
        k, _, v = line.partition(":")
        if k.lower() == "status":
            code = int(v.strip().split()[0])
        elif k:
            headers.append((k, v.strip()))
    ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "text/plain")
    _reply(h, code, out, ctype, [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")])


def active(logs):
    """Whether a test made the fake GitHub (its state directory)."""
    return os.path.isdir(_dir(logs))


def handle(h, logs, body):
    """Answers a request to one of GitHub's hosts; False when it is not one."""
    host = h.headers.get("Host", "").split(":")[0]
    if host not in HOSTS or not os.path.isdir(_dir(logs)):
        return False
    url = urlsplit(h.path)
    if host == "api.github.com":
        parts = url.path.strip("/").split("/")
        if h.command == "POST" and len(parts) == 4 and parts[0] == "app" and parts[1] == "installations" \
                and parts[3] == "access_tokens":
            _token_request(h, logs, parts[2], body)
            return True
        auth = _auth(h, logs)
        _log(logs, "api %s %s auth=%s" % (h.command, url.path, auth))
        if auth != "ok":
            _reply(h, 401, json.dumps({"message": "Bad credentials"}))
        elif h.command in ("POST", "PUT", "PATCH", "DELETE"):
            _reply(h, 201, json.dumps({"number": 1, "url": "https://api.github.com" + url.path + "/1"}))
        else:
            _reply(h, 200, json.dumps({"full_name": "/".join(parts[1:3]), "private": True}))
        return True
    if host == "github.com" and url.path.count("/") >= 2:
        _git(h, logs, url.path, url.query, body)
        return True
    auth = _auth(h, logs)
    _log(logs, "raw %s %s auth=%s" % (h.command, url.path, auth))
    _reply(h, 200 if auth == "ok" else 404, "raw %s\n" % url.path, "text/plain")
    return True
