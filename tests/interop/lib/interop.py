# -*- coding: utf-8 -*-
"""Shared by the interop stories (Python 2.7 and 3): the story runner, the
assertions, the Pithos hash, the environment that run.sh hands over, and
parsers for what the command lines print.

A story is a list of steps run in order. Each step is one test: it passes, it
fails (an exception: a client error or a wrong value), or it is skipped
because a step it needs failed. The runner prints one line per step,
`PASS <story>: <step>` / `FAIL ...` / `SKIP ...`, which run.sh counts.
"""
from __future__ import print_function, unicode_literals

import hashlib
import io
import json
import os
import subprocess
import sys
import traceback

PY2 = sys.version_info[0] == 2
if PY2:  # pragma: no cover - depends on the interpreter
    text_type = unicode  # noqa: F821
else:
    text_type = str

BLOCK = 4 * 1024 * 1024


class Skip(Exception):
    """A step cannot run because a step it needs failed."""


class Env(object):
    """What run.sh exports for a story: the server, the users, the store."""

    def __init__(self):
        e = os.environ
        self.url = e['PLANKTON_URL']  # http://127.0.0.1:<port><base>
        self.store_root = e['PLANKTON_STORE_ROOT']
        self.work = e['INTEROP_WORK']  # a scratch directory of this story
        self.alice = (e['ALICE_TOKEN'], e['ALICE_ID'], _u(e['ALICE_NAME']))
        self.bob = (e['BOB_TOKEN'], e['BOB_ID'], _u(e['BOB_NAME']))
        self.carol = (e['CAROL_TOKEN'], e['CAROL_ID'], _u(e['CAROL_NAME']))
        self.bin = e.get('INTEROP_BIN', '')  # the venv's bin directory

    @property
    def identity_url(self):
        return self.url + '/identity/v2.0'

    def put_object(self, account, container, path, data):
        """Writes an object into the fs store; returns its pithos:// location."""
        full = os.path.join(self.store_root, account, container, path)
        d = os.path.dirname(full)
        if not os.path.isdir(d):
            os.makedirs(d)
        with open(full, 'wb') as f:
            f.write(data)
        return 'pithos://%s/%s/%s' % (account, container, path)


def _u(s):
    return s.decode('utf-8') if isinstance(s, bytes) else s


def pattern(n, seed):
    """n bytes of deterministic, incompressible-looking data."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(('%s-%d' % (seed, counter)).encode('ascii')).digest()
        counter += 1
    return bytes(out[:n])


def upload_image(seed, short=300001):
    """An image to upload, of four Pithos blocks (a little over 12 MiB):
    data; all NULs (its hash is that of nothing, a block no client
    uploads); data ending in 64 KiB of NULs (hashed without them, stored
    padded back); a short last block, itself ending in NULs."""
    return (pattern(BLOCK, seed + '-data') + b'\x00' * BLOCK
            + pattern(BLOCK - 65536, seed + '-nuls') + b'\x00' * 65536
            + pattern(short - 100, seed + '-short') + b'\x00' * 100)


def block_hashes(data):
    """The hash of each 4 MiB block (SHA-256 without trailing NULs), in order."""
    return [_hex(hashlib.sha256(data[i:i + BLOCK].rstrip(b'\x00')).digest())
            for i in range(0, len(data), BLOCK)]


def pithos_hash(data):
    """The Pithos hash of docs/api.md §9, written again here so the stories
    need nothing outside the repository; tests/data/pithos-hash-vectors.tsv
    (the output of the team's reference implementation, kept outside this
    repository) pins the same function down in tests/api/pithos_hash.rs."""
    hs = [hashlib.sha256(data[i:i + BLOCK].rstrip(b'\x00')).digest()
          for i in range(0, len(data), BLOCK)]
    if not hs:
        return hashlib.sha256(b'').hexdigest()
    if len(hs) == 1:
        return _hex(hs[0])
    s = 2
    while s < len(hs):
        s *= 2
    hs += [b'\x00' * 32] * (s - len(hs))
    while len(hs) > 1:
        hs = [hashlib.sha256(hs[i] + hs[i + 1]).digest()
              for i in range(0, len(hs), 2)]
    return _hex(hs[0])


def _hex(b):
    import binascii
    return binascii.hexlify(b).decode('ascii')


def md5(data):
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------- assertions

def _r(v):
    """repr without Python 2's u'' noise, and non-ASCII shown as is."""
    if isinstance(v, (dict, list, tuple)):
        try:
            return json.dumps(v, ensure_ascii=False, sort_keys=True, default=repr)
        except Exception:
            return repr(v)
    if isinstance(v, text_type):
        return '"%s"' % v
    if isinstance(v, bytes) and not PY2:
        return repr(v)
    return '%s' % (v,) if not isinstance(v, bytes) else '"%s"' % v.decode('utf-8', 'replace')


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError('%s: expected %s, got %s' % (what, _r(expected), _r(actual)))


def same_bytes(actual, expected, what):
    """Byte for byte, reporting sizes and the first difference (not the data)."""
    if actual == expected:
        return
    at = next((i for i, (a, b) in enumerate(zip(actual, expected)) if a != b),
              min(len(actual), len(expected)))
    raise AssertionError('%s: %d bytes where %d were expected, first difference at byte %d '
                         '(block %d); MD5 %s, expected %s' % (
                             what, len(actual), len(expected), at, at // BLOCK,
                             md5(actual), md5(expected)))


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def ok(cond, what):
    if not cond:
        raise AssertionError(what)


def contains(container, item, what):
    if item not in container:
        raise AssertionError('%s: %s not in %s' % (what, _r(item), _r(container)))


def not_contains(container, item, what):
    if item in container:
        raise AssertionError('%s: %s unexpectedly in %s' % (what, _r(item), _r(container)))


def subset(actual, expected, what):
    """Every key of `expected` is in the dict `actual` with that value."""
    wrong = {}
    for k, v in expected.items():
        if k not in actual:
            wrong[k] = 'missing (expected %s)' % _r(v)
        elif actual[k] != v:
            wrong[k] = 'expected %s, got %s' % (_r(v), _r(actual[k]))
    if wrong:
        raise AssertionError('%s: %s (all: %s)' % (
            what, '; '.join('%s %s' % (k, wrong[k]) for k in sorted(wrong)), _r(actual)))


def raises(func, check, what):
    """func() must raise; check(exc) returns a description of what is wrong or None."""
    try:
        result = func()
    except Exception as e:  # noqa: B902 - any client error is the point
        problem = check(e)
        if problem:
            raise AssertionError('%s: %s (%s: %s)' % (what, problem, type(e).__name__, e))
        return e
    raise AssertionError('%s: no error, got %s' % (what, _r(result)))


# --------------------------------------------------------------- the runner

class Story(object):
    """Runs named steps in order; prints PASS/FAIL/SKIP lines; exits 1 on failure."""

    def __init__(self, name):
        self.name = name
        self.results = []
        self.failed_steps = set()
        self.state = {}

    def step(self, title, needs=()):
        """Decorator: run the function now as one step."""
        def run(func):
            missing = [n for n in needs if n in self.failed_steps or n not in self.state]
            if missing:
                self._report('SKIP', title, 'needs %s' % ', '.join(missing))
                self.failed_steps.add(func.__name__)
                return func
            try:
                value = func()
                self.state[func.__name__] = value
                self._report('PASS', title)
            except Skip as s:
                self._report('SKIP', title, '%s' % s)
                self.failed_steps.add(func.__name__)
            except Exception as e:  # noqa: B902 - a failing step is reported, the story goes on
                self.failed_steps.add(func.__name__)
                detail = '%s' % (e,)
                if not isinstance(e, AssertionError):
                    detail = '%s: %s\n%s' % (type(e).__name__, detail, traceback.format_exc())
                self._report('FAIL', title, detail)
            return func
        return run

    def _report(self, verdict, title, detail=''):
        self.results.append(verdict)
        line = '%s %s: %s' % (verdict, self.name, title)
        if detail:
            line += '\n    ' + detail.rstrip().replace('\n', '\n    ')
        _out(line)

    def finish(self):
        failed = self.results.count('FAIL') + self.results.count('SKIP')
        sys.exit(1 if failed else 0)


def _out(line):
    if PY2:
        sys.stdout.write(line.encode('utf-8') + b'\n')
    else:
        sys.stdout.buffer.write(line.encode('utf-8') + b'\n')
    sys.stdout.flush()


# ------------------------------------------------------ running a command line

class Result(object):
    def __init__(self, argv, code, out, err):
        self.argv, self.code, self.out, self.err = argv, code, out, err

    def __str__(self):
        return 'exit %s from %s\n--- stdout\n%s--- stderr\n%s' % (
            self.code, ' '.join(self.argv), self.out, self.err)


def run(argv, env=None, check=True, timeout=120):
    """Runs a command as a user at a terminal would: its standard input is a
    terminal (glance takes a non-terminal stdin for image data), its output
    is captured. Returns Result with text stdout/stderr (UTF-8). A command
    still running after `timeout` seconds (waiting at a prompt, say) is
    killed, and fails."""
    import pty
    import threading
    full_env = dict(os.environ)
    full_env.update({'LC_ALL': 'C.UTF-8', 'LANG': 'C.UTF-8', 'PYTHONIOENCODING': 'utf-8'})
    if env:
        full_env.update(env)
    argv = [a.encode('utf-8') if PY2 and isinstance(a, text_type) else a for a in argv]
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=slave, env=full_env)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            out, err = p.communicate()
        finally:
            timer.cancel()
    finally:
        os.close(slave)
        os.close(master)
    r = Result([_u(a) for a in argv], p.returncode, out.decode('utf-8', 'replace'),
               err.decode('utf-8', 'replace'))
    if check and r.code != 0:
        raise AssertionError('command failed: %s' % r)
    return r


def parse_table(text):
    """Rows of a prettytable (`| a | b |`) as lists of cell strings; the
    header row first. Cells that wrap over several lines are joined."""
    rows = []
    continues = False  # a row that follows a row, not a rule, may be a wrapped cell
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith('|') and line.endswith('|'):
            cells = [c.strip() for c in line[1:-1].split('|')]
            if continues and cells[0] == '' and len(cells) == len(rows[-1]):
                rows[-1] = [(a + ' ' + b).strip() for a, b in zip(rows[-1], cells)]
            else:
                rows.append(cells)
            continues = len(rows) > 1
        elif line.startswith('+'):
            continues = False
    return rows


def table_dicts(text):
    """A prettytable list (header row, then rows) as a list of dicts."""
    rows = parse_table(text)
    if not rows:
        return []
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:]]


def table_dict(text):
    """A prettytable of two columns (Property | Value) as a dict."""
    out = {}
    for r in parse_table(text)[1:]:
        if len(r) == 2:
            out[r[0]] = r[1]
    return out


def write_text(path, text):
    with io.open(path, 'w', encoding='utf-8') as f:
        f.write(text)
