# -*- coding: utf-8 -*-
"""plankton serving HTTPS itself (tls.certificate, tls.private_key) with a
certificate that run.sh made for this run: glance (python-glanceclient,
Python 3) with --os-cacert, and kamaki (Python 2.7) with its ca_certs
setting, each trusting only that CA; given other CAs, each refuses the
server.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from interop import Env, Story, eq, ok, pattern, read_file, run, same_bytes, table_dicts  # noqa: E402

env = Env()
story = Story('https')
A_TOKEN, A_ID, A_NAME = env.alice
CA = os.environ['INTEROP_CA']
GLANCE = os.path.join(env.bin, 'glance')
KAMAKI = os.path.join(os.environ['INTEROP_PY27_BIN'], 'kamaki')
DATA = pattern(3 * 1024 * 1024 + 7, 'https-story')
DATA_FILE = os.path.join(env.work, 'tls.img')
with open(DATA_FILE, 'wb') as f:
    f.write(DATA)


def glance(*args, **kw):
    """glance --os-image-api-version 1 over https, trusting the CA bundle
    `cacert` (the run's CA by default)."""
    argv = [GLANCE, '--os-image-api-version', '1', '--os-image-url', env.url,
            '--os-auth-token', A_TOKEN, '--os-cacert', kw.get('cacert', CA)]
    return run(argv + list(args), check=kw.get('check', True))


def kamaki(*args, **kw):
    return run([KAMAKI] + list(args), check=kw.get('check', True))


@story.step('the server says https')
def scheme():
    ok(env.url.startswith('https://'), 'PLANKTON_URL is %s' % env.url)
    return True


@story.step('glance trusting only the public CAs refuses the server', needs=('scheme',))
def glance_untrusted():
    # Without --os-cacert at all glanceclient 4.13 does not verify (requests
    # with verify=None): the public bundle stands for "not this CA".
    import certifi
    r = glance('image-list', cacert=certifi.where(), check=False)
    ok(r.code != 0, 'glance trusted an unknown CA:\n%s' % r)
    text = (r.out + r.err).lower()
    ok('certificate' in text or 'ssl' in text, 'no word of the certificate:\n%s' % r)
    return True


@story.step('glance --os-cacert: image-create --file, image-list, image-download',
            needs=('scheme',))
def glance_trusted():
    created = glance('image-create', '--name', 'over tls', '--disk-format', 'diskdump',
                     '--container-format', 'bare', '--file', DATA_FILE)
    image_id = dict((r['Property'], r['Value']) for r in table_dicts(created.out))['id']
    ids = [row['ID'] for row in table_dicts(glance('image-list').out)]
    eq(ids, [image_id], 'glance image-list')
    path = os.path.join(env.work, 'tls.back')
    glance('image-download', image_id, '--file', path)
    same_bytes(read_file(path), DATA, 'glance image-download over https')
    return image_id


@story.step('kamaki with ca_certs: user info and image list', needs=('glance_trusted',))
def kamaki_trusted():
    kamaki('config', 'set', 'cloud.alice.url', env.identity_url)
    kamaki('config', 'set', 'cloud.alice.token', A_TOKEN)
    kamaki('config', 'set', 'default_cloud', 'alice')
    kamaki('config', 'set', 'ca_certs', CA)
    info = json.loads(kamaki('user', 'info', '--output-format', 'json').out)
    eq(info.get('id'), A_ID, 'kamaki user info')
    images = json.loads(kamaki('image', 'list', '--output-format', 'json').out)
    eq([i['id'] for i in images], [story.state['glance_trusted']], 'kamaki image list')
    return True


@story.step('kamaki without the CA refuses the server', needs=('kamaki_trusted',))
def kamaki_untrusted():
    kamaki('config', 'set', 'ca_certs', os.path.join(env.work, 'no-such-ca.pem'))
    r = kamaki('image', 'list', check=False)
    ok(r.code != 0, 'kamaki trusted the server without its CA:\n%s' % r)
    kamaki('config', 'set', 'ca_certs', CA)
    return True


story.finish()
