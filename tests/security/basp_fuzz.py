#!/usr/bin/env python3
"""Throws random and mutated BASP frames at a plaintext node on loopback.

First it records real traffic: every client command (and a second node joining) goes to the node
through a recording proxy, so that the frames are well-formed messages of the types the node
really receives. Then it opens connections to the node, completes BASP's handshake as a fresh
CAF node each time, and sends FRAMES frames: random bytes, recorded messages with bytes flipped,
counts and lengths set huge, payloads cut or extended, headers announcing huge payloads. It
prints the node's peak RSS and what it sent. Used by tests/integration/security_test.cpp:

  basp_fuzz.py --port P --pid PID --agent BIN --dir D [--frames N] [--seed S]
"""
import argparse
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time

HEADER = struct.Struct(">BBBBIQQQ")  # operation, 2 pad bytes, flags, payload length, data, source, dest


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def frames_of(stream):
    """Splits a recorded byte stream into (header tuple, payload) frames."""
    out, at = [], 0
    while at + HEADER.size <= len(stream):
        h = HEADER.unpack_from(stream, at)
        end = at + HEADER.size + h[4]
        if end > len(stream):
            break
        out.append((h, bytes(stream[at + HEADER.size:end])))
        at = end
    return out


class Recorder:
    """A TCP proxy to the node that keeps what clients send, one stream per connection."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.streams = []
        self.lock = threading.Lock()
        self.open = True
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while self.open:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            stream = bytearray()
            with self.lock:
                self.streams.append(stream)
            threading.Thread(target=self.pump, args=(client, server, stream), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, None), daemon=True).start()

    @staticmethod
    def pump(src, dst, keep):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if keep is not None:
                    keep.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.open = False
        self.listener.close()


def record(args):
    """Real traffic of every kind of request, through the proxy."""
    rec = Recorder(args.port)
    peer = f"127.0.0.1:{rec.port}"
    d = args.dir
    rows = [{"id": f"r{i}", "vector": [random.random() for _ in range(args.dim)],
             "metadata": {"lang": "en" if i % 2 else "de", "year": 2000 + i}} for i in range(40)]
    with open(f"{d}/rows.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    with open(f"{d}/queries.jsonl", "w") as f:
        f.writelines(json.dumps({"vector": r["vector"]}) + "\n" for r in rows[:3])
    with open(f"{d}/docs.jsonl", "w") as f:
        for i in range(5):
            f.write(json.dumps({"id": f"doc{i}", "text": "peers gossip about vectors and shards " * (i + 3)}) + "\n")
    # A second node joins through the proxy: join, gossip and sync messages are recorded too.
    cfg2 = {"node": {"id": "node-2", "port": 0, "data_dir": f"{d}/node-2"},
            "cluster": {"bootstrap": [peer], "gossip_interval_ms": 200},
            "vectors": {"dim": args.dim}}
    with open(f"{d}/node-2.json", "w") as f:
        json.dump(cfg2, f)
    node2 = subprocess.Popen([args.agent, "node", "--config", f"{d}/node-2.json"], cwd=d,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    commands = [
        ["status", "--json"], ["peers"],
        ["collection", "create", "fz", "--dim", str(args.dim), "--metric", "l2"], ["collection", "list"],
        ["put", "--input", f"{d}/rows.jsonl"], ["put", "--input", f"{d}/rows.jsonl", "--collection", "fz"],
        ["search", "--input", f"{d}/queries.jsonl", "--k", "5", "--with-payload"],
        ["search", "--input", f"{d}/queries.jsonl", "--k", "5", "--filter", "lang=en", "--exact"],
        ["get", "r3"], ["delete", "r4"],
        ["send", "--to", "node-1/echo", "--message", "hello"],
        ["process", "--input", f"{d}/docs.jsonl"], ["ingest", "--input", f"{d}/docs.jsonl"],
        ["search", "--text", "gossip about shards", "--k", "3"],
    ]
    deadline = time.time() + 20
    while time.time() < deadline:  # node-2 joined when node-1 lists two members
        out = subprocess.run([args.agent, "peers", "--peer", f"127.0.0.1:{args.port}", "--json"], cwd=d,
                             capture_output=True, timeout=30).stdout.decode(errors="replace")
        if out.count("node-2") and out.count('"alive"') >= 2:
            break
        time.sleep(0.2)
    for c in commands:
        subprocess.run([args.agent] + c + ["--peer", peer, "--timeout", "10"], cwd=d, capture_output=True,
                       timeout=60)
    node2.terminate()
    node2.wait(30)
    deadline = time.time() + 20
    while time.time() < deadline:  # forget is refused until node-1 sees node-2 down
        forget = subprocess.run([args.agent, "forget", "--id", "node-2", "--peer", peer, "--timeout", "10"], cwd=d,
                                capture_output=True, timeout=60)
        if forget.returncode == 0:
            break
        time.sleep(0.2)
    time.sleep(0.3)
    rec.close()
    with rec.lock:
        streams = [bytes(s) for s in rec.streams]
    handshakes, messages = [], []
    for s in streams:
        fs = frames_of(s)
        if fs and fs[0][0][0] == 1:
            handshakes.append(fs[0])
            messages.extend(f for f in fs[1:])
    return handshakes, messages


def pack(h, payload):
    return HEADER.pack(h[0], h[1], h[2], h[3], len(payload), h[5], h[6], h[7]) + payload


# Every type a message may name: CAF 0.17's builtin ones and the node's (protocol/messages.cpp).
TYPE_NAMES = ("@actor @actorvec @addr @addrvec @atom @charbuf @config_value @down @downstream_msg @duration @error "
              "@exit @group @group_down @i16 @i32 @i64 @i8 @ldouble @message @message_id @node @open_stream_msg @str "
              "@strmap @strong_actor_ptr @strset @strvec @timeout @timespan @timestamp @u16 @u16_str @u32 @u32_str @u64 "
              "@u8 @unit @upstream_msg @weak_actor_ptr vector_batch id_versions versioned_rows collection_spec "
              "std::vector<collection_spec> search_request search_result vector_record collection_info "
              "std::map<std::string,std::vector<uint64_t>> std::vector<collection_info> node_status latency_histogram "
              "task_metrics node_metrics document_batch ingest_result text_search_request task_submission "
              "task_outcomes std::vector<uint64_t> member_info std::vector<member_info>").split()


def varbyte(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def forge(rng, p):
    """A recorded message whose content is replaced by values of 1-3 registered types: random
    bytes, or sizes of 2^32-1 up to 2^62 where a count or length goes."""
    at = p.find(b"@<>+")
    if at < 1:
        return None
    k = 1 if p[at - 1] < 0x80 else 2
    name = "@<>+" + "+".join(rng.choice(TYPE_NAMES) for _ in range(rng.randrange(1, 4)))
    body = bytearray()
    for _ in range(rng.randrange(1, 6)):
        body += rng.choice([varbyte(rng.choice([2**32 - 1, 2**40, 2**62, 10**9])), os.urandom(rng.randrange(0, 64)),
                            b"\xff" * rng.randrange(1, 16), b"\x00" * rng.randrange(1, 16)])
    return p[:at - k] + varbyte(len(name)) + name.encode() + bytes(body)


def mutate(rng, frame):
    """One frame to send, and the name of what was done to it."""
    h, p = frame
    kind = rng.choice(["random", "flip", "huge-count", "varbyte", "cut", "extend", "retarget", "as-is",
                       "big-header", "type", "forged", "forged", "empty"])
    p = bytearray(p)
    if kind == "random":
        body = os.urandom(rng.randrange(0, 2048))
        return HEADER.pack(rng.randrange(256), 0, 0, rng.randrange(256), len(body), rng.getrandbits(64),
                           rng.getrandbits(64), rng.getrandbits(64)) + body, kind
    if kind == "flip" and p:
        for _ in range(rng.randrange(1, 9)):
            p[rng.randrange(len(p))] = rng.randrange(256)
    elif kind == "huge-count" and len(p) >= 8:
        at = rng.randrange(len(p) - 7)
        p[at:at + 8] = rng.choice([b"\xff" * 8, b"\x7f\xff\xff\xff\xff\xff\xff\xff", b"\x00\x00\x00\x00\x40\x00\x00\x00",
                                   b"\x40\x00\x00\x00\x00\x00\x00\x00"])
    elif kind == "varbyte" and len(p) >= 5:
        at = rng.randrange(len(p) - 4)
        p[at:at + 5] = b"\xff\xff\xff\xff\x0f"  # a sequence or string size of 2^32-1
    elif kind == "cut" and p:
        p = p[:rng.randrange(len(p))]
    elif kind == "extend":
        p += os.urandom(rng.randrange(1, 512))
    elif kind == "retarget":
        h = h[:7] + (rng.randrange(1, 64),)
    elif kind == "big-header":
        # Announces up to 255 MiB (under the limit) and sends a little of it: memory must follow
        # what was sent, not what was announced.
        length = rng.randrange(1 << 20, 255 << 20)
        return HEADER.pack(h[0], 0, 0, h[3], length, h[5], h[6], h[7]) + os.urandom(rng.randrange(0, 4096)), kind
    elif kind == "forged":
        forged = forge(rng, bytes(p))
        if forged is None:
            kind = "as-is"
        else:
            p = bytearray(forged)
    elif kind == "empty":  # no payload where one is needed
        h, p = (rng.randrange(0, 6),) + h[1:], bytearray()
    elif kind == "type":
        h = (rng.choice([0, 1, 3, 4, 5, 6, 7, 200]),) + h[1:]
    return pack(h, bytes(p)), kind


def drain(sock):
    """Reads what the node sent so that its buffers never fill; False once it closed."""
    try:
        while select.select([sock], [], [], 0)[0]:
            if not sock.recv(1 << 16):
                return False
    except OSError:
        return False
    return True


def read_frame(sock, timeout=5.0):
    data = b""
    end = time.time() + timeout
    while time.time() < end:
        if len(data) >= HEADER.size:
            need = HEADER.size + HEADER.unpack_from(data)[4]
            if len(data) >= need:
                return data[:need]
        r = select.select([sock], [], [], 0.1)[0]
        if r:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    raise RuntimeError("no server handshake from the node")


def fuzz(args, handshakes, messages):
    rng = random.Random(args.seed)
    sent, kinds, connections, peak = 0, {}, 0, rss_kb(args.pid)
    while sent < args.frames:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
        connections += 1
        try:
            read_frame(sock)
            h, node = rng.choice(handshakes)
            node = bytearray(node)
            node[-20:] = os.urandom(20)  # a fresh CAF node id: process id and host id
            sock.sendall(pack(h, bytes(node)))
            for _ in range(rng.randrange(1, 60)):
                frame, kind = mutate(rng, rng.choice(messages))
                sock.sendall(frame)
                sent += 1
                kinds[kind] = kinds.get(kind, 0) + 1
                if not drain(sock) or sent >= args.frames:
                    break
        except OSError:
            pass
        finally:
            sock.close()
        if connections % 20 == 0:
            peak = max(peak, rss_kb(args.pid))
    time.sleep(0.5)
    peak = max(peak, rss_kb(args.pid))
    return sent, connections, kinds, peak


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    before = rss_kb(args.pid)
    handshakes, messages = record(args)
    if not handshakes or not messages:
        sys.exit(f"recorded nothing usable: {len(handshakes)} handshakes, {len(messages)} messages")
    types = sorted({m[0][0] for m in messages})
    print(f"recorded {len(handshakes)} connections, {len(messages)} messages (BASP operations {types})")
    sent, connections, kinds, peak = fuzz(args, handshakes, messages)
    print(f"sent {sent} frames over {connections} connections: "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print(f"rss_kb before {before} peak {peak}")


if __name__ == "__main__":
    main()
