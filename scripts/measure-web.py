#!/usr/bin/env python3
"""Measures the web view (docs/api.md §15) on a catalogue of N images
(10,000 by default): the weight of the catalogue page (its HTML, and the CSS
and icon it loads; the upload page's script beside it), and the time to
render pages of the catalogue, as seen by a client on the loopback over a
kept-alive connection (request sent to last byte read: the server's time
plus a loopback round trip). The API's own first page is timed beside it.

usage: scripts/measure-web.py [--binary target/release/plankton] [--images 10000] [--runs 200]
"""
import argparse, http.client, os, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

TOKEN, USER = "measure-token", "alice"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, work, port):
    env = dict(os.environ, PLANKTON_LISTEN=f"127.0.0.1:{port}",
               PLANKTON_DATABASE=os.path.join(work, "plankton.db"),
               PLANKTON_IDENTITY__TOKEN_FILE=os.path.join(work, "tokens"),
               PLANKTON_STORE__ROOT=os.path.join(work, "objects"), RUST_LOG="warn")
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "log"), "ab"))
    for _ in range(2000):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.01)
    sys.exit("plankton did not start")


def register(port, n, workers=16):
    d = "objects/%s/images" % USER
    nxt, lock = [0], threading.Lock()

    def work():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            h = {"X-Auth-Token": TOKEN, "X-Image-Meta-Name": f"image-{i:05d}",
                 "X-Image-Meta-Location": f"pithos://{USER}/images/img-{i:05d}.raw",
                 "X-Image-Meta-Is-Public": "true" if i % 10 == 0 else "false"}
            for p in range(8):
                h[f"X-Image-Meta-Property-Key{p}"] = f"value-{i % (p + 3)}"
            c.request("POST", "/images", headers=h)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                sys.exit(f"register {i}: {r.status}")

    ts = [threading.Thread(target=work) for _ in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def login(port):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/ui/login")
    r = c.getresponse()
    body = r.read().decode()
    cookie = r.getheader("set-cookie").split(";")[0]
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', body).group(1)
    c.request("POST", "/ui/login", body=f"csrf={csrf}&token={TOKEN}",
              headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    return r.getheader("set-cookie").split(";")[0]


def fetch(c, path, headers):
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    return r.status, r.read()


def timed(port, path, headers, runs):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(5):
        fetch(c, path, headers)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        status, body = fetch(c, path, headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert status == 200, (path, status)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.9)], out[-1], len(body)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default="target/release/plankton")
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=200)
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="plankton-web-")
    try:
        d = os.path.join(work, "objects", USER, "images")
        os.makedirs(d)
        for i in range(a.images):
            with open(os.path.join(d, f"img-{i:05d}.raw"), "wb") as f:
                f.write(f"image {i}\n".encode() * 64)
        with open(os.path.join(work, "tokens"), "w") as f:
            f.write(f"{TOKEN} {USER} Alice\n")
        os.chmod(os.path.join(work, "tokens"), 0o600)
        port = free_port()
        proc = start(os.path.abspath(a.binary), work, port)
        t0 = time.perf_counter()
        register(port, a.images)
        print(f"registered {a.images} images in {time.perf_counter() - t0:.1f} s")
        cookie = {"Cookie": login(port)}
        c = http.client.HTTPConnection("127.0.0.1", port)
        _, html = fetch(c, "/ui/", cookie)
        html = html.decode()
        assets = re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', html)
        weights = {"html": len(html.encode())}
        for path in sorted(set(assets)):
            weights[path.rsplit("/", 1)[1]] = len(fetch(c, path, {})[1])
        _, upload = fetch(c, "/ui/upload", cookie)
        script = re.search(r'src="(/ui/static/upload[^"]+)"', upload.decode()).group(1)
        js = len(fetch(c, script, {})[1])
        total = sum(weights.values())
        print("catalogue page weight: " + ", ".join(f"{k} {v} B" for k, v in weights.items())
              + f"; total {total} B (the upload page adds its script, {js} B)")
        _, page2 = fetch(c, "/ui/?sort_key=name", cookie)
        marker = re.search(r'href="([^"]+)" id="next"', page2.decode()).group(1).replace("&#38;", "&")
        print(f"time to last byte over {a.runs} runs, ms (median / p90 / max), bytes:")
        for label, path, h in [
            ("/ui/ first page", "/ui/", cookie),
            ("/ui/?sort_key=name", "/ui/?sort_key=name", cookie),
            ("/ui/ second page by name", marker, cookie),
            ("/ui/?visibility=public", "/ui/?visibility=public", cookie),
            ("/ui/?sort_key=size&sort_dir=desc", "/ui/?sort_key=size&sort_dir=desc", cookie),
            ("API /images/detail?limit=25", "/images/detail?limit=25", {"X-Auth-Token": TOKEN}),
        ]:
            med, p90, mx, n = timed(port, path, h, a.runs)
            print(f"  {label:36} {med:6.2f} / {p90:6.2f} / {mx:6.2f}   {n} B")
        proc.terminate()
        proc.wait(timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
