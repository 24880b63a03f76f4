#!/usr/bin/env python3
"""plankton's benchmark harness (`make bench`).

Starts the release binary offline on a temporary directory, loads 10,000
images with 8 properties each through the API, then measures with wrk
(keep-alive connections) and prints one table: requests/s, p50 and p99 latency
at concurrency 1, 16 and 64, each rate also as a ratio to the versions
document measured in the same run; then peak resident memory and the time from
start to first answer. Before plankton's rows it builds and measures the
reference limit (issue 13): a bare actix-web server (bench/reference/)
answering a fixed body the size of the versions document, with wrk at c=16
like plankton's rows; each row's c=16 rate is also shown as a share of it.
The 1-minute load average is taken before every cell (the machine may be
shared). `--large` instead registers a fresh 512 MiB file and
prints its time beside `md5sum` of the same file. `--upload` instead uploads a
1 GiB file with curl (`POST /v1/images`) and with kamaki 0.16 (`file upload`,
the object store's hashmap protocol), one and eight at once, each row on a
fresh server, and prints wall time, rate and the server's resident growth
beside `md5sum` + `sha256sum` of the same file. Its last row measures
`HEAD /images/{id}` with wrk at c=16 on the idle server and again while eight
curl uploads run.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE_DIR = os.path.join(ROOT, "bench", "reference")
REFERENCE_TARGET = os.path.join(ROOT, "target", "bench-reference")
REFERENCE_BIN = os.path.join(REFERENCE_TARGET, "release", "plankton-bench-reference")
REFERENCE_C = 16
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
    load = os.getloadavg()[0]
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", script.name, url],
        capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    line = next(l for l in out.splitlines() if l.startswith("JSON"))
    r = json.loads(line[4:])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["load"] = load
    return r


def build_reference():
    """Builds bench/reference (its own package and lock file) into its own
    target directory; returns (the binary, seconds the build took)."""
    t0 = time.perf_counter()
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet",
                    "--manifest-path", os.path.join(REFERENCE_DIR, "Cargo.toml")],
                   env=dict(os.environ, CARGO_TARGET_DIR=REFERENCE_TARGET), check=True)
    return REFERENCE_BIN, time.perf_counter() - t0


def measure_reference(binary, seconds):
    """Starts the reference server on a free port, measures `GET /` with wrk at
    c=16 as plankton's rows are measured, stops it; returns wrk's figures and
    the body's size."""
    port = free_port()
    proc = subprocess.Popen([binary, f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/")
                r = c.getresponse()
                body = r.read()
                if r.status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                sys.exit(f"the reference server exited ({proc.returncode})")
            time.sleep(0.005)
        r = wrk(f"http://127.0.0.1:{port}/", REFERENCE_C, seconds)
        r["body"] = len(body)
        return r
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def fmt_share(x):
    """A share as a percentage, with the digits that small shares need."""
    p = 100 * x
    return f"{p:.0f} %" if p >= 10 else f"{p:.1f} %" if p >= 1 else f"{p:.2f} %"


def fmt_ms(us):
    return f"{us / 1000:.2f}"


def run(args):
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (make bench installs it: apt-get install wrk)")
    t_start = time.perf_counter()
    ref_bin, ref_build_s = None, None
    if args.reference_binary:
        ref_bin = args.reference_binary
    elif not args.no_reference:
        print("  building the reference (bench/reference) ...", file=sys.stderr, flush=True)
        ref_bin, ref_build_s = build_reference()
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
        ref = None
        if ref_bin:
            # Plankton is up but idle meanwhile.
            ref = measure_reference(ref_bin, args.seconds)
        for label, url, lua, method in cases:
            for c in args.concurrency:
                results[(label, c)] = wrk(url, c, args.seconds, lua, method)
            rss_after[label] = server.rss_kib()
        for c in args.concurrency:
            results[("durable registrations", c)] = wrk(f"{base}/images", c, args.seconds, reg_lua, "POST")
        rss_after["durable registrations"] = server.rss_kib()
        peak = server.peak_rss_kib()
        server.stop()

        total_s = time.perf_counter() - t_start

        labels = [c[0] for c in cases] + ["durable registrations"]
        share = ref is not None and REFERENCE_C in args.concurrency
        print()
        print(f"plankton benchmark: {n} images x {PROPS} properties, {os.cpu_count()} cores, "
              f"wrk keep-alive, {args.seconds}s per cell, RUST_LOG={server.env()['RUST_LOG']}")
        print()
        head = "| request | " + " | ".join(f"c={c} req/s (x base) | p50 ms | p99 ms" for c in args.concurrency)
        if share:
            head += f" | c={REFERENCE_C} share of reference"
        loads = "/".join(str(c) for c in args.concurrency)
        print(head + f" | resident after, MiB | load avg before c={loads} |")
        print("|" + "---|" * (3 + 3 * len(args.concurrency) + share))
        if ref is not None:
            cells = []
            for c in args.concurrency:
                if c == REFERENCE_C:
                    bad = ref["errors"] + ref["non2xx"]
                    note = f" ({bad} errors)" if bad else ""
                    cells.append(f"{ref['rps']:.0f}{note} | {fmt_ms(ref['p50'])} | {fmt_ms(ref['p99'])}")
                else:
                    cells.append("- | - | -")
            load = "/".join(f"{ref['load']:.1f}" if c == REFERENCE_C else "-" for c in args.concurrency)
            print(f"| reference: bare actix-web, fixed {ref['body']}-byte body (c={REFERENCE_C} only) | "
                  + " | ".join(cells) + (" | 100 %" if share else "") + f" | - | {load} |")
        for label in labels:
            cells = []
            for c in args.concurrency:
                r = results[(label, c)]
                b = results[(labels[0], c)]["rps"]
                bad = r["errors"] + r["non2xx"]
                note = f" ({bad} errors)" if bad else ""
                cells.append(f"{r['rps']:.0f} ({r['rps'] / b:.2f}){note} | {fmt_ms(r['p50'])} | {fmt_ms(r['p99'])}")
            if share:
                cells.append(fmt_share(results[(label, REFERENCE_C)]["rps"] / ref["rps"]))
            load = "/".join(f"{results[(label, c)]['load']:.1f}" for c in args.concurrency)
            print(f"| {label} | " + " | ".join(cells) + f" | {rss_after[label] / 1024:.1f} | {load} |")
        print()
        print(f"| loading {n} images through the API (16 clients) | {load_s:.1f} s ({n / load_s:.0f}/s) |")
        print(f"| peak resident memory after the run ({n} images) | {peak / 1024:.1f} MiB |")
        print(f"| start to first answer, empty database | {start_empty * 1000:.1f} ms |")
        print(f"| start to first answer, {n} images | {start_loaded * 1000:.1f} ms |")
        print()
        build = f"building the reference {ref_build_s:.1f} s; " if ref_build_s is not None else ""
        print(f"{build}the whole mode {total_s:.0f} s (not counting plankton's own build)")
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


MIB = 1 << 20
GIB = 1 << 30
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User plus system CPU seconds of a live process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds in a thread."""

    def __init__(self, server, interval=0.05):
        self.server, self.interval = server, interval
        self.samples = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while True:
            try:
                self.samples.append(self.server.rss_kib())
            except OSError:
                return
            if self.stop.wait(self.interval):
                return

    def __enter__(self):
        self.before = self.server.rss_kib()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.samples.append(self.server.rss_kib())
        self.peak = max(self.samples)


def run_clients(argvs, env=None, logdir=None, during=None):
    """Starts every argv at once; returns (wall seconds of the whole, one
    (seconds, exit status, CPU seconds, max resident KiB) per client).
    `during(procs)`, if given, is called once all are started."""
    procs, done = [], []
    t0 = time.perf_counter()
    for i, argv in enumerate(argvs):
        out = open(os.path.join(logdir, f"client-{i}.out"), "wb")
        err = open(os.path.join(logdir, f"client-{i}.err"), "wb")
        procs.append(subprocess.Popen(argv, env=env, stdout=out, stderr=err))
        out.close()
        err.close()
    results = [None] * len(procs)

    def reap(i, p):
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        results[i] = (time.perf_counter() - t0, p.returncode, ru.ru_utime + ru.ru_stime, ru.ru_maxrss)

    waiters = [threading.Thread(target=reap, args=(i, p)) for i, p in enumerate(procs)]
    for w in waiters:
        w.start()
    if during:
        during(procs)
    for w in waiters:
        w.join()
    return time.perf_counter() - t0, results


def make_upload_file(path, size):
    """`size` bytes like a disk image: 1 MiB pieces of pseudo-random data
    (AES-CTR from openssl, else os.urandom), one in eight all zeros."""
    rnd = random.Random(42)
    src = None
    if shutil.which("openssl"):
        src = subprocess.Popen(
            ["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K", "00" * 16, "-iv", "00" * 16, "-in", "/dev/zero"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    zeros = bytes(MIB)
    try:
        with open(path, "wb") as f:
            for _ in range(size // MIB):
                if rnd.random() < 1 / 8:
                    f.write(zeros)
                elif src:
                    f.write(src.stdout.read(MIB))
                else:
                    f.write(os.urandom(MIB))
    finally:
        if src:
            src.kill()
            src.wait()


def fresh_server(binary, work, name):
    """A fresh offline plankton with its own database, store root and token file."""
    d = os.path.join(work, name)
    os.makedirs(os.path.join(d, "objects"))
    with open(os.path.join(d, "tokens"), "w") as f:
        f.write(f"{TOKEN} {USER}\n")
    os.chmod(os.path.join(d, "tokens"), 0o600)
    server = Server(binary, d, free_port())
    server.start()
    return server


def header_of(path, name):
    with open(path, "rb") as f:
        for line in f.read().decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.strip().lower() == name:
                return v.strip()
    return None


def object_etag(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("HEAD", f"/object-store/v1/{USER}/images/{name}", headers={"X-Auth-Token": TOKEN})
    r = c.getresponse()
    r.read()
    return r.status, r.getheader("etag"), r.getheader("content-length")


def kamaki_setup(kamaki, home, port):
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, KAMAKI_CONFIG=os.path.join(home, "kamakirc"), PYTHONDONTWRITEBYTECODE="1")
    for k, v in (("cloud.bench.url", f"http://127.0.0.1:{port}/identity/v2.0"),
                 ("cloud.bench.token", TOKEN), ("default_cloud", "bench")):
        subprocess.run([kamaki, "config", "set", k, v], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return env


def register_small(server):
    """Registers a small file of the server's store as an image; its id."""
    d = os.path.join(server.workdir, "objects", USER, "images")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "small.raw"), "wb") as f:
        f.write(b"small image\n" * 1024)
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    h = {"X-Auth-Token": TOKEN, "X-Image-Meta-Name": "small",
         "X-Image-Meta-Location": f"pithos://{USER}/images/small.raw"}
    for p in range(PROPS):
        h[f"X-Image-Meta-Property-Key{p}"] = f"value-{p}"
    c.request("POST", "/images", headers=h)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"registering the small image: {r.status}")
    return r.getheader("x-image-meta-id")


def upload_row(args, work, label, n, client, size, md5, baseline, before=None, during=None):
    """One row: a fresh server, `n` uploads at once by `client` ("curl" or
    "kamaki"), every answer checked; the server's dir is removed after.
    `before(server)` runs on the idle server just before the clients start,
    `during(server, procs)` once they are started; what they answer is in
    the result as "before" and "during"."""
    server = fresh_server(args.binary, work, label)
    port = server.port
    extra = {}
    try:
        logdir = os.path.join(server.workdir, "clients")
        os.makedirs(logdir)
        env = None
        if client == "curl":
            argvs = [["curl", "-sS", "--fail", "-X", "POST", "-T", args.upload_file,
                      "-H", f"X-Auth-Token: {TOKEN}", "-H", "Content-Type: application/octet-stream",
                      "-H", f"X-Image-Meta-Name: big-{i}", "-o", "/dev/null",
                      "-D", os.path.join(logdir, f"headers-{i}"),
                      f"http://127.0.0.1:{port}/v1/images"] for i in range(n)]
        else:
            env = kamaki_setup(args.kamaki, os.path.join(server.workdir, "home"), port)
            argvs = [[args.kamaki, "file", "upload", "-N", args.upload_file, f"/images/big-{i}"] for i in range(n)]
        if before:
            extra["before_reads"] = before(server)
        hook = None
        if during:
            def hook(procs):
                extra["during_reads"] = during(server, procs)
        cpu0 = cpu_s(server.proc.pid)
        with RssSampler(server) as rss:
            wall, results = run_clients(argvs, env, logdir, hook)
        cpu = cpu_s(server.proc.pid) - cpu0
        bad = []
        for i, (_, rc, _, _) in enumerate(results):
            if client == "curl":
                got = header_of(os.path.join(logdir, f"headers-{i}"), "x-image-meta-checksum")
                if rc != 0 or got != md5:
                    bad.append(f"#{i}: exit {rc}, checksum {got}")
            else:
                status, etag, length = object_etag(port, f"big-{i}")
                if rc != 0 or status != 200 or (etag or "").strip('"') != md5 or length != str(size):
                    bad.append(f"#{i}: exit {rc}, HEAD {status} ETag {etag} length {length}")
        for b in bad:
            print(f"  {label} {b}; see {logdir}", file=sys.stderr)
    finally:
        server.stop()
    if args.keep:
        pass
    elif bad:
        # Kept for a look (the log, the clients' output), without the data.
        shutil.rmtree(os.path.join(server.workdir, "objects"), ignore_errors=True)
        args.keep_failed = True
    else:
        shutil.rmtree(server.workdir, ignore_errors=True)
    return {
        "label": label, "n": n, "wall": wall, "each": [r[0] for r in results],
        "client_cpu": sum(r[2] for r in results),
        "server_cpu": cpu, "before": rss.before, "peak": rss.peak,
        "bad": len(bad), "ratio": wall / (n * baseline), "mibs": n * size / MIB / wall,
        **extra,
    }


READS_C = 16
# How long the uploads run before the reads are measured beside them.
READS_SETTLE_S = 2


def reads_idle(args):
    def before(server):
        server.image_id = register_small(server)
        return wrk(f"http://127.0.0.1:{server.port}/images/{server.image_id}", READS_C, args.seconds, method="HEAD")
    return before


def reads_during(args):
    def during(server, procs):
        time.sleep(READS_SETTLE_S)
        running_at_start = sum(p.poll() is None for p in procs)
        r = wrk(f"http://127.0.0.1:{server.port}/images/{server.image_id}", READS_C, args.seconds, method="HEAD")
        r["running"] = (running_at_start, sum(p.poll() is None for p in procs))
        return r
    return during


def print_reads(args, r):
    idle, busy = r["before_reads"], r["during_reads"]
    n = r["n"]
    print()
    print(f"| HEAD /images/{{id}} (one image, 8 properties), wrk c={READS_C}, {args.seconds} s | req/s | p50 ms |"
          f" p99 ms | errors | load avg before | uploads running at start-end |")
    print("|---|---|---|---|---|---|---|")
    for label, w, running in (("idle server, just before", idle, "-"),
                              (f"beside curl, {n} at once (from {READS_SETTLE_S} s after their start)", busy,
                               "%d-%d of %d" % (*busy["running"], n))):
        print(f"| {label} | {w['rps']:.0f} | {fmt_ms(w['p50'])} | {fmt_ms(w['p99'])} |"
              f" {w['errors'] + w['non2xx']} | {w['load']:.1f} | {running} |")
    print(f"| ratio (beside / idle) | {busy['rps'] / idle['rps']:.2f} | {busy['p50'] / max(idle['p50'], 1):.1f} |"
          f" {busy['p99'] / max(idle['p99'], 1):.1f} | | | |")
    ok = "ok" if not r["bad"] else f"{r['bad']} of {n} WRONG"
    print(f"| the uploads of this row | {r['wall']:.2f} s wall, {r['mibs']:.0f} MiB/s, growth"
          f" {(r['peak'] - r['before']) / 1024:.1f} MiB, answers {ok} | | | | {r['load']:.1f} | |")


def hash_baseline(path):
    """md5sum, then sha256sum, of `path` (in the page cache): (md5, md5sum s, sha256sum s)."""
    times = []
    for tool in ("md5sum", "sha256sum"):
        t0 = time.perf_counter()
        out = subprocess.run([tool, path], capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - t0)
        if tool == "md5sum":
            md5 = out.split()[0]
    return md5, times[0], times[1]


def run_upload(args):
    """`--upload`: a 1 GiB file uploaded with curl (POST /v1/images, by
    Content-Length) and kamaki 0.16 (`file upload`, the hashmap protocol),
    one at a time and eight at once, beside md5sum + sha256sum of it (taken
    again just before each row, so that each row is set against the machine
    as it was then)."""
    size = args.upload_mib * MIB
    args.kamaki = os.path.abspath(args.kamaki)
    kamaki_ok = os.access(args.kamaki, os.X_OK)
    base_dir = args.upload_dir or tempfile.gettempdir()
    need = size * (1 + max(args.upload_at_once, 1)) + GIB
    free = shutil.disk_usage(base_dir).free
    if free < need:
        sys.exit(f"{base_dir}: {free / GIB:.1f} GiB free, the upload bench needs {need / GIB:.1f} GiB")
    work = tempfile.mkdtemp(prefix="plankton-bench-upload-", dir=base_dir)
    args.keep_failed = False
    args.upload_file = os.path.join(work, "big.img")
    t_start = time.perf_counter()
    try:
        t0 = time.perf_counter()
        make_upload_file(args.upload_file, size)
        made_s = time.perf_counter() - t0
        subprocess.run(["cat", args.upload_file], stdout=subprocess.DEVNULL, check=True)
        md5, md5_s, sha_s = hash_baseline(args.upload_file)
        copy = os.path.join(work, "copy.img")
        t0 = time.perf_counter()
        subprocess.run(["dd", f"if={args.upload_file}", f"of={copy}", "bs=4M", "conv=fsync", "status=none"],
                       check=True)
        dd_s = time.perf_counter() - t0
        os.unlink(copy)

        rows = []
        reads = None
        plan = [("curl", "curl, one upload", 1, "curl"), ("kamaki", "kamaki, one upload", 1, "kamaki"),
                ("curl-many", f"curl, {args.upload_at_once} at once", args.upload_at_once, "curl"),
                ("kamaki-many", f"kamaki, {args.upload_at_once} at once", args.upload_at_once, "kamaki")]
        for key, label, n, client in plan:
            if key not in args.upload_rows or n < 1:
                continue
            if client == "kamaki" and not kamaki_ok:
                print(f"  skipping '{label}': no kamaki at {args.kamaki}", file=sys.stderr)
                continue
            print(f"  {label} ...", file=sys.stderr, flush=True)
            _, m, s = hash_baseline(args.upload_file)
            load = os.getloadavg()[0]
            r = upload_row(args, work, key, n, client, size, md5, m + s)
            r.update(label=label, baseline=m + s, load=load)
            rows.append(r)
        if "reads" in args.upload_rows and args.upload_at_once >= 1:
            print(f"  HEAD at c={READS_C}, idle and beside curl, {args.upload_at_once} at once ...",
                  file=sys.stderr, flush=True)
            load = os.getloadavg()[0]
            reads = upload_row(args, work, "reads", args.upload_at_once, "curl", size, md5, 1,
                               before=reads_idle(args), during=reads_during(args))
            reads.update(load=load)
        total_s = time.perf_counter() - t_start

        print()
        print(f"plankton upload benchmark: a {args.upload_mib} MiB file (1 MiB pieces of AES-CTR output, one in eight"
              f" all zeros), {os.cpu_count()} cores, page cache warm,"
              f" RUST_LOG={os.environ.get('BENCH_RUST_LOG', 'warn')}; server resident sampled every 50 ms")
        print()
        print("| baseline (first) | s | MiB/s |")
        print("|---|---|---|")
        print(f"| md5sum | {md5_s:.2f} | {size / MIB / md5_s:.0f} |")
        print(f"| sha256sum | {sha_s:.2f} | {size / MIB / sha_s:.0f} |")
        print(f"| md5sum + sha256sum (the baseline) | {md5_s + sha_s:.2f} | {size / MIB / (md5_s + sha_s):.0f} |")
        print(f"| dd bs=4M conv=fsync (a synced copy: the disk, for reference) | {dd_s:.2f} | {size / MIB / dd_s:.0f} |")
        print()
        print("| upload | wall s | MiB/s (all) | baseline s, just before | x baseline | each s (min-max) |"
              " resident before, MiB | growth (peak - before), MiB | server CPU s | clients' CPU s |"
              " load avg before | answers | target (x <= 1, growth <= 64 MiB) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            many = r["n"] > 1
            x = f"{r['ratio']:.2f}" + (f" (of {r['n']} x baseline)" if many else "")
            each = f"{min(r['each']):.2f}-{max(r['each']):.2f}" if many else f"{r['each'][0]:.2f}"
            ok = "ok" if not r["bad"] else f"{r['bad']} of {r['n']} WRONG"
            growth = (r["peak"] - r["before"]) / 1024
            misses = [w for w, bad in (("time", r["ratio"] > 1), ("memory", growth > 64)) if bad]
            target = "met" if not misses else "NOT met (" + ", ".join(misses) + ")"
            print(f"| {r['label']} | {r['wall']:.2f} | {r['mibs']:.0f} | {r['baseline']:.2f} | {x} | {each} |"
                  f" {r['before'] / 1024:.1f} | {growth:.1f} | {r['server_cpu']:.1f} | {r['client_cpu']:.1f} |"
                  f" {r['load']:.1f} | {ok} | {target} |")
        if reads:
            print_reads(args, reads)
        print()
        print(f"making the file {made_s:.1f} s; the whole mode {total_s:.0f} s")
        if any(r["bad"] for r in rows) or (reads and reads["bad"]):
            sys.exit(1)
    finally:
        if args.keep:
            print(f"kept {work}")
        elif args.keep_failed:
            if os.path.exists(args.upload_file):
                os.unlink(args.upload_file)
            print(f"kept {work} (the logs of the rows with wrong answers)")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", default="target/release/plankton")
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64])
    p.add_argument("--no-reference", action="store_true",
                   help="skip the reference limit (building and measuring bench/reference)")
    p.add_argument("--reference-binary", help="a reference server already built (skips the build)")
    p.add_argument("--large", action="store_true", help="only the 512 MiB registration against md5sum")
    p.add_argument("--large-mib", type=int, default=512)
    p.add_argument("--upload", action="store_true",
                   help="only uploads of a 1 GiB file (curl and kamaki, one and eight at once) against"
                        " md5sum + sha256sum")
    p.add_argument("--upload-mib", type=int, default=1024)
    p.add_argument("--upload-at-once", type=int, default=8)
    p.add_argument("--upload-rows", type=lambda s: s.split(","),
                   default=["curl", "kamaki", "curl-many", "kamaki-many", "reads"],
                   help="which upload rows (curl,kamaki,curl-many,kamaki-many,reads: all; reads is HEAD at c=16,"
                        " idle and beside curl, --upload-at-once at once)")
    p.add_argument("--upload-dir", help="where the file and the stores go (default: the temporary directory)")
    p.add_argument("--kamaki", default=os.environ.get("BENCH_KAMAKI", "target/interop-venvs/py27/bin/kamaki"),
                   help="kamaki 0.16 (default: the interop venv's; BENCH_KAMAKI)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                   help="only a soak: mixed load at c=64 for SECONDS")
    args = p.parse_args()
    if args.soak:
        run_soak(args)
    elif args.large:
        run_large(args)
    elif args.upload:
        run_upload(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
