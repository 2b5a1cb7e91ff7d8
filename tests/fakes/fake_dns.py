#!/usr/bin/env python3
"""A fake authoritative DNS server for tests: answers A/AAAA queries from a zone given on
the command line, NXDOMAIN for other names, over UDP and TCP, on the wire format of RFC 1035.

Usage: fake_dns.py LISTEN_IP PORT NAME=IP[,IP...][@TTL] ... [--ttl N] [--log FILE]
  NAME=IP      the name's A (and AAAA, for IPv6 addresses) records; '*.' prefix = any subname;
               @TTL gives this name its own TTL (default --ttl, 60)
It prints "ready" on stdout once both sockets listen, and logs every query it receives
("udp|tcp NAME TYPE") to --log, so a test can tell which queries leaked to it. Over TCP it
answers one query per connection and closes right after the answer.
"""
import socket
import struct
import sys
import threading
import ipaddress


def parse_args(argv):
    ip, port = argv[0], int(argv[1])
    zone, ttl, log = {}, 60, None
    rest = argv[2:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--ttl":
            ttl = int(rest[i + 1]); i += 2; continue
        if a == "--log":
            log = rest[i + 1]; i += 2; continue
        name, ips = a.split("=", 1)
        own_ttl = None
        if "@" in ips:
            ips, own_ttl = ips.split("@", 1)
            own_ttl = int(own_ttl)
        zone[name.lower().rstrip(".")] = ([ipaddress.ip_address(x) for x in ips.split(",") if x], own_ttl)
        i += 1
    return ip, port, zone, ttl, log


def read_name(msg, pos):
    labels = []
    while True:
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            ptr = ((n & 0x3F) << 8) | msg[pos + 1]
            name, _ = read_name(msg, ptr)
            return ".".join(labels + ([name] if name else [])), pos + 2
        pos += 1
        if n == 0:
            return ".".join(labels), pos
        labels.append(msg[pos:pos + n].decode("latin-1"))
        pos += n


def lookup(zone, name):
    if name in zone:
        return zone[name]
    parts = name.split(".")
    for i in range(1, len(parts)):
        wild = "*." + ".".join(parts[i:])
        if wild in zone:
            return zone[wild]
    return None


def answer(msg, zone, ttl, log, transport):
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack(">HHH", msg[:6])
    if qd != 1:
        return struct.pack(">HHHHHH", qid, 0x8181, 0, 0, 0, 0)
    name, pos = read_name(msg, 12)
    qtype, qclass = struct.unpack(">HH", msg[pos:pos + 4])
    question = msg[12:pos + 4]
    if log:
        with open(log, "a") as f:
            f.write(f"{transport} {name.lower()} {qtype}\n")
    entry = lookup(zone, name.lower().rstrip("."))
    addrs, own_ttl = entry if entry is not None else (None, None)
    if own_ttl is not None:
        ttl = own_ttl
    rcode = 0 if addrs is not None else 3
    records = b""
    count = 0
    for a in addrs or []:
        if qtype == 1 and a.version == 4:
            records += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, ttl, 4) + a.packed
            count += 1
        elif qtype == 28 and a.version == 6:
            records += b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, ttl, 16) + a.packed
            count += 1
    hdr = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | 0x0400 | rcode, 1, count, 0, 0)
    return hdr + question + records


def serve_udp(sock, zone, ttl, log):
    while True:
        msg, peer = sock.recvfrom(65535)
        out = answer(msg, zone, ttl, log, "udp")
        if out:
            sock.sendto(out, peer)


def serve_tcp_conn(conn, zone, ttl, log):
    with conn:
        while True:
            head = conn.recv(2)
            if len(head) < 2:
                return
            n = struct.unpack(">H", head)[0]
            msg = b""
            while len(msg) < n:
                chunk = conn.recv(n - len(msg))
                if not chunk:
                    return
                msg += chunk
            out = answer(msg, zone, ttl, log, "tcp")
            if out:
                # As many servers do: the answer, then the end of the stream at once. With
                # TCP_CORK the last data and the FIN leave in one segment, so the client
                # reads the answer and the end together (a client must still use the answer).
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                conn.sendall(struct.pack(">H", len(out)) + out)
                return


def main():
    ip, port, zone, ttl, log = parse_args(sys.argv[1:])
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.bind((ip, port))
    tcp = socket.socket(family, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((ip, port))
    tcp.listen(16)
    threading.Thread(target=serve_udp, args=(udp, zone, ttl, log), daemon=True).start()
    print("ready", flush=True)
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, zone, ttl, log), daemon=True).start()


if __name__ == "__main__":
    main()
