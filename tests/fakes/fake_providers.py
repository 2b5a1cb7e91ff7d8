"""Fake AI provider endpoints for the fake internet's web server (fake_web.py), speaking the
providers' documented wire formats so that km's metering proxy and real clients (curl, the
official SDKs) can be tested against them.

Anthropic Messages, POST /v1/messages on api.anthropic.com: JSON, or SSE when the body has
"stream": true (message_start with the input usage, content_block_start/delta/stop, ping,
message_delta with the cumulative output usage, message_stop); POST
/v1/messages/count_tokens ({"input_tokens": N}, the same N a call would report).

OpenAI on api.openai.com: Chat Completions, POST /v1/chat/completions (JSON; SSE chunks then
"data: [DONE]", with a last usage chunk when stream_options.include_usage), and Responses,
POST /v1/responses (JSON; SSE response.created / output_text.delta / response.completed).

Bedrock on bedrock-runtime.<region>.amazonaws.com: POST /model/{id}/invoke (an Anthropic body;
the x-amzn-bedrock-*-token-count headers), /invoke-with-response-stream (AWS event-stream:
prelude and message CRC32s, "chunk" events whose base64 "bytes" are Anthropic SSE events, the
last carrying amazon-bedrock-invocationMetrics), /converse (JSON usage) and /converse-stream
(event-stream messageStart, contentBlockDelta, contentBlockStop, messageStop, metadata),
/count-tokens (the input tokens the InvokeModel body or the Converse input inside would report;
foundation model ids only, as the real one). A request signed with AWS SigV4 (Authorization:
AWS4-HMAC-SHA256) is verified as AWS does it, against the keys in AWS_KEYS: the body's hash,
every signed header, the path encoded once more; a mismatch gets 403 InvalidSignatureException
(logged in ai.log as "bedrock-auth"). Unsigned requests (Bedrock API keys) are served.

What the fake answers is driven by the request, so tests know the exact usage to expect:
  input tokens  = len(body) // 10 + 7 (OpenAI: the prompt, cached included)
  output tokens = min(the request's output limit, X-Fake-Output-Tokens header, default 30)
  cached/cache-read input tokens = X-Fake-Cache-Read header (default 0)
  Anthropic cache_creation_input_tokens = X-Fake-Cache-Write header (default 0; 5-minute)
  OpenAI reasoning tokens = X-Fake-Reasoning header (default 0; part of the output)
X-Fake-Cut: N ends a streamed answer after N text deltas (no usage: cut short).
X-Fake-Delay-Ms: D waits D ms before each streamed delta (default 10).
X-Fake-Gzip: 1 gzips an Anthropic JSON answer when the request's Accept-Encoding allows it (or
is missing: then any coding is acceptable).
Each call is appended to ai.log as one JSON line: the API, the request's output limit, stream,
model, and the usage answered.

A request body containing FAKE-ERROR-<status> (e.g. in the prompt: real agent CLIs send no
custom headers) is answered that HTTP status with the provider's error object (Anthropic:
{"type":"error","error":{"type":...,"message":...},"request_id":...}; OpenAI: {"error":{"message",
"type","param","code"}}), its message "km: AI budget exhausted (fake error <status>)", and
x-should-retry: false; logged in ai.log as {"api": ..., "error": status}, without usage.
"""
import base64, binascii, gzip, hashlib, hmac, json, os, re, struct, time
from urllib.parse import quote

COUNTER = [0]


def _output(handler, limit):
    want = int(handler.headers.get("X-Fake-Output-Tokens", "30"))
    return min(want, limit) if isinstance(limit, int) else want


def _delay(handler):
    time.sleep(int(handler.headers.get("X-Fake-Delay-Ms", "10")) / 1000.0)


def _usage_for(handler, body, req):
    max_tokens = req.get("max_tokens")
    out = _output(handler, max_tokens)
    return {
        "input_tokens": len(body) // 10 + 7,
        "cache_creation_input_tokens": int(handler.headers.get("X-Fake-Cache-Write", "0")),
        "cache_read_input_tokens": int(handler.headers.get("X-Fake-Cache-Read", "0")),
        "output_tokens": out,
    }


def _key(handler):
    """The API key a call carried: x-api-key (Anthropic) or a Bearer token (OpenAI)."""
    if handler.headers.get("x-api-key"):
        return handler.headers["x-api-key"]
    auth = handler.headers.get("Authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else ""


def _log(logs, entry):
    with open(os.path.join(logs, "ai.log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


_FAKE_ERROR = re.compile(rb"FAKE-ERROR-([1-5][0-9][0-9])")
_ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                     403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                     429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
_OPENAI_ERRORS = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
                  403: ("insufficient_quota", "km_budget"), 404: ("invalid_request_error", "model_not_found"),
                  429: ("insufficient_quota", "insufficient_quota"), 500: ("server_error", None)}


def _fake_error(handler, body, logs, api):
    """Answers FAKE-ERROR-<status> in the body with that status and the provider's error
    object; False when the body has none."""
    m = _FAKE_ERROR.search(body)
    if m is None:
        return False
    status = int(m.group(1))
    message = "km: AI budget exhausted (fake error %d)" % status
    COUNTER[0] += 1
    rid = "req_fake%06d" % COUNTER[0]
    if api == "anthropic":
        err = {"type": "error", "error": {"type": _ANTHROPIC_ERRORS.get(status, "api_error"), "message": message},
               "request_id": rid}
        headers = [("request-id", rid), ("x-should-retry", "false")]
    else:
        kind, code = _OPENAI_ERRORS.get(status, ("invalid_request_error", None))
        err = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        headers = [("x-request-id", rid), ("x-should-retry", "false")]
    _log(logs, {"api": api, "error": status, "id": rid})
    handler.reply(status, json.dumps(err).encode(), "application/json", headers)
    return True


def anthropic_messages(handler, body, logs):
    """Answers one POST /v1/messages. `handler` is a BaseHTTPRequestHandler."""
    try:
        req = json.loads(body)
    except ValueError:
        err = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": "bad json"}})
        handler.reply(400, err.encode(), "application/json")
        return
    if _fake_error(handler, body, logs, "anthropic"):
        return
    COUNTER[0] += 1
    msg_id = "msg_fake%06d" % COUNTER[0]
    model = req.get("model", "claude-sonnet-4-5") + "-20250929"
    usage = _usage_for(handler, body, req)
    stop = "max_tokens" if usage["output_tokens"] == req.get("max_tokens") else "end_turn"
    _log(logs, {"id": msg_id, "key": _key(handler), "max_tokens": req.get("max_tokens"), "stream": bool(req.get("stream")),
                "model": model, "usage": usage,
                "thinking_budget": (req.get("thinking") or {}).get("budget_tokens")})
    if not req.get("stream"):
        answer = {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                  "content": [{"type": "text", "text": "word " * usage["output_tokens"]}],
                  "stop_reason": stop, "stop_sequence": None, "usage": usage}
        data = json.dumps(answer).encode()
        accepts = handler.headers.get("Accept-Encoding")
        if handler.headers.get("X-Fake-Gzip") and (accepts is None or "gzip" in accepts):
            data = gzip.compress(data)  # no Accept-Encoding: any coding is acceptable (RFC 9110)
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        handler.reply(200, data, "application/json")
        return
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("request-id", "req_fake%06d" % COUNTER[0])
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def event(name, data):
        chunk = ("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode()
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.flush()

    start_usage = dict(usage, output_tokens=1)
    event("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
    event("content_block_start", {"type": "content_block_start", "index": 0,
                                  "content_block": {"type": "text", "text": ""}})
    event("ping", {"type": "ping"})
    cut = int(handler.headers.get("X-Fake-Cut", "-1"))
    deltas = min(usage["output_tokens"], 5)
    for i in range(deltas):
        if i == cut:
            handler.close_connection = True
            return  # cut short: no message_delta, no terminating chunk
        event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": "word "}})
        _delay(handler)
    event("content_block_stop", {"type": "content_block_stop", "index": 0})
    event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                            "usage": {"output_tokens": usage["output_tokens"]}})
    event("message_stop", {"type": "message_stop"})
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


def _json_or_400(handler, body, shape):
    try:
        return json.loads(body)
    except ValueError:
        handler.reply(400, json.dumps(shape).encode(), "application/json")
        return None


def anthropic_count_tokens(handler, body, logs):
    """POST /v1/messages/count_tokens: the input tokens the same body would report."""
    req = _json_or_400(handler, body, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad json"}})
    if req is None:
        return
    n = len(body) // 10 + 7
    _log(logs, {"api": "count_tokens", "model": req.get("model"), "input_tokens": n})
    handler.reply(200, json.dumps({"input_tokens": n}).encode(), "application/json")


def _chunked_start(handler, ctype):
    handler.send_response(200)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def write(data):
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        handler.wfile.flush()
    return write


def _chunked_end(handler):
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


def _openai_request(handler, body, logs, limit_keys):
    """An OpenAI request: (request, output limit, output, reasoning, cached, prompt tokens),
    or None when it was answered (400, or FAKE-ERROR-<status>)."""
    req = _json_or_400(handler, body, {"error": {"message": "bad json", "type": "invalid_request_error"}})
    if req is None or _fake_error(handler, body, logs, "openai"):
        return None
    COUNTER[0] += 1
    limit = next((req[k] for k in limit_keys if k in req), None)
    out = _output(handler, limit)
    reasoning = min(int(handler.headers.get("X-Fake-Reasoning", "0")), out)
    cached = int(handler.headers.get("X-Fake-Cache-Read", "0"))
    return req, limit, out, reasoning, cached, len(body) // 10 + 7 + cached


def openai_chat(handler, body, logs):
    """POST /v1/chat/completions."""
    got = _openai_request(handler, body, logs, ("max_completion_tokens", "max_tokens"))
    if got is None:
        return
    req, limit, out, reasoning, cached, prompt = got
    cid = "chatcmpl-fake%06d" % COUNTER[0]
    model = req.get("model", "gpt-4o") + "-2024-08-06"
    usage = {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out,
             "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
             "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                           "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
    finish = "length" if out == limit else "stop"
    stream = bool(req.get("stream"))
    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
    _log(logs, {"api": "openai-chat", "id": cid, "key": _key(handler), "max_tokens": limit, "stream": stream, "model": model,
                "usage": usage, "include_usage": include_usage})
    created = int(time.time())
    if not stream:
        answer = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "word " * out, "refusal": None,
                                                       "annotations": []},
                               "logprobs": None, "finish_reason": finish}],
                  "usage": usage, "service_tier": "default", "system_fingerprint": "fp_fake"}
        handler.reply(200, json.dumps(answer).encode(), "application/json")
        return
    write = _chunked_start(handler, "text/event-stream; charset=utf-8")

    def chunk(choices, with_usage=None):
        c = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
             "system_fingerprint": "fp_fake", "choices": choices}
        if include_usage:
            c["usage"] = with_usage
        write(("data: %s\n\n" % json.dumps(c)).encode())

    chunk([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None}, "logprobs": None,
            "finish_reason": None}])
    cut = int(handler.headers.get("X-Fake-Cut", "-1"))
    for i in range(min(out, 5)):
        if i == cut:
            handler.close_connection = True
            return
        chunk([{"index": 0, "delta": {"content": "word "}, "logprobs": None, "finish_reason": None}])
        _delay(handler)
    chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}])
    if include_usage:
        chunk([], usage)
    write(b"data: [DONE]\n\n")
    _chunked_end(handler)


def openai_responses(handler, body, logs):
    """POST /v1/responses."""
    got = _openai_request(handler, body, logs, ("max_output_tokens",))
    if got is None:
        return
    req, limit, out, reasoning, cached, prompt = got
    rid = "resp_fake%06d" % COUNTER[0]
    model = req.get("model", "gpt-5") + "-2025-08-07"
    usage = {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached},
             "output_tokens": out, "output_tokens_details": {"reasoning_tokens": reasoning},
             "total_tokens": prompt + out}
    stream = bool(req.get("stream"))
    _log(logs, {"api": "openai-responses", "id": rid, "key": _key(handler), "max_tokens": limit, "stream": stream, "model": model,
                "usage": usage})
    text = "word " * (out - reasoning)
    msg = {"type": "message", "id": "msg_fake%06d" % COUNTER[0], "status": "completed", "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}
    created = int(time.time())

    def response(status, output, with_usage):
        return {"id": rid, "object": "response", "created_at": created, "status": status, "error": None,
                "incomplete_details": None, "instructions": None, "max_output_tokens": limit, "model": model,
                "output": output, "parallel_tool_calls": True, "temperature": 1.0, "tool_choice": "auto",
                "tools": [], "top_p": 1.0, "text": {"format": {"type": "text"}}, "truncation": "disabled",
                "usage": usage if with_usage else None, "metadata": {}}
    if not stream:
        handler.reply(200, json.dumps(response("completed", [msg], True)).encode(), "application/json")
        return
    write = _chunked_start(handler, "text/event-stream; charset=utf-8")
    seq = [0]

    def event(kind, data):
        data = dict(data, type=kind, sequence_number=seq[0])
        seq[0] += 1
        write(("event: %s\ndata: %s\n\n" % (kind, json.dumps(data))).encode())

    event("response.created", {"response": response("in_progress", [], False)})
    event("response.in_progress", {"response": response("in_progress", [], False)})
    item = dict(msg, status="in_progress", content=[])
    event("response.output_item.added", {"output_index": 0, "item": item})
    event("response.content_part.added", {"item_id": msg["id"], "output_index": 0, "content_index": 0,
                                          "part": {"type": "output_text", "text": "", "annotations": []}})
    cut = int(handler.headers.get("X-Fake-Cut", "-1"))
    for i in range(min(out, 5)):
        if i == cut:
            handler.close_connection = True
            return
        event("response.output_text.delta", {"item_id": msg["id"], "output_index": 0, "content_index": 0,
                                             "delta": "word ", "logprobs": []})
        _delay(handler)
    event("response.output_text.done", {"item_id": msg["id"], "output_index": 0, "content_index": 0,
                                        "text": text, "logprobs": []})
    event("response.content_part.done", {"item_id": msg["id"], "output_index": 0, "content_index": 0,
                                         "part": msg["content"][0]})
    event("response.output_item.done", {"output_index": 0, "item": msg})
    event("response.completed", {"response": response("completed", [msg], True)})
    _chunked_end(handler)


def event_stream_message(headers, payload):
    """One AWS event-stream message: prelude (total and headers lengths, CRC32), string
    headers, the payload and the message CRC32."""
    hb = b""
    for name, value in headers:
        n, v = name.encode(), value.encode()
        hb += struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + hb + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


# The AWS keys the fake Bedrock knows: the SDK test clients' and the operator's (tests write
# the latter into the operator config's ai.bedrock.credentialsFile).
AWS_KEYS = {"AKIAFAKEFAKEFAKEFAKE": "fake/secret", "AKIAKMOPERATOR": "km/operator/secret"}


def _sigv4_error(handler, path, body):
    """None for an unsigned request or a valid SigV4 signature; else (status, type, message)."""
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return None
    try:
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        key, day, region, service, terminator = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        given = parts["Signature"]
    except (KeyError, ValueError):
        return (400, "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders, Signature")
    secret = AWS_KEYS.get(key)
    if secret is None:
        return (403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    if "host" not in signed or "x-amz-date" not in signed:
        return (403, "InvalidSignatureException", "host and x-amz-date must be signed")
    payload = hashlib.sha256(body).hexdigest()
    claimed = handler.headers.get("X-Amz-Content-Sha256")
    if claimed is not None and claimed != payload:
        return (400, "ValidationException", "x-amz-content-sha256 does not match the body")
    canon_headers = ""
    for name in signed:
        values = handler.headers.get_all(name) or []
        canon_headers += name + ":" + ",".join(" ".join(v.split()) for v in values) + "\n"
    raw_path, _, query = path.partition("?")
    pairs = sorted(tuple(p.split("=", 1)) if "=" in p else (p, "") for p in query.split("&") if p)
    creq = "\n".join([handler.command, quote(raw_path, safe="/-_.~"), "&".join(k + "=" + v for k, v in pairs),
                      canon_headers, ";".join(signed), payload])
    scope = "/".join([day, region, service, terminator])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", handler.headers.get("X-Amz-Date", ""), scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, region, service, terminator):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    if hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest() != given:
        return (403, "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.")
    return None


def _converse_tokens(d):
    """A Converse request's input tokens: its input members, however the client spaced them."""
    taken = {k: d[k] for k in ("messages", "system", "toolConfig", "additionalModelRequestFields") if k in d}
    return len(json.dumps(taken, separators=(",", ":"), sort_keys=True)) // 10 + 7


def _bedrock_event(kind, payload):
    return event_stream_message([(":event-type", kind), (":content-type", "application/json"),
                                 (":message-type", "event")], json.dumps(payload).encode())


def bedrock(handler, path, body, logs):
    """POST /model/{id}/{invoke,invoke-with-response-stream,converse,converse-stream,count-tokens}.
    Answers 404 (Bedrock's shape) for anything else."""
    from urllib.parse import unquote
    parts = path.split("/")
    if len(parts) != 4 or parts[1] != "model":
        handler.reply(404, json.dumps({"message": "Unknown operation"}).encode(), "application/json")
        return
    model, op = unquote(parts[2]), parts[3]
    bad = _sigv4_error(handler, path, body)
    if bad is not None:
        status, kind, message = bad
        _log(logs, {"api": "bedrock-auth", "op": op, "error": kind})
        handler.reply(status, json.dumps({"message": message}).encode(), "application/json",
                      [("x-amzn-ErrorType", kind)])
        return
    req = _json_or_400(handler, body, {"message": "Malformed input request"})
    if req is None:
        return
    COUNTER[0] += 1
    rid = "fake-req-%06d" % COUNTER[0]
    n_in = _converse_tokens(req) if op.startswith("converse") else len(body) // 10 + 7
    if op == "count-tokens":
        inp = req.get("input") or {}
        if "." in model.split(".")[0] or model.split(".")[0] in ("us", "eu", "apac", "global", "jp", "au", "ca"):
            handler.reply(400, json.dumps({"message": "The provided model doesn't support counting tokens."}).encode(),
                          "application/json")
            return
        if "invokeModel" in inp:
            n_in = len(base64.b64decode(inp["invokeModel"]["body"])) // 10 + 7
        elif "converse" in inp:
            n_in = _converse_tokens(inp["converse"])
        else:
            handler.reply(400, json.dumps({"message": "input needs invokeModel or converse"}).encode(), "application/json")
            return
        _log(logs, {"api": "bedrock-count-tokens", "model": model, "input_tokens": n_in,
                    "signed_by": (handler.headers.get("Authorization", "").split("Credential=") + [""])[1].split("/")[0]})
        handler.reply(200, json.dumps({"inputTokens": n_in}).encode(), "application/json")
        return
    if op in ("invoke", "invoke-with-response-stream"):
        limit = req.get("max_tokens")
    else:
        limit = (req.get("inferenceConfig") or {}).get("maxTokens")
    out = _output(handler, limit)
    _log(logs, {"api": "bedrock-" + op, "id": rid, "max_tokens": limit, "stream": op.endswith("stream"),
                "model": model, "usage": {"input_tokens": n_in, "output_tokens": out}})
    stop = "max_tokens" if out == limit else "end_turn"
    if op == "invoke":
        answer = {"id": "msg_bdrk_%06d" % COUNTER[0], "type": "message", "role": "assistant", "model": model,
                  "content": [{"type": "text", "text": "word " * out}], "stop_reason": stop,
                  "stop_sequence": None, "usage": {"input_tokens": n_in, "output_tokens": out}}
        handler.reply(200, json.dumps(answer).encode(), "application/json",
                      [("x-amzn-RequestId", rid), ("X-Amzn-Bedrock-Input-Token-Count", str(n_in)),
                       ("X-Amzn-Bedrock-Output-Token-Count", str(out)), ("X-Amzn-Bedrock-Invocation-Latency", "42")])
        return
    if op == "converse":
        answer = {"output": {"message": {"role": "assistant", "content": [{"text": "word " * out}]}},
                  "stopReason": stop, "usage": {"inputTokens": n_in, "outputTokens": out, "totalTokens": n_in + out},
                  "metrics": {"latencyMs": 42}}
        handler.reply(200, json.dumps(answer).encode(), "application/json", [("x-amzn-RequestId", rid)])
        return
    if op not in ("invoke-with-response-stream", "converse-stream"):
        handler.reply(404, json.dumps({"message": "Unknown operation"}).encode(), "application/json")
        return
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.amazon.eventstream")
    handler.send_header("x-amzn-RequestId", rid)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def write(data):
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        handler.wfile.flush()
    cut = int(handler.headers.get("X-Fake-Cut", "-1"))
    deltas = min(out, 5)
    if op == "invoke-with-response-stream":
        def chunk(ev):
            write(_bedrock_event("chunk", {"bytes": base64.b64encode(json.dumps(ev).encode()).decode(), "p": "abcd"}))
        chunk({"type": "message_start", "message": {"id": "msg_bdrk_%06d" % COUNTER[0], "type": "message",
                                                    "role": "assistant", "model": model, "content": [],
                                                    "stop_reason": None, "stop_sequence": None,
                                                    "usage": {"input_tokens": n_in, "output_tokens": 1}}})
        chunk({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        for i in range(deltas):
            if i == cut:
                handler.close_connection = True
                return
            chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "word "}})
            _delay(handler)
        chunk({"type": "content_block_stop", "index": 0})
        chunk({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
               "usage": {"output_tokens": out}})
        chunk({"type": "message_stop", "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": n_in, "outputTokenCount": out, "invocationLatency": 42, "firstByteLatency": 7}})
    else:
        write(_bedrock_event("messageStart", {"role": "assistant", "p": "ab"}))
        for i in range(deltas):
            if i == cut:
                handler.close_connection = True
                return
            write(_bedrock_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "word "}, "p": "ab"}))
            _delay(handler)
        write(_bedrock_event("contentBlockStop", {"contentBlockIndex": 0, "p": "ab"}))
        write(_bedrock_event("messageStop", {"stopReason": stop, "p": "ab"}))
        write(_bedrock_event("metadata", {"usage": {"inputTokens": n_in, "outputTokens": out,
                                                    "totalTokens": n_in + out},
                                          "metrics": {"latencyMs": 42}, "p": "ab"}))
    _chunked_end(handler)
