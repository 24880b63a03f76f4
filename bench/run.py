#!/usr/bin/env python3
"""plankton's benchmark harness (`make bench`).

The default mode starts the release binary offline on a temporary directory,
loads 10,000 images (--images) with 8 properties each through the API,
restarts it, and prints one table measured with wrk (keep-alive): requests/s,
p50 and p99 at concurrency 1, 16 and 64, each rate also as a ratio to the
versions document measured in the same run, each c=16 rate as a share of the
reference limit (issue 13: a bare actix-web server, bench/reference/, built
and measured at c=16 before plankton's rows), the resident set after each row
and the 1-minute load average before each cell (the machine may be shared).
The rows: the versions document, HEAD of one image, a detail page of 25, a
page of 25 filtered by a property that a tenth of the images match, the whole
detail list, a name filter, the property filter unpaged, and durable
registrations, and beside the v1 rows the image API v2's show of one image
(`GET /v2/images/{id}`) and its page of 25 (`GET /v2/images?limit=25`).
Below it: loading time, peak resident memory, start to first
answer; 32 clients reading the whole detail list at once, three times each
(peak resident meanwhile, wall time, every answer checked); the raw
write(4 KiB) + fsync rate of the disk holding plankton.db, taken just before
the registrations; registering a fresh 512 MiB file beside md5sum of it (on a
fresh server); the binary's size as `make install` installs it; `openstack image list`
over all the images (python-openstackclient from the interop venv,
--osc-venv: its wall time and the server's share of it, from /metrics).
Last, every goal of issues 13 and 23 with this run's figure and whether it
is reached.
Before all that, on a catalogue of its own, memory as a deployment lives
(issue 28): one process registers --images images through the API, 8 at
once, serves the read rows (one second each at c=16), registers as many
again and serves them again, then 32 clients read the whole list at once;
its resident set and anonymous memory after each step, beside a fresh
process on the same catalogue after the same reads.
`--save FILE` writes those figures; `--images 100000 --compare FILE` sets a
run at 100,000 against one saved at 10,000 (the goals at scale: as fast,
linear, the same memory).

`--large` instead only registers the 512 MiB file beside md5sum. `--upload`
instead uploads a 1 GiB file with curl (`POST /v1/images`) and with kamaki
0.16 (`file upload`, the object store's hashmap protocol), one and eight at
once, each row on a fresh server, and prints wall time, rate and the server's
resident growth beside `md5sum` + `sha256sum` of the same file; then the
image API v2's upload (`POST /v2/images`, then `PUT /v2/images/{id}/file`
with curl) beside `md5sum` + `sha256sum` + `sha512sum` one after another
(issue 23: within 0.6x of that, growth <= 64 MiB); then kamaki again
after a first upload on the same server (issue 24): the same file under
another name, the same file under the same name with `-f`, and a copy
differing in one 4 MiB block, each with the server's time for its
requests from its access log; its last row measures `HEAD /images/{id}` with wrk at c=16 on the idle server and again
while eight curl uploads run. `--soak SECONDS` runs mixed load at c=64.

`--v2` runs only issue 23's read rows, on --images images: v2's show
beside v1's HEAD and v2's page of 25 beside v1's detail page, each pair one
after the other --repeat times (each ratio taken within its round, the
median round kept: the machine may be shared), then `openstack image list`
over all the images (`--no-osc` skips it). With `--upload --upload-rows v2
--upload-at-once 1` the v2 upload row runs alone (3 GiB of disk).
"""
import argparse
import contextlib
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

    log = None

    def env(self):
        env = dict(os.environ)
        env.update({
            "PLANKTON_LISTEN": f"127.0.0.1:{self.port}",
            "PLANKTON_DATABASE": os.path.join(self.workdir, "plankton.db"),
            "PLANKTON_IDENTITY__TOKEN_FILE": os.path.join(self.workdir, "tokens"),
            "PLANKTON_STORE__ROOT": os.path.join(self.workdir, "objects"),
            "RUST_LOG": self.log or os.environ.get("BENCH_RUST_LOG", "warn"),
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


def make_objects(root, n, first=0):
    d = os.path.join(root, USER, "images")
    os.makedirs(d, exist_ok=True)
    for i in range(first, first + n):
        with open(os.path.join(d, f"img-{i:05d}.raw"), "wb") as f:
            f.write(f"image {i}\n".encode() * 64)


def register_all(port, n, workers=16, first=0):
    """Registers img-<first> .. img-<first+n-1> with 8 properties each,
    keep-alive, `workers` at once; (their ids, the seconds taken)."""
    ids = [None] * (first + n)
    lock = threading.Lock()
    nxt = [first]

    def work():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= first + n:
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
    return ids[first:], time.perf_counter() - t0


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


# The rows of the default mode; the goals below look them up by these labels.
ROW_VERSIONS = "versions document (baseline)"
ROW_HEAD = "HEAD /images/{id}"
ROW_PAGE = "GET /images/detail?limit=25"
ROW_FILTERED = "GET /images/detail?property-key7=value-3&limit=25"
ROW_REGISTER = "durable registrations"
ROW_V2_SHOW = "GET /v2/images/{id}"
ROW_V2_PAGE = "GET /v2/images?limit=25"
# The same reads of a different image, or from a different marker, each
# time, drawn at random from all of them: what the catalogue's own read
# costs, since the answers kept for a moment (docs/behaviour.md, "Reads";
# 128 images and 16 pages per worker) then serve at most a few per cent.
ROW_HEAD_ANY = "HEAD /images/{any of them} (nothing kept)"
ROW_PAGE_ANY = "GET /images/detail?limit=25&marker={any} (nothing kept)"


def any_of(ids, method, path):
    """A wrk script asking `method` of `path` % one of `ids` at random."""
    listed = ",".join(f'"{i}"' for i in ids)
    return (f'local ids = {{{listed}}}\n'
            'request = function()\n'
            '  local id = ids[math.random(1, #ids)]\n'
            f'  return wrk.format("{method}", string.format("{path}", id))\n'
            'end\n')


# Where `make clients` puts python-openstackclient (--osc-venv).
OSC_VENV = os.path.join(ROOT, "target", "interop-venvs", "py311-osc")


def row_whole(n):
    return f"GET /images/detail (all {n})"


# Issue 13's memory phase: this many clients read the whole detail list at
# once, each this many times.
READERS = 32
READER_ROUNDS = 3
# `--compare` (a run at 100,000 images against a saved one at 10,000): "as
# fast as" and "the same memory" allow this much run-to-run noise. The
# harness's allowance, not the issue's.
SCALE_SLACK = 0.10


def new_workdir(prefix):
    """A temporary directory for one offline server: objects/ and a token file."""
    work = tempfile.mkdtemp(prefix=prefix)
    os.makedirs(os.path.join(work, "objects"))
    with open(os.path.join(work, "tokens"), "w") as f:
        f.write(f"{TOKEN} {USER}\n")
    os.chmod(os.path.join(work, "tokens"), 0o600)
    return work


def fsync_rate(directory, seconds):
    """write(4 KiB) + fsync on one new file of `directory`, one writer, for
    `seconds`: the raw durable-write rate of the disk that holds plankton.db,
    which durable registrations are set against. Each write appends, so each
    fsync also commits the file's new size (SQLite's WAL grows so too, and is
    overwritten from its start after a checkpoint). On a shared machine the
    rate moves with the neighbours' I/O: read it beside its load average."""
    path = os.path.join(directory, "fsync-probe")
    block = os.urandom(4096)
    times = []
    load = os.getloadavg()[0]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        t0 = time.perf_counter()
        t = t0
        while t - t0 < seconds:
            os.write(fd, block)
            os.fsync(fd)
            now = time.perf_counter()
            times.append(now - t)
            t = now
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return {"rps": len(times) / (t - t0), "writes": len(times), "load": load,
            "p50": times[len(times) // 2] * 1e6, "p99": times[min(len(times) - 1, len(times) * 99 // 100)] * 1e6}


def reset_peak_rss(server):
    """Resets the process's VmHWM to its current resident set (5 written to
    /proc/<pid>/clear_refs); False if that is refused or does not take."""
    try:
        with open(f"/proc/{server.proc.pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    # The server is idle here: just after a reset the mark is about the set.
    return server.peak_rss_kib() <= server.rss_kib() + 1024


def listed_count(doc):
    """Images in a listing: the Cyclades dialect answers a JSON array, Glance's an object."""
    return len(doc["images"] if isinstance(doc, dict) else doc)


def read_whole_list_at_once(server, expected, clients=READERS, rounds=READER_ROUNDS):
    """`clients` keep-alive connections, opened first and then released
    together, each GET /images/detail `rounds` times, every body read whole
    and checked (200, JSON, `expected` images). Returns the wall time, the
    server's resident set before and at its peak meanwhile (VmHWM after a
    reset, else sampled every 10 ms) and the wrong answers."""
    problems = []
    ready = threading.Barrier(clients + 1)

    def client(i):
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        try:
            c.connect()
            ready.wait()
            for k in range(rounds):
                try:
                    c.request("GET", "/images/detail", headers={"X-Auth-Token": TOKEN})
                    r = c.getresponse()
                except http.client.RemoteDisconnected:
                    # The server let the kept-alive connection go: its
                    # 5-second keep-alive runs from when it wrote the last
                    # bytes, and these clients, parsing under one lock, may
                    # take longer to read them. Reconnect, as urllib3 does.
                    c.close()
                    c.request("GET", "/images/detail", headers={"X-Auth-Token": TOKEN})
                    r = c.getresponse()
                body = r.read()
                if r.status != 200:
                    problems.append(f"client {i}, read {k}: status {r.status}")
                    continue
                try:
                    got = listed_count(json.loads(body))
                except (ValueError, KeyError, TypeError) as e:
                    problems.append(f"client {i}, read {k}: not a listing ({e})")
                    continue
                if got != expected:
                    problems.append(f"client {i}, read {k}: {got} images, not {expected}")
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as e:
            problems.append(f"client {i}: {e!r}")
            # Nobody waits for a client that cannot connect.
            ready.abort()
        finally:
            c.close()

    run_peak = server.peak_rss_kib()
    reset = reset_peak_rss(server)
    sampler = contextlib.nullcontext() if reset else RssSampler(server, interval=0.01)
    before = server.rss_kib()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    with sampler:
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            pass
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    return {"wall": wall, "before": before, "peak": server.peak_rss_kib() if reset else sampler.peak,
            "how": "VmHWM reset by clear_refs" if reset else "VmRSS sampled every 10 ms",
            "problems": problems, "run_peak_before": run_peak}


# Issue 28: memory measured the way a deployment lives.
DEPLOY_WRITERS = 8
DEPLOY_READ_SECONDS = 1
# "No growth from a second round": the harness's allowance for noise.
DEPLOY_GROWTH_SLACK_MIB = 2.0


def anonymous_kib(server):
    """The process's anonymous resident memory (heap, arenas, stacks)."""
    with open(f"/proc/{server.proc.pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1])
    return 0


def deployment_reads(port, ids, n):
    """The read rows' requests at c=16 for DEPLOY_READ_SECONDS each."""
    base = f"http://127.0.0.1:{port}"
    for url, method in ((f"{base}/images/{ids[len(ids) // 2]}", "HEAD"), (f"{base}/images/detail?limit=25", "GET"),
                        (f"{base}/v2/images/{ids[len(ids) // 3]}", "GET"), (f"{base}/v2/images?limit=25", "GET"),
                        (f"{base}/images/detail?property-key7=value-3&limit=25", "GET"),
                        (f"{base}/images/detail", "GET"), (f"{base}/images?name=image-{n // 3:05d}", "GET"),
                        (f"{base}/images?property-key7=value-3", "GET")):
        wrk(url, 16, DEPLOY_READ_SECONDS, "", method)


def memory_as_deployed(binary, n):
    """One process, on an empty catalogue, registers n images through the
    API (DEPLOY_WRITERS at once), serves the read rows, registers n more and
    serves them again, then 32 clients read the whole list at once; its
    resident set (and anonymous part) after each step; then a fresh process
    on the same catalogue after the same reads."""
    work = new_workdir("plankton-bench-deploy-")
    server = None
    steps = []
    try:
        make_objects(os.path.join(work, "objects"), 2 * n)
        server = Server(binary, work, free_port())
        server.start()

        def step(name):
            steps.append((name, server.rss_kib(), anonymous_kib(server)))

        step("started, empty catalogue")
        print(f"  memory as deployed: registering {n} images, {DEPLOY_WRITERS} at once ...", file=sys.stderr,
              flush=True)
        ids, first_s = register_all(server.port, n, DEPLOY_WRITERS)
        step(f"after {n} registrations ({n / first_s:.0f}/s)")
        deployment_reads(server.port, ids, n)
        step("after the read rows")
        more, second_s = register_all(server.port, n, DEPLOY_WRITERS, first=n)
        step(f"after {n} more registrations ({n / second_s:.0f}/s)")
        deployment_reads(server.port, ids + more, 2 * n)
        step("after the read rows again")
        readers = read_whole_list_at_once(server, 2 * n)
        step(f"after {READERS} clients read the whole list ({2 * n} images) at once")
        server.stop()
        server.start()
        deployment_reads(server.port, ids + more, 2 * n)
        step("a fresh process on the same catalogue, after the read rows")
        return {"steps": steps, "readers": readers,
                "after_reads": steps[2][1], "after_second": steps[4][1], "fresh": steps[6][1]}
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def print_deployment(d):
    print("| memory as a deployment lives (one process takes the writes, then the reads) | resident, MiB |"
          " anonymous, MiB |")
    print("|---|---|---|")
    for name, rss, anon in d["steps"]:
        print(f"| {name} | {rss / 1024:.1f} | {anon / 1024:.1f} |")
    r = d["readers"]
    ok = "all right" if not r["problems"] else f"{len(r['problems'])} WRONG"
    print(f"| peak while {READERS} clients read the whole list, {READER_ROUNDS} times each ({r['how']}; answers"
          f" {ok}) | {r['peak'] / 1024:.1f} | - |")


def measure_large(binary, mib):
    """Registers a fresh `mib` MiB file of the store (MD5 and Pithos hash in
    one read) on a fresh server, beside md5sum of the same file, both from
    the page cache."""
    work = new_workdir("plankton-bench-large-")
    server = None
    try:
        obj = os.path.join(work, "objects", USER, "images")
        os.makedirs(obj)
        path = os.path.join(obj, "large.raw")
        size = mib << 20
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
        server = Server(binary, work, free_port())
        server.start()
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        t0 = time.perf_counter()
        c.request("POST", "/v1/images", headers={
            "X-Auth-Token": TOKEN, "X-Image-Meta-Name": "large",
            "X-Image-Meta-Location": f"pithos://{USER}/images/large.raw"})
        r = c.getresponse()
        r.read()
        reg_s = time.perf_counter() - t0
        ok = r.status == 200 and r.getheader("x-image-meta-checksum") == md5
        return {"mib": mib, "reg_s": reg_s, "md5_s": md5_s, "ok": ok, "status": r.status}
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def print_large(large):
    wrong = "" if large["ok"] else f" WRONG ANSWER (status {large['status']}, or not md5sum's checksum) |"
    print(f"| registering a fresh {large['mib']} MiB file (MD5 and Pithos hash, one read; its os_hash after the answer) |"
          f" {large['reg_s']:.2f} s |{wrong}")
    print(f"| md5sum of the same file | {large['md5_s']:.2f} s |")
    print(f"| ratio (registration / md5sum) | {large['reg_s'] / large['md5_s']:.2f} |")


def installed_size(binary):
    """The binary's size as `make install` installs it (the debug info split
    off to bin/.debug/plankton.debug), installed into a temporary DESTDIR.
    Should make install fail, the same two objcopy calls into temporary files."""
    dest = tempfile.mkdtemp(prefix="plankton-bench-install-")
    try:
        p = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "install",
                            f"INSTALL_BIN={os.path.abspath(binary)}", f"DESTDIR={dest}", "PREFIX=/usr/local"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        bindir = os.path.join(dest, "usr", "local", "bin")
        if p.returncode == 0:
            return {"bin": os.path.getsize(os.path.join(bindir, "plankton")),
                    "debug": os.path.getsize(os.path.join(bindir, ".debug", "plankton.debug")),
                    "how": "make install DESTDIR=<tmp> PREFIX=/usr/local"}
        why = (p.stderr.strip().splitlines() or ["?"])[-1]
        stripped, debug = os.path.join(dest, "plankton"), os.path.join(dest, "plankton.debug")
        try:
            subprocess.run(["objcopy", "--only-keep-debug", binary, debug], check=True, capture_output=True)
            subprocess.run(["objcopy", "--strip-debug", binary, stripped], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            return {"error": f"make install failed ({why}), objcopy too ({e})"}
        return {"bin": os.path.getsize(stripped), "debug": os.path.getsize(debug),
                "how": f"objcopy --strip-debug (make install failed: {why})"}
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def v2_metrics(port):
    """(requests, seconds) the server spent on v2 routes so far, from the
    `plankton_http_request_duration_seconds` histogram of /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    if r.status != 200:
        return None
    count, total = 0, 0.0
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if not name.startswith("plankton_http_request_duration_seconds_") or 'route="/v2/' not in rest:
            continue
        value = float(rest.rsplit("}", 1)[1].split()[0])
        if name.endswith("_sum"):
            total += value
        elif name.endswith("_count"):
            count += int(value)
    return count, total


def openstack_image_list(args, server, n):
    """`openstack image list` over the whole catalogue (it follows `next`,
    25 a page): wall time, the server's time on v2 routes meanwhile
    (from /metrics), the requests it made, and whether it listed n images."""
    osc = os.path.join(args.osc_venv, "bin", "openstack")
    if not os.access(osc, os.X_OK):
        return {"skipped": f"skipped: no {osc} (make clients)"}
    print(f"  openstack image list over {n} images ...", file=sys.stderr, flush=True)
    before = v2_metrics(server.port)
    argv = [osc, "--os-auth-type", "admin_token", "--os-endpoint", f"http://127.0.0.1:{server.port}/v2",
            "--os-token", TOKEN, "image", "list", "-f", "value", "-c", "ID"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    t0 = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = v2_metrics(server.port)
    listed = len(out.stdout.split())
    if before is None or after is None:
        return {"skipped": "skipped: /metrics did not answer"}
    wrong = 0 if out.returncode == 0 and listed == n else f"exit {out.returncode}, listed {listed} of {n}"
    if wrong:
        print(f"  openstack image list: {out.stderr.strip()[-400:]}", file=sys.stderr)
    return {"wall": wall, "server_s": after[1] - before[1], "requests": after[0] - before[0],
            "listed": listed, "wrong": wrong}


def print_osc(osc, n):
    if "wall" not in osc:
        print(f"| openstack image list ({n} images) | {osc['skipped']} |")
        return
    ok = "all listed" if not osc["wrong"] else f"WRONG: {osc['wrong']}"
    print(f"| openstack image list ({n} images, python-openstackclient, 25 a page) | {osc['wall']:.1f} s wall |"
          f" server {osc['server_s']:.2f} s on {osc['requests']} v2 requests"
          f" ({fmt_share(osc['server_s'] / osc['wall'])} of the wall) | {ok} |")


def errors_of(r):
    return r["errors"] + r["non2xx"]


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
    # Issue 28: first, on its own catalogue, the memory of a process that
    # takes the writes and then serves the reads.
    deployed = memory_as_deployed(args.binary, args.images)
    work = new_workdir("plankton-bench-")
    server = None
    try:
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
            (ROW_VERSIONS, f"{base}/", "", "GET"),
            (ROW_HEAD, f"{base}/images/{some_id}", "", "HEAD"),
            (ROW_PAGE, f"{base}/images/detail?limit=25", "", "GET"),
            (ROW_HEAD_ANY, f"{base}/", any_of(ids, "HEAD", "/images/%s"), "HEAD"),
            (ROW_PAGE_ANY, f"{base}/", any_of(ids, "GET", "/images/detail?limit=25&marker=%s"), "GET"),
            # Issue 23: v2 beside v1, in the same run and on the same images.
            (ROW_V2_SHOW, f"{base}/v2/images/{some_id}", "", "GET"),
            (ROW_V2_PAGE, f"{base}/v2/images?limit=25", "", "GET"),
            # key7 is value-{i % 10}: a tenth of the images match.
            (ROW_FILTERED, f"{base}/images/detail?property-key7=value-3&limit=25", "", "GET"),
            (row_whole(n), f"{base}/images/detail", "", "GET"),
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
        # Before the registrations, which add images to the list.
        print(f"  {READERS} clients read the whole list at once ...", file=sys.stderr, flush=True)
        readers = read_whole_list_at_once(server, n)
        # Before the registrations too: the CLI lists exactly the n images.
        osc = openstack_image_list(args, server, n)
        # The disk's own rate, just before the registrations set against it.
        raw_fsync = fsync_rate(work, args.seconds)
        for c in args.concurrency:
            results[(ROW_REGISTER, c)] = wrk(f"{base}/images", c, args.seconds, reg_lua, "POST")
        rss_after[ROW_REGISTER] = server.rss_kib()
        # The high-water mark of the whole run (the readers' phase reset it).
        peak = max(readers["run_peak_before"], server.peak_rss_kib())
        server.stop()
        print(f"  registering a fresh {args.large_mib} MiB file ...", file=sys.stderr, flush=True)
        large = measure_large(args.binary, args.large_mib)
        installed = installed_size(args.binary)

        total_s = time.perf_counter() - t_start

        labels = [c[0] for c in cases] + [ROW_REGISTER]
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
                    bad = errors_of(ref)
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
                bad = errors_of(r)
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
        ok = "all right" if not readers["problems"] else f"{len(readers['problems'])} WRONG"
        print(f"| {READERS} clients read the whole detail list ({n} images) at once, {READER_ROUNDS} times each"
              f" (after the read rows) | {readers['wall']:.2f} s wall | resident {readers['before'] / 1024:.1f} MiB"
              f" before, peak {readers['peak'] / 1024:.1f} MiB ({readers['how']}) | answers {ok} |")
        for p in readers["problems"][:5]:
            print(f"  {p}", file=sys.stderr)
        print()
        print_deployment(deployed)
        print()
        print(f"| raw write(4 KiB) + fsync, one writer, one file beside plankton.db, {args.seconds} s (just before"
              f" the registrations) | {raw_fsync['rps']:.0f}/s | p50 {fmt_ms(raw_fsync['p50'])} ms,"
              f" p99 {fmt_ms(raw_fsync['p99'])} ms | load avg before {raw_fsync['load']:.1f} |")
        print()
        print_large(large)
        print()
        if "error" in installed:
            print(f"| installed binary | {installed['error']} |")
        else:
            print(f"| installed binary ({installed['how']}): bin/plankton | {installed['bin'] / MIB:.1f} MiB"
                  f" (the build's {os.path.getsize(args.binary) / MIB:.1f} MiB) |")
            print(f"| its split debug info: bin/.debug/plankton.debug (gdb and perf find it by the debuglink) |"
                  f" {installed['debug'] / MIB:.1f} MiB |")

        print()
        print_osc(osc, n)

        fig = figures(args, results, ref, rss_after, [c[0] for c in cases], readers, raw_fsync, large,
                      start_loaded, installed)
        fig["osc"] = osc
        fig["deployed"] = {"after_reads_kib": deployed["after_reads"], "after_second_kib": deployed["after_second"],
                           "readers_peak_kib": deployed["readers"]["peak"], "fresh_kib": deployed["fresh"],
                           "readers_wrong": len(deployed["readers"]["problems"])}
        print()
        print_goals(fig)
        if args.compare:
            with open(args.compare) as f:
                print_scale(fig, json.load(f), args.compare)
        if args.save:
            with open(args.save, "w") as f:
                json.dump(fig, f, indent=1)
                f.write("\n")
        print()
        build = f"building the reference {ref_build_s:.1f} s; " if ref_build_s is not None else ""
        print(f"{build}the whole mode {total_s:.0f} s (not counting plankton's own build)")
    finally:
        if server:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def figures(args, results, ref, rss_after, read_rows, readers, raw_fsync, large, start_loaded, installed):
    """The figures issue 13's goals are about, from this run (None where not
    measured), as saved by --save and read back by --compare."""
    n = args.images

    def cell(label, c, key="rps"):
        r = results.get((label, c))
        # A cell that finished no request (wrk's p50 is then 0) measured nothing.
        return None if r is None or r["requests"] == 0 else r[key]

    def bad(label, c):
        r = results.get((label, c))
        return 0 if r is None else errors_of(r)

    return {
        "images": n, "seconds": args.seconds,
        "reference": ref["rps"] if ref else None,
        "head_16": cell(ROW_HEAD, 16), "page_16": cell(ROW_PAGE, 16), "filtered_16": cell(ROW_FILTERED, 16),
        "register_16": cell(ROW_REGISTER, 16), "whole_1_p50_us": cell(row_whole(n), 1, "p50"),
        "v2_show_16": cell(ROW_V2_SHOW, 16), "v2_page_16": cell(ROW_V2_PAGE, 16),
        "head_any_16": cell(ROW_HEAD_ANY, 16), "page_any_16": cell(ROW_PAGE_ANY, 16),
        "errors": {k: bad(label, c) for k, label, c in (
            ("head_any_16", ROW_HEAD_ANY, 16), ("page_any_16", ROW_PAGE_ANY, 16),
            ("head_16", ROW_HEAD, 16), ("page_16", ROW_PAGE, 16), ("filtered_16", ROW_FILTERED, 16),
            ("register_16", ROW_REGISTER, 16), ("whole_1_p50_us", row_whole(n), 1),
            ("v2_show_16", ROW_V2_SHOW, 16), ("v2_page_16", ROW_V2_PAGE, 16))},
        "fsync": raw_fsync["rps"],
        "resident_after_kib": max(rss_after[label] for label in read_rows),
        "readers_peak_kib": readers["peak"], "readers_wrong": len(readers["problems"]),
        "large_ratio": large["reg_s"] / large["md5_s"], "large_mib": large["mib"], "large_ok": large["ok"],
        "start_loaded_ms": start_loaded * 1000,
        "installed_mib": installed["bin"] / MIB if "bin" in installed else None,
    }


def print_goals(f):
    """One line per goal of issue 13: the goal, this run's figure, reached or not.
    A figure taken with errors (or wrong answers) does not reach its goal."""
    n = f["images"]
    err = f["errors"]
    print(f"against the goals (issue 13; this run, {n} images):")
    print()
    print("| goal | target | this run | |")
    print("|---|---|---|---|")

    def line(goal, target, figure, reached, wrong=0):
        if wrong:
            figure += f" ({wrong} errors)" if isinstance(wrong, int) else f" ({wrong})"
        state = "-" if reached is None else "reached" if reached and not wrong else "not reached"
        print(f"| {goal} | {target} | {figure} | {state} |")

    def share(goal, target, num, den, what, least, wrong=0):
        if num is None or den is None:
            line(goal, target, "-", None)
        else:
            line(goal, target, f"{fmt_share(num / den)} ({num:.0f} / {den:.0f} {what})", num / den >= least, wrong)

    share("HEAD /images/{id}, c=16, share of the reference (issues 13, 28)", ">= 50 %", f["head_16"], f["reference"],
          "req/s", 0.50, err["head_16"])
    share("GET /images/detail?limit=25, c=16, share of the reference (issues 13, 28)", ">= 25 %", f["page_16"],
          f["reference"],
          "req/s", 0.25, err["page_16"])
    share("HEAD of any image, the catalogue read each time, c=16, share of the reference (the same goal)",
          ">= 50 %", f["head_any_16"], f["reference"], "req/s", 0.50, err["head_any_16"])
    share("a page of 25 from any marker, the catalogue read each time, c=16, share of the reference (the same goal)",
          ">= 25 %", f["page_any_16"], f["reference"], "req/s", 0.25, err["page_any_16"])
    matching = len(range(3, n, 10))
    share(f"a page of 25 filtered by a property ({matching} images match), c=16, share of the unfiltered page",
          ">= 50 %", f["filtered_16"], f["page_16"], "req/s", 0.50, err["filtered_16"])
    d = f.get("deployed")
    if d:
        # Issue 28: the process that took the writes.
        mib, fresh = d["after_reads_kib"] / 1024, d["fresh_kib"] / 1024
        line(f"resident after {n} registrations and the read rows, in the process that took them (issue 28)",
             "<= 32 MiB", f"{mib:.1f} MiB (a fresh process: {fresh:.1f} MiB)", mib <= 32)
        grown = (d["after_second_kib"] - d["after_reads_kib"]) / 1024
        line(f"growth from a second round of {n} registrations and the read rows (issue 28)",
             f"none (<= {DEPLOY_GROWTH_SLACK_MIB:.0f} MiB, the harness's allowance)",
             f"{grown:+.1f} MiB ({d['after_second_kib'] / 1024:.1f} MiB)", grown <= DEPLOY_GROWTH_SLACK_MIB)
        mib = d["readers_peak_kib"] / 1024
        line(f"peak resident while {READERS} clients read the whole list at once, in that process (issue 28)",
             "<= 64 MiB", f"{mib:.1f} MiB", mib <= 64, d["readers_wrong"] and f"{d['readers_wrong']} wrong answers")
    mib = f["resident_after_kib"] / 1024
    line("resident after the read rows (the highest; a process started on the filled catalogue)", "<= 32 MiB",
         f"{mib:.1f} MiB", mib <= 32)
    mib = f["readers_peak_kib"] / 1024
    line(f"peak resident while {READERS} clients read the whole list at once, {READER_ROUNDS} times each"
         " (the same process)",
         "<= 64 MiB", f"{mib:.1f} MiB", mib <= 64, f["readers_wrong"] and f"{f['readers_wrong']} wrong answers")
    share("durable registrations, c=16, share of raw write + fsync of the same disk (issue 28)", ">= 100 %",
          f["register_16"], f["fsync"], "/s", 1.0, err["register_16"])
    x = f["large_ratio"]
    line(f"registering a fresh {f['large_mib']} MiB file, x md5sum's time", "<= 1.00", f"{x:.2f}", x <= 1,
         0 if f["large_ok"] else "wrong answer")
    ms = f["start_loaded_ms"]
    line(f"start to first answer ({n} images)", "<= 50 ms", f"{ms:.1f} ms", ms <= 50)
    us = f["whole_1_p50_us"]
    line(f"the whole list ({n} images), c=1, p50", "<= 50 ms", "-" if us is None else f"{fmt_ms(us)} ms",
         None if us is None else us <= 50_000, err["whole_1_p50_us"])
    mib = f["installed_mib"]
    line("the release binary as make install installs it", "<= 20 MiB", "-" if mib is None else f"{mib:.1f} MiB",
         None if mib is None else mib <= 20)
    # Issue 23: the v2 surface as fast as v1 over the same catalogue.
    share("GET /v2/images/{id}, c=16, x HEAD /images/{id} (issue 23)", ">= 100 %", f["v2_show_16"],
          f["head_16"], "req/s", 1.0, err["v2_show_16"])
    share("GET /v2/images?limit=25, c=16, x GET /images/detail?limit=25 (issue 23)", ">= 90 %",
          f["v2_page_16"], f["page_16"], "req/s", 0.90, err["v2_page_16"])
    osc = f.get("osc") or {}
    if "wall" in osc:
        line(f"openstack image list, {n} images (issue 23: measured, no target)", "-",
             f"{osc['wall']:.1f} s, server {fmt_share(osc['server_s'] / osc['wall'])}", None,
             osc.get("wrong", 0))
    else:
        line(f"openstack image list, {n} images (issue 23: measured, no target)", "-",
             osc.get("skipped", "-"), None)


def print_scale(f, old, path):
    """Issue 13's goals at scale: this run (say 100,000 images) against a
    saved one (10,000): HEAD, a page and a filtered page as fast (as shares
    of each run's reference when both have one, which takes out some of the
    machine's drift; else raw rates), the whole list in time linear in its
    size (p50 at c=1 per 1,000 images), the same memory; each within
    SCALE_SLACK."""
    n, m = f["images"], old["images"]
    print()
    print(f"at {n} images against {m} ({path}; each within {SCALE_SLACK:.0%}, the harness's allowance for noise):")
    print()
    print(f"| goal | target | {n} images | {m} images | ratio | |")
    print("|---|---|---|---|---|---|")

    def line(goal, target, now, then, unit, fmt, at_least, key=None):
        if now is None or not then:
            print(f"| {goal} | {target} | - | - | - | - |")
            return
        x = now / then
        ok = x >= 1 - SCALE_SLACK if at_least else x <= 1 + SCALE_SLACK
        # A rate taken with errors reaches nothing, in either run.
        wrong = key and (f["errors"][key] or old["errors"][key])
        note = " (errors)" if wrong else ""
        print(f"| {goal} | {target} | {fmt(now)}{unit} | {fmt(then)}{unit} | {x:.2f}{note} |"
              f" {'reached' if ok and not wrong else 'not reached'} |")

    both = f["reference"] and old["reference"]
    for key, goal in (("head_16", "HEAD /images/{id}, c=16"), ("page_16", "GET /images/detail?limit=25, c=16"),
                      ("filtered_16", "a filtered page of 25, c=16")):
        if both:
            now = f[key] and f[key] / f["reference"]
            then = old[key] and old[key] / old["reference"]
            line(goal + ", share of the reference", "as fast", now, then, "", fmt_share, True, key)
        else:
            line(goal + ", req/s", "as fast", f[key], old[key], "", lambda v: f"{v:.0f}", True, key)
    per = [r and r / 1000 / (k / 1000) for r, k in ((f["whole_1_p50_us"], n), (old["whole_1_p50_us"], m))]
    line("the whole list, c=1, p50 per 1,000 images", "linear", per[0], per[1], " ms", lambda v: f"{v:.2f}", False,
         "whole_1_p50_us")
    line("resident after the read rows", "the same", f["resident_after_kib"] / 1024, old["resident_after_kib"] / 1024,
         " MiB", lambda v: f"{v:.1f}", False)
    line(f"peak resident, {READERS} readers of the whole list", "the same", f["readers_peak_kib"] / 1024,
         old["readers_peak_kib"] / 1024, " MiB", lambda v: f"{v:.1f}", False)


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
    """`--large`: only the 512 MiB registration against md5sum."""
    print()
    print_large(measure_large(args.binary, args.large_mib))


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


def fresh_server(binary, work, name, log=None):
    """A fresh offline plankton with its own database, store root and token
    file; `log`, if given, is its RUST_LOG."""
    d = os.path.join(work, name)
    os.makedirs(os.path.join(d, "objects"))
    with open(os.path.join(d, "tokens"), "w") as f:
        f.write(f"{TOKEN} {USER}\n")
    os.chmod(os.path.join(d, "tokens"), 0o600)
    server = Server(binary, d, free_port())
    server.log = log
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


# The access log's lines, for the rows that time the server's requests.
ACCESS_LOG = "warn,actix_web::middleware::logger=info"


def log_size(server):
    return os.path.getsize(os.path.join(server.workdir, "log"))


def request_seconds(server, method, marker, since=0):
    """The seconds the server's access log (from byte `since`) gives the
    `method` requests whose request line holds `marker`, added (how many,
    seconds)."""
    n, total = 0, 0.0
    with open(os.path.join(server.workdir, "log"), errors="replace") as f:
        f.seek(since)
        for line in f:
            if f'"{method} ' not in line or marker not in line:
                continue
            for word in line.split():
                if word.endswith("ms"):
                    try:
                        total += float(word[:-2]) / 1000
                        n += 1
                    except ValueError:
                        pass
                    break
    return n, total


def settle_md5(port, name, want):
    """A HEAD of the object until its MD5 is there (it is computed after the
    201 of an assembly of known blocks); the seconds it waited."""
    t0 = time.perf_counter()
    status, etag, _ = object_etag(port, name)
    if status != 200 or (etag or "").strip('"') != want:
        sys.exit(f"the first upload of {name}: HEAD {status}, ETag {etag}, not {want}")
    return time.perf_counter() - t0


def make_delta_file(src, dst, block=100):
    """A copy of `src` whose 4 MiB block number `block` is other bytes: a new
    build of an image that differs in one block. Its MD5."""
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as f:
        f.seek(block * 4 * MIB)
        f.write(random.Random(7).randbytes(4 * MIB))
    subprocess.run(["cat", dst], stdout=subprocess.DEVNULL, check=True)
    return subprocess.run(["md5sum", dst], capture_output=True, text=True, check=True).stdout.split()[0]


def again_row(args, work, label, client, size, baseline):
    """`kamaki-again` / `kamaki-same` / `kamaki-delta`: on a fresh server,
    kamaki uploads the file as `base` (untimed) and a HEAD waits for its MD5;
    then, timed, kamaki uploads the same file again under another name, or
    under the same name with `-f` (kamaki's "overwrite / resume"), or the
    one-block delta under another name. The server's part is its access
    log's time for the requests of the timed upload (the hashmap PUTs;
    block POSTs apart)."""
    server = fresh_server(args.binary, work, label, log=ACCESS_LOG)
    port = server.port
    bad = []
    try:
        logdir = os.path.join(server.workdir, "clients")
        os.makedirs(logdir)
        env = kamaki_setup(args.kamaki, os.path.join(server.workdir, "home"), port)
        first = [[args.kamaki, "file", "upload", "-N", args.upload_file, "/images/base"]]
        _, res = run_clients(first, env, logdir)
        if res[0][1] != 0:
            sys.exit(f"{label}: the first upload failed; see {logdir}")
        settled = settle_md5(port, "base", args.md5)
        path, want = (args.delta_file, args.delta_md5) if client == "kamaki-delta" else (args.upload_file, args.md5)
        name = "base" if client == "kamaki-same" else "big-0"
        force = ["-f"] if client == "kamaki-same" else []
        argv = [[args.kamaki, "file", "upload", "-N", *force, path, f"/images/{name}"]]
        since = log_size(server)
        cpu0 = cpu_s(server.proc.pid)
        with RssSampler(server) as rss:
            wall, results = run_clients(argv, env, logdir)
        cpu = cpu_s(server.proc.pid) - cpu0
        t0 = time.perf_counter()
        status, etag, length = object_etag(port, name)
        head_s = time.perf_counter() - t0
        if results[0][1] != 0 or status != 200 or (etag or "").strip('"') != want or length != str(size):
            bad.append(f"exit {results[0][1]}, HEAD {status} ETag {etag} length {length}")
        puts = request_seconds(server, "PUT", f"/images/{name}?", since)
        posts = request_seconds(server, "POST", f"/{USER}/images?", since)
        for b in bad:
            print(f"  {label} {b}; see {logdir}", file=sys.stderr)
    finally:
        server.stop()
    if bad:
        shutil.rmtree(os.path.join(server.workdir, "objects"), ignore_errors=True)
        args.keep_failed = True
    elif not args.keep:
        shutil.rmtree(server.workdir, ignore_errors=True)
    return {
        "label": label, "n": 1, "wall": wall, "each": [wall], "client_cpu": results[0][2],
        "server_cpu": cpu, "before": rss.before, "peak": rss.peak, "bad": len(bad),
        "ratio": wall / baseline, "mibs": size / MIB / wall, "puts": puts, "posts": posts,
        "head_s": head_s, "settled": settled,
    }


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
        if client == "curl-v2":
            ids = [create_v2(port, f"big-{i}") for i in range(n)]
            argvs = [["curl", "-sS", "--fail", "-X", "PUT", "-T", args.upload_file,
                      "-H", f"X-Auth-Token: {TOKEN}", "-H", "Content-Type: application/octet-stream",
                      "-H", f"X-OpenStack-Image-Size: {size}", "-o", "/dev/null",
                      f"http://127.0.0.1:{port}/v2/images/{i}/file"] for i in ids]
        elif client == "curl":
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
            if client == "curl-v2":
                got = show_v2(port, ids[i])
                want = {"status": "active", "size": size, "checksum": md5, "os_hash_value": args.sha512}
                seen = {k: got.get(k) for k in want}
                if rc != 0 or seen != want:
                    bad.append(f"#{i}: exit {rc}, {seen}")
            elif client == "curl":
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


def create_v2(port, name):
    """`POST /v2/images` of a queued raw/bare image; its id."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"name": name, "disk_format": "raw", "container_format": "bare"})
    c.request("POST", "/v2/images", body=body, headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json"})
    r = c.getresponse()
    doc = r.read()
    if r.status != 201:
        sys.exit(f"POST /v2/images: {r.status} {doc[:200]!r}")
    return json.loads(doc)["id"]


def show_v2(port, image_id):
    """`GET /v2/images/{id}`: the image as JSON ({} if not 200)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", f"/v2/images/{image_id}", headers={"X-Auth-Token": TOKEN})
    r = c.getresponse()
    doc = r.read()
    return json.loads(doc) if r.status == 200 else {}


def hash_baseline_v2(path):
    """md5sum, sha256sum, then sha512sum of `path` (in the page cache), one
    after another: (sha512 hex, seconds of the three)."""
    t0 = time.perf_counter()
    for tool in ("md5sum", "sha256sum", "sha512sum"):
        out = subprocess.run([tool, path], capture_output=True, text=True, check=True).stdout
    return out.split()[0], time.perf_counter() - t0


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
                ("kamaki-many", f"kamaki, {args.upload_at_once} at once", args.upload_at_once, "kamaki"),
                ("v2", "curl, PUT /v2/images/{id}/file, one upload (x md5sum + sha256sum + sha512sum)", 1,
                 "curl-v2"),
                ("kamaki-again", "kamaki, the same file again (another name)", 1, "kamaki-again"),
                ("kamaki-same", "kamaki, the same file again (the same name, -f)", 1, "kamaki-same"),
                ("kamaki-delta", "kamaki, a new build: one 4 MiB block differs (another name)", 1,
                 "kamaki-delta")]
        args.md5 = md5
        if "kamaki-delta" in args.upload_rows and kamaki_ok:
            args.delta_file = os.path.join(work, "delta.img")
            args.delta_md5 = make_delta_file(args.upload_file, args.delta_file)
        for key, label, n, client in plan:
            if key not in args.upload_rows or n < 1:
                continue
            if client == "kamaki" and not kamaki_ok:
                print(f"  skipping '{label}': no kamaki at {args.kamaki}", file=sys.stderr)
                continue
            print(f"  {label} ...", file=sys.stderr, flush=True)
            if client == "curl-v2":
                # The server hashes MD5, SHA-256 (Pithos) and SHA-512 (os_hash) in one pass.
                args.sha512, base = hash_baseline_v2(args.upload_file)
                goal = 0.6
            else:
                _, m, s = hash_baseline(args.upload_file)
                base, goal = m + s, 1.0
            load = os.getloadavg()[0]
            if client in ("kamaki-again", "kamaki-same", "kamaki-delta"):
                r = again_row(args, work, key, client, size, base)
                goal = 0.1
            else:
                r = upload_row(args, work, key, n, client, size, md5, base)
            r.update(label=label, baseline=base, load=load, goal=goal)
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
              " load avg before | answers | target (x <= 1, v2: x <= 0.6; growth <= 64 MiB) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            many = r["n"] > 1
            x = f"{r['ratio']:.2f}" + (f" (of {r['n']} x baseline)" if many else "")
            each = f"{min(r['each']):.2f}-{max(r['each']):.2f}" if many else f"{r['each'][0]:.2f}"
            ok = "ok" if not r["bad"] else f"{r['bad']} of {r['n']} WRONG"
            growth = (r["peak"] - r["before"]) / 1024
            misses = [w for w, bad in (("time", r["ratio"] > r["goal"]), ("memory", growth > 64)) if bad]
            target = "met" if not misses else "NOT met (" + ", ".join(misses) + ")"
            print(f"| {r['label']} | {r['wall']:.2f} | {r['mibs']:.0f} | {r['baseline']:.2f} | {x} | {each} |"
                  f" {r['before'] / 1024:.1f} | {growth:.1f} | {r['server_cpu']:.1f} | {r['client_cpu']:.1f} |"
                  f" {r['load']:.1f} | {ok} | {target} |")
        again = [r for r in rows if "puts" in r]
        if again:
            print()
            print("| upload | wall s | x baseline | kamaki CPU s | server: hashmap PUTs (n, s) | x baseline |"
                  " block POSTs (n, s) | server CPU s | the first upload's MD5 settled by a HEAD, s |"
                  " HEAD after, s | answers | goal: server's part < 10 % | goal: wall < 10 % |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            for r in again:
                (pn, ps), (bn, bs) = r["puts"], r["posts"]
                ok = "ok" if not r["bad"] else "WRONG"
                print(f"| {r['label']} | {r['wall']:.2f} | {r['ratio']:.2f} | {r['client_cpu']:.1f} | {pn}, {ps:.2f} |"
                      f" {ps / r['baseline']:.3f} | {bn}, {bs:.2f} | {r['server_cpu']:.1f} | {r['settled']:.2f} |"
                      f" {r['head_s']:.2f} | {ok} | {reached(ps / r['baseline'] < 0.10)} | {reached(r['ratio'] < 0.10)} |")
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


def reached(ok):
    """A goal's verdict as the tables print it."""
    return "reached" if ok else "NOT reached"


def run_v2(args):
    """`--v2`: only issue 23's read rows, on --images images loaded as the
    default mode loads them: HEAD /images/{id} and its v2 show, v1's detail
    page of 25 and v2's page of 25, at each --concurrency, the pairs
    measured one after the other --repeat times (the machine may be shared:
    each ratio is taken within a round, and the median round is kept); then
    `openstack image list` over all the images."""
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (make bench installs it: apt-get install wrk)")
    work = new_workdir("plankton-bench-v2-")
    server = None
    try:
        n = args.images
        make_objects(os.path.join(work, "objects"), n)
        port = free_port()
        server = Server(args.binary, work, port)
        server.start()
        ids, load_s = register_all(port, n)
        server.stop()
        server.start()
        base = f"http://127.0.0.1:{port}"
        some_id = ids[n // 2]
        pairs = [
            ("show", (ROW_HEAD, f"{base}/images/{some_id}", "HEAD"),
             (ROW_V2_SHOW, f"{base}/v2/images/{some_id}", "GET"), 1.0),
            ("page", (ROW_PAGE, f"{base}/images/detail?limit=25", "GET"),
             (ROW_V2_PAGE, f"{base}/v2/images?limit=25", "GET"), 0.9),
        ]
        rounds = {}
        for key, (l1, u1, m1), (l2, u2, m2), goal in pairs:
            for c in args.concurrency:
                for _ in range(args.repeat):
                    v1 = wrk(u1, c, args.seconds, method=m1)
                    v2 = wrk(u2, c, args.seconds, method=m2)
                    rounds.setdefault((key, c), []).append((v2["rps"] / v1["rps"], v1, v2))
        osc = openstack_image_list(args, server, n) if not args.no_osc else {"skipped": "skipped (--no-osc)"}
        print()
        print(f"plankton v2 benchmark: {n} images x {PROPS} properties, {os.cpu_count()} cores, wrk keep-alive,"
              f" {args.seconds}s per cell, {args.repeat} rounds per pair (v1 then v2), loaded in {load_s:.1f} s")
        print()
        print("| pair | c | v1 req/s | v2 req/s | v2 / v1 (median round) | every round | v1 p99 ms | v2 p99 ms |"
              " errors | goal |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for key, (l1, _, _), (l2, _, _), goal in pairs:
            for c in args.concurrency:
                rs = sorted(rounds[(key, c)], key=lambda r: r[0])
                ratio, v1, v2 = rs[len(rs) // 2]
                bad = sum(errors_of(r[1]) + errors_of(r[2]) for r in rs)
                every = ", ".join(f"{r[0]:.2f}" for r in rounds[(key, c)])
                met = "met" if ratio >= goal and not bad else "NOT met"
                print(f"| {l2} x {l1} | {c} | {v1['rps']:.0f} | {v2['rps']:.0f} | {ratio:.2f} | {every} |"
                      f" {fmt_ms(v1['p99'])} | {fmt_ms(v2['p99'])} | {bad} | >= {goal:.2f}: {met} |")
        print()
        print_osc(osc, n)
    finally:
        if server:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


# --- Issue 26: rows on PostgreSQL beside SQLite's, in the same run ---------

# The PostgreSQL rows' goals (issue 26, "Speed"): reads at least a third of
# SQLite's, durable registrations at least SQLite's, two processes on one
# database no worse than one (within SCALE_SLACK, the harness's allowance
# for run-to-run noise on a shared machine).
PG_READ_SHARE = 1 / 3
PG_C = 16


def pg_bindir():
    """Debian's newest /usr/lib/postgresql/<major>/bin, or PG_BINDIR."""
    if os.environ.get("PG_BINDIR"):
        return os.environ["PG_BINDIR"]
    base = "/usr/lib/postgresql"
    majors = sorted((int(d), d) for d in os.listdir(base) if d.isdigit()) if os.path.isdir(base) else []
    for _, d in reversed(majors):
        if os.path.exists(os.path.join(base, d, "bin", "initdb")):
            return os.path.join(base, d, "bin")
    return None


class ThrowawayPg:
    """A PostgreSQL server of the bench's own, durable as production
    (fsync and synchronous_commit on), in a short /tmp directory listening
    on its socket only; as the `postgres` user when run as root (initdb
    refuses root). Stopped and removed by `stop`."""

    def __init__(self):
        self.bin = pg_bindir()
        if not self.bin:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql-15)")
        self.dir = tempfile.mkdtemp(prefix="plkpgb-", dir="/tmp")
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            subprocess.run(["chown", "postgres:", self.dir], check=True)
        self.port = 5432

    def cmd(self, program, *argv):
        path = os.path.join(self.bin, program)
        return (["runuser", "-u", "postgres", "--", path] if self.as_postgres else [path]) + list(argv)

    def start(self):
        data = os.path.join(self.dir, "data")
        subprocess.run(self.cmd("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                "--no-instructions", "--locale=C.UTF-8"),
                       check=True, stdout=subprocess.DEVNULL)
        options = (f"-k {self.dir} -p {self.port} -c listen_addresses= -c fsync=on "
                    f"-c synchronous_commit=on -c max_connections=200 -c shared_buffers=256MB")
        subprocess.run(self.cmd("pg_ctl", "-D", data, "-l", os.path.join(self.dir, "log"), "-o", options,
                                "-w", "-t", "60", "start"), check=True, stdout=subprocess.DEVNULL)

    def create(self, name):
        subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-U", "postgres", "-h", self.dir,
                        "-p", str(self.port), "-d", "postgres", "-c", f"CREATE DATABASE {name}"], check=True)
        return f"postgresql://postgres@/{name}?host={self.dir}&port={self.port}"

    def stop(self):
        subprocess.run(self.cmd("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "-w", "stop"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


class PgPlankton(Server):
    """plankton with its catalogue at a PostgreSQL URL."""

    def __init__(self, binary, workdir, port, url):
        super().__init__(binary, workdir, port)
        self.url = url

    def env(self):
        env = super().env()
        env["PLANKTON_DATABASE"] = self.url
        return env


def pg_register_lua(n):
    """wrk's script of the registrations row: re-registers one of the n
    locations at random under a new name (a durable write each)."""
    return (
        f'local n = {n}\n'
        'request = function()\n'
        '  local i = math.random(0, n - 1)\n'
        '  local f = string.format("img-%05d.raw", i)\n'
        '  return wrk.format("POST", "/images", {["X-Image-Meta-Name"] = "re-" .. f,\n'
        f'    ["X-Auth-Token"] = "{TOKEN}",\n'
        f'    ["X-Image-Meta-Location"] = "pithos://{USER}/images/" .. f}})\n'
        'end\n'
    )


def pg_engine_rows(args, servers, ids, n):
    """HEAD of one image, a page of 25 and durable registrations at c=16,
    wrk spread over `servers` (c=16 in all); each row's summed figures."""
    some_id = ids[n // 2]
    rows = {}
    for label, path, method, lua in (
            (ROW_HEAD, f"/images/{some_id}", "HEAD", ""),
            (ROW_PAGE, "/images/detail?limit=25", "GET", ""),
            (ROW_REGISTER, "/images", "POST", pg_register_lua(n))):
        out = [None] * len(servers)

        def one(i):
            s = servers[i]
            out[i] = wrk(f"http://127.0.0.1:{s.port}{path}", PG_C // len(servers), args.seconds, lua, method)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows[label] = {"rps": sum(r["rps"] for r in out), "p99": max(r["p99"] for r in out),
                       "errors": sum(errors_of(r) for r in out)}
    return rows


def pg_loaded(args, work, n, url=None):
    """A server on `work` (SQLite, or `url`) loaded with n images and
    restarted; (it, the ids, loading seconds)."""
    port = free_port()
    server = PgPlankton(args.binary, work, port, url) if url else Server(args.binary, work, port)
    server.start()
    ids, load_s = register_all(port, n)
    server.stop()
    server.start()
    return server, ids, load_s


def pg_section(args):
    """Issue 26's rows: the same images on SQLite and on a throwaway
    PostgreSQL, HEAD, page and registrations at c=16 on each, then two
    processes on the PostgreSQL database beside one; their figures."""
    n = args.images
    pg = ThrowawayPg()
    servers, works = [], []
    try:
        pg.start()
        url = pg.create("plankton")
        out = {"n": n}
        for engine in ("sqlite", "postgres"):
            work = new_workdir(f"plankton-bench-{engine}-")
            works.append(work)
            make_objects(os.path.join(work, "objects"), n)
            print(f"  issue 26: {n} images on {engine} ...", file=sys.stderr, flush=True)
            server, ids, load_s = pg_loaded(args, work, n, url if engine == "postgres" else None)
            servers.append(server)
            out[engine] = pg_engine_rows(args, [server], ids, n)
            out[engine]["load_s"] = load_s
        second = PgPlankton(args.binary, works[1], free_port(), url)
        second.start()
        servers.append(second)
        out["two"] = pg_engine_rows(args, servers[1:], ids, n)
        return out
    finally:
        for s in servers:
            s.stop()
        pg.stop()
        if not args.keep:
            for w in works:
                shutil.rmtree(w, ignore_errors=True)


def print_pg_section(f):
    """The rows and their goals, reached or not (a figure with errors
    reaches nothing)."""
    lite, pg, two = f["sqlite"], f["postgres"], f["two"]
    print(f"issue 26: {f['n']} images x {PROPS} properties on each engine, wrk c={PG_C}, "
          f"PostgreSQL with fsync and synchronous_commit on (loaded in {lite['load_s']:.1f} s on SQLite, "
          f"{pg['load_s']:.1f} s on PostgreSQL)")
    print()
    print(f"| request, c={PG_C} | SQLite req/s | PostgreSQL req/s | PostgreSQL / SQLite | two processes on one "
          f"PostgreSQL req/s | two / one | p99 ms SQLite / PostgreSQL / two |")
    print("|---|---|---|---|---|---|---|")
    for label in (ROW_HEAD, ROW_PAGE, ROW_REGISTER):
        a, b, c = lite[label], pg[label], two[label]
        errs = a["errors"] + b["errors"] + c["errors"]
        note = f" ({errs} errors)" if errs else ""
        print(f"| {label}{note} | {a['rps']:.0f} | {b['rps']:.0f} | {b['rps'] / a['rps']:.2f} | {c['rps']:.0f} |"
              f" {c['rps'] / b['rps']:.2f} | {fmt_ms(a['p99'])} / {fmt_ms(b['p99'])} / {fmt_ms(c['p99'])} |")
    print()
    print("| issue 26 goal | this run | verdict |")
    print("|---|---|---|")

    def clean(*rows):
        return not any(r["errors"] for r in rows)
    for label, what in ((ROW_HEAD, "HEAD of one image"), (ROW_PAGE, "a page of 25")):
        share = pg[label]["rps"] / lite[label]["rps"]
        print(f"| {what} on PostgreSQL >= a third of SQLite's | {share:.2f} |"
              f" {reached(share >= PG_READ_SHARE and clean(pg[label], lite[label]))} |")
    share = pg[ROW_REGISTER]["rps"] / lite[ROW_REGISTER]["rps"]
    print(f"| durable registrations on PostgreSQL >= SQLite's | {share:.2f} |"
          f" {reached(share >= 1 and clean(pg[ROW_REGISTER], lite[ROW_REGISTER]))} |")
    for label in (ROW_HEAD, ROW_PAGE, ROW_REGISTER):
        share = two[label]["rps"] / pg[label]["rps"]
        print(f"| two processes on one database no worse than one ({label}; {SCALE_SLACK:.0%} allowed for noise)"
              f" | {share:.2f} | {reached(share >= 1 - SCALE_SLACK and clean(two[label], pg[label]))} |")


def run_pg(args):
    """`--pg`: only issue 26's rows."""
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (make bench installs it: apt-get install wrk)")
    t0 = time.perf_counter()
    f = pg_section(args)
    print()
    print_pg_section(f)
    print()
    print(f"issue 26's rows took {time.perf_counter() - t0:.0f} s")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default="target/release/plankton")
    p.add_argument("--images", type=int, default=10_000,
                   help="images loaded through the API (10,000; issue 13's second scale is 100,000)")
    p.add_argument("--seconds", type=int, default=5,
                   help="seconds per wrk cell, and of the raw write + fsync loop (5)")
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64])
    p.add_argument("--no-reference", action="store_true",
                   help="skip the reference limit (building and measuring bench/reference)")
    p.add_argument("--reference-binary", help="a reference server already built (skips the build)")
    p.add_argument("--large", action="store_true", help="only the 512 MiB registration against md5sum")
    p.add_argument("--large-mib", type=int, default=512,
                   help="the size of the file registered against md5sum (by --large and the default mode)")
    p.add_argument("--save", metavar="FILE", help="write the figures of the goals' table to FILE (JSON)")
    p.add_argument("--compare", metavar="FILE",
                   help="also set this run against one saved by --save: issue 13's goals at scale, e.g."
                        " --images 100000 --compare a run saved at 10,000")
    p.add_argument("--upload", action="store_true",
                   help="only uploads of a 1 GiB file (curl and kamaki, one and eight at once) against"
                        " md5sum + sha256sum, and the v2 upload against md5sum + sha256sum + sha512sum")
    p.add_argument("--upload-mib", type=int, default=1024)
    p.add_argument("--upload-at-once", type=int, default=8)
    p.add_argument("--upload-rows", type=lambda s: s.split(","),
                   default=["curl", "kamaki", "curl-many", "kamaki-many", "v2", "kamaki-again", "kamaki-same",
                            "kamaki-delta", "reads"],
                   help="which upload rows (curl,kamaki,curl-many,kamaki-many,v2,kamaki-again,kamaki-same,"
                        "kamaki-delta,reads: all; v2 is PUT /v2/images/{id}/file with curl; kamaki-again uploads"
                        " the file a second time under another name, kamaki-same under the same name with -f,"
                        " kamaki-delta a copy with one 4 MiB block changed under another name, each after a"
                        " first upload of the file on the same server; reads is HEAD at c=16, idle and beside"
                        " curl, --upload-at-once at once)")
    p.add_argument("--upload-dir", help="where the file and the stores go (default: the temporary directory)")
    p.add_argument("--kamaki", default=os.environ.get("BENCH_KAMAKI", "target/interop-venvs/py27/bin/kamaki"),
                   help="kamaki 0.16 (default: the interop venv's; BENCH_KAMAKI)")
    p.add_argument("--osc-venv", default=os.environ.get("BENCH_OSC_VENV", OSC_VENV),
                   help="the venv with python-openstackclient for `openstack image list` (default: the interop"
                        " venv py311-osc; BENCH_OSC_VENV)")
    p.add_argument("--v2", action="store_true",
                   help="only issue 23's read rows: v2's show and page beside v1's HEAD and page, --repeat"
                        " rounds each, then `openstack image list` over --images images")
    p.add_argument("--repeat", type=int, default=3, help="rounds per pair of rows in --v2 (3)")
    p.add_argument("--no-osc", action="store_true", help="--v2 without `openstack image list`")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--pg", action="store_true",
                   help="only issue 26's rows: SQLite and PostgreSQL side by side, two processes on one database")
    p.add_argument("--no-pg", action="store_true", help="the default mode without issue 26's rows")
    p.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                   help="only a soak: mixed load at c=64 for SECONDS")
    args = p.parse_args()
    if args.soak:
        run_soak(args)
    elif args.large:
        run_large(args)
    elif args.upload:
        run_upload(args)
    elif args.v2:
        run_v2(args)
    elif args.pg:
        run_pg(args)
    else:
        run(args)
        if not args.no_pg:
            run_pg(args)


if __name__ == "__main__":
    main()
