#!/usr/bin/env python3
"""plankton's benchmark harness (`make bench`).

Starts the release binary offline on a temporary directory, loads 10,000
images with 8 properties each through the API, then measures with wrk
(keep-alive connections) and prints one table: requests/s, p50 and p99 latency
at concurrency 1, 16 and 64, each rate also as a ratio to the versions
document measured in the same run; then peak resident memory and the time from
start to first answer. `--large` instead registers a fresh 512 MiB file and
prints its time beside `md5sum` of the same file.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "bench-token"
USER = "bench"
PROPS = 8

REPORT_LUA = r'''
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "JSON{\"requests\":%d,\"duration_us\":%d,\"errors\":%d,\"non2xx\":%d,\"p50\":%d,\"p99\":%d}\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, workdir, port):
        self.binary, self.workdir, self.port = binary, workdir, port
        self.proc = None

    def env(self):
        env = dict(os.environ)
        env.update({
            "PLANKTON_LISTEN": f"127.0.0.1:{self.port}",
            "PLANKTON_DATABASE": os.path.join(self.workdir, "plankton.db"),
            "PLANKTON_IDENTITY__TOKEN_FILE": os.path.join(self.workdir, "tokens"),
            "PLANKTON_STORE__ROOT": os.path.join(self.workdir, "objects"),
            "RUST_LOG": os.environ.get("BENCH_RUST_LOG", "warn"),
        })
        return env

    def start(self):
        """Starts the server; returns seconds from spawn to the first answer."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([self.binary], env=self.env(),
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.workdir, "log"), "ab"))
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/")
                if c.getresponse().status == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            if self.proc.poll() is not None:
                sys.exit(f"plankton exited: see {self.workdir}/log")
            time.sleep(0.0005)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def peak_rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=60)


def make_objects(root, n):
    d = os.path.join(root, USER, "images")
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        with open(os.path.join(d, f"img-{i:05d}.raw"), "wb") as f:
            f.write(f"image {i}\n".encode() * 64)


def register_all(port, n, workers=16):
    """Registers img-00000 .. img-<n-1> with 8 properties each, keep-alive."""
    ids = [None] * n
    lock = threading.Lock()
    nxt = [0]

    def work():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            h = {
                "X-Auth-Token": TOKEN,
                "X-Image-Meta-Name": f"image-{i:05d}",
                "X-Image-Meta-Location": f"pithos://{USER}/images/img-{i:05d}.raw",
                "X-Image-Meta-Is-Public": "true" if i % 10 == 0 else "false",
            }
            for p in range(PROPS):
                h[f"X-Image-Meta-Property-Key{p}"] = f"value-{i % (p + 3)}"
            c.request("POST", "/images", headers=h)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                sys.exit(f"register {i}: {r.status}")
            ids[i] = r.getheader("x-image-meta-id")

    threads = [threading.Thread(target=work) for _ in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ids, time.perf_counter() - t0


def wrk(url, conns, seconds, lua_extra="", method="GET"):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.method = "{method}"\nwrk.headers["X-Auth-Token"] = "{TOKEN}"\n')
    script.write(lua_extra)
    script.write(REPORT_LUA)
    script.close()
    threads = max(1, min(conns, 2))
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", script.name, url],
        capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    line = next(l for l in out.splitlines() if l.startswith("JSON"))
    r = json.loads(line[4:])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def fmt_ms(us):
    return f"{us / 1000:.2f}"


def run(args):
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (make bench installs it: apt-get install wrk)")
    work = tempfile.mkdtemp(prefix="plankton-bench-")
    try:
        os.makedirs(os.path.join(work, "objects"))
        with open(os.path.join(work, "tokens"), "w") as f:
            f.write(f"{TOKEN} {USER}\n")
        os.chmod(os.path.join(work, "tokens"), 0o600)
        n = args.images
        make_objects(os.path.join(work, "objects"), n)
        port = free_port()
        server = Server(args.binary, work, port)
        start_empty = server.start()
        ids, load_s = register_all(port, n)
        server.stop()
        start_loaded = server.start()
        base = f"http://127.0.0.1:{port}"
        some_id = ids[n // 2]
        name = f"image-{n // 3:05d}"
        cases = [
            ("versions document (baseline)", f"{base}/", "", "GET"),
            ("HEAD /images/{id}", f"{base}/images/{some_id}", "", "HEAD"),
            ("GET /images/detail?limit=25", f"{base}/images/detail?limit=25", "", "GET"),
            (f"GET /images/detail (all {n})", f"{base}/images/detail", "", "GET"),
            ("GET /images?name=<one>", f"{base}/images?name={name}", "", "GET"),
            ("GET /images?property-key7=value-3", f"{base}/images?property-key7=value-3", "", "GET"),
        ]
        reg_lua = (
            f'local n = {n}\n'
            'request = function()\n'
            '  local i = math.random(0, n - 1)\n'
            '  local f = string.format("img-%05d.raw", i)\n'
            '  return wrk.format("POST", "/images", {["X-Image-Meta-Name"] = "re-" .. f,\n'
            f'    ["X-Auth-Token"] = "{TOKEN}",\n'
            f'    ["X-Image-Meta-Location"] = "pithos://{USER}/images/" .. f}})\n'
            'end\n'
        )
        results = {}
        rss_after = {}
        for label, url, lua, method in cases:
            for c in args.concurrency:
                results[(label, c)] = wrk(url, c, args.seconds, lua, method)
            rss_after[label] = server.rss_kib()
        for c in args.concurrency:
            results[("durable registrations", c)] = wrk(f"{base}/images", c, args.seconds, reg_lua, "POST")
        rss_after["durable registrations"] = server.rss_kib()
        peak = server.peak_rss_kib()
        server.stop()

        labels = [c[0] for c in cases] + ["durable registrations"]
        print()
        print(f"plankton benchmark: {n} images x {PROPS} properties, {os.cpu_count()} cores, "
              f"wrk keep-alive, {args.seconds}s per cell, RUST_LOG={server.env()['RUST_LOG']}")
        print()
        head = "| request | " + " | ".join(f"c={c} req/s (x base) | p50 ms | p99 ms" for c in args.concurrency)
        print(head + " | resident after, MiB |")
        print("|" + "---|" * (2 + 3 * len(args.concurrency)))
        for label in labels:
            cells = []
            for c in args.concurrency:
                r = results[(label, c)]
                b = results[(labels[0], c)]["rps"]
                bad = r["errors"] + r["non2xx"]
                note = f" ({bad} errors)" if bad else ""
                cells.append(f"{r['rps']:.0f} ({r['rps'] / b:.2f}){note} | {fmt_ms(r['p50'])} | {fmt_ms(r['p99'])}")
            print(f"| {label} | " + " | ".join(cells) + f" | {rss_after[label] / 1024:.1f} |")
        print()
        print(f"| loading {n} images through the API (16 clients) | {load_s:.1f} s ({n / load_s:.0f}/s) |")
        print(f"| peak resident memory after the run ({n} images) | {peak / 1024:.1f} MiB |")
        print(f"| start to first answer, empty database | {start_empty * 1000:.1f} ms |")
        print(f"| start to first answer, {n} images | {start_loaded * 1000:.1f} ms |")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def run_soak(args):
    """Mixed load at concurrency 64 for --soak seconds: reads, re-registrations,
    updates and member changes; zero errors and a flat resident set expected."""
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")
    work = tempfile.mkdtemp(prefix="plankton-soak-")
    try:
        os.makedirs(os.path.join(work, "objects"))
        with open(os.path.join(work, "tokens"), "w") as f:
            f.write(f"{TOKEN} {USER}\n")
        os.chmod(os.path.join(work, "tokens"), 0o600)
        n = min(args.images, 2000)
        make_objects(os.path.join(work, "objects"), n)
        port = free_port()
        server = Server(args.binary, work, port)
        server.start()
        ids, _ = register_all(port, n)
        lua_ids = "local ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
        mix = lua_ids + f"local n = {n}\n" + r'''
local tok = "TOKEN"
counter = 0
request = function()
  counter = counter + 1
  local i = math.random(1, n)
  local id = ids[i]
  local r = counter % 10
  local h = {["X-Auth-Token"] = tok}
  if r == 0 then
    h["X-Image-Meta-Name"] = "soak-" .. counter
    h["X-Image-Meta-Location"] = string.format("pithos://USER/images/img-%05d.raw", i - 1)
    return wrk.format("POST", "/images", h)
  elseif r == 1 then
    h["X-Image-Meta-Property-Soak"] = tostring(counter)
    return wrk.format("PUT", "/images/" .. id, h)
  elseif r == 2 then
    return wrk.format("PUT", "/images/" .. id .. "/members/friend" .. (counter % 7), h)
  elseif r == 3 then
    return wrk.format("DELETE", "/images/" .. id .. "/members/friend" .. (counter % 7), h)
  elseif r == 4 then
    return wrk.format("GET", "/images/" .. id .. "/members", h)
  elseif r == 5 then
    return wrk.format("GET", "/images/detail?limit=25&sort_key=name&marker=" .. id, h)
  elseif r == 6 then
    return wrk.format("GET", "/v1/images?property-key3=value-1&limit=50", h)
  elseif r == 7 then
    h["Range"] = "bytes=0-99"
    return wrk.format("GET", "/images/" .. id, h)
  else
    return wrk.format("HEAD", "/images/" .. id, h)
  end
end
'''.replace("TOKEN", TOKEN).replace("USER", USER)
        samples = []
        stop = threading.Event()

        def sample():
            t0 = time.perf_counter()
            while not stop.wait(10):
                with open(f"/proc/{server.proc.pid}/status") as f:
                    rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
                samples.append((time.perf_counter() - t0, rss))
                print(f"  {samples[-1][0]:6.0f} s  resident {rss / 1024:6.1f} MiB", flush=True)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        r = wrk(f"http://127.0.0.1:{port}/images", 64, args.soak, mix)
        stop.set()
        server.stop()
        bad = r["errors"] + r["non2xx"]
        print()
        print(f"| soak: mixed load, c=64, {args.soak} s | {r['requests']} requests, {r['rps']:.0f}/s,"
              f" p50 {fmt_ms(r['p50'])} ms, p99 {fmt_ms(r['p99'])} ms | errors {bad} |")
        if len(samples) >= 3:
            first = samples[len(samples) // 5][1]
            last = samples[-1][1]
            print(f"| resident memory: {first / 1024:.1f} MiB after warm-up, {last / 1024:.1f} MiB at the end,"
                  f" peak {max(s[1] for s in samples) / 1024:.1f} MiB |")
        print(f"soak: {1 if bad == 0 else 0} passed, {0 if bad == 0 else 1} failed")
        if bad:
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_large(args):
    work = tempfile.mkdtemp(prefix="plankton-bench-large-")
    try:
        obj = os.path.join(work, "objects", USER, "images")
        os.makedirs(obj)
        with open(os.path.join(work, "tokens"), "w") as f:
            f.write(f"{TOKEN} {USER}\n")
        os.chmod(os.path.join(work, "tokens"), 0o600)
        path = os.path.join(obj, "large.raw")
        size = args.large_mib << 20
        rnd = random.Random(42)
        with open(path, "wb") as f:
            block = bytes(rnd.getrandbits(8) for _ in range(1 << 16))
            for i in range(size // len(block)):
                f.write(block[i % 251:] + block[:i % 251])
        # Both read from the page cache: read the file once first.
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
        t0 = time.perf_counter()
        md5 = subprocess.run(["md5sum", path], capture_output=True, text=True, check=True).stdout.split()[0]
        md5_s = time.perf_counter() - t0
        port = free_port()
        server = Server(args.binary, work, port)
        server.start()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t0 = time.perf_counter()
        c.request("POST", "/v1/images", headers={
            "X-Auth-Token": TOKEN, "X-Image-Meta-Name": "large",
            "X-Image-Meta-Location": f"pithos://{USER}/images/large.raw"})
        r = c.getresponse()
        r.read()
        reg_s = time.perf_counter() - t0
        server.stop()
        ok = r.status == 200 and r.getheader("x-image-meta-checksum") == md5
        print()
        print(f"| registering a fresh {args.large_mib} MiB file (MD5 and Pithos hash, one read) | {reg_s:.2f} s |"
              f" {'' if ok else ' (WRONG ANSWER)'}")
        print(f"| md5sum of the same file | {md5_s:.2f} s |")
        print(f"| ratio (registration / md5sum) | {reg_s / md5_s:.2f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", default="target/release/plankton")
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64])
    p.add_argument("--large", action="store_true", help="only the 512 MiB registration against md5sum")
    p.add_argument("--large-mib", type=int, default=512)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                   help="only a soak: mixed load at c=64 for SECONDS")
    args = p.parse_args()
    if args.soak:
        run_soak(args)
    elif args.large:
        run_large(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
