"""Fake AI provider endpoints for the fake internet's web server (fake_web.py), speaking the
providers' documented wire formats so that km's metering proxy and real clients (curl, the
official SDKs) can be tested against them.

Anthropic Messages, POST /v1/messages on api.anthropic.com: JSON, or SSE when the body has
"stream": true (message_start with the input usage, content_block_start/delta/stop, ping,
message_delta with the cumulative output usage, message_stop).

What the fake answers is driven by the request, so tests know the exact usage to expect:
  input_tokens  = len(body) // 10 + 7
  output_tokens = min(max_tokens, X-Fake-Output-Tokens header, default 30)
  cache_read_input_tokens = X-Fake-Cache-Read header (default 0)
  cache_creation_input_tokens = X-Fake-Cache-Write header (default 0; 5-minute writes)
X-Fake-Cut: N ends a streamed answer after N text deltas (no message_delta: cut short).
Each call is appended to ai.log as one JSON line: the request's max_tokens, stream, model,
and the usage answered.
"""
import json, os, time

COUNTER = [0]


def _usage_for(handler, body, req):
    max_tokens = req.get("max_tokens")
    want = int(handler.headers.get("X-Fake-Output-Tokens", "30"))
    out = min(want, max_tokens) if isinstance(max_tokens, int) else want
    return {
        "input_tokens": len(body) // 10 + 7,
        "cache_creation_input_tokens": int(handler.headers.get("X-Fake-Cache-Write", "0")),
        "cache_read_input_tokens": int(handler.headers.get("X-Fake-Cache-Read", "0")),
        "output_tokens": out,
    }


def _log(logs, entry):
    with open(os.path.join(logs, "ai.log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def anthropic_messages(handler, body, logs):
    """Answers one POST /v1/messages. `handler` is a BaseHTTPRequestHandler."""
    try:
        req = json.loads(body)
    except ValueError:
        err = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": "bad json"}})
        handler.reply(400, err.encode(), "application/json")
        return
    COUNTER[0] += 1
    msg_id = "msg_fake%06d" % COUNTER[0]
    model = req.get("model", "claude-sonnet-4-5") + "-20250929"
    usage = _usage_for(handler, body, req)
    stop = "max_tokens" if usage["output_tokens"] == req.get("max_tokens") else "end_turn"
    _log(logs, {"id": msg_id, "max_tokens": req.get("max_tokens"), "stream": bool(req.get("stream")),
                "model": model, "usage": usage,
                "thinking_budget": (req.get("thinking") or {}).get("budget_tokens")})
    if not req.get("stream"):
        answer = {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                  "content": [{"type": "text", "text": "word " * usage["output_tokens"]}],
                  "stop_reason": stop, "stop_sequence": None, "usage": usage}
        handler.reply(200, json.dumps(answer).encode(), "application/json")
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
        time.sleep(0.01)
    event("content_block_stop", {"type": "content_block_stop", "index": 0})
    event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                            "usage": {"output_tokens": usage["output_tokens"]}})
    event("message_stop", {"type": "message_stop"})
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()
