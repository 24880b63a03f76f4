# -*- coding: utf-8 -*-
"""One catalogue, three clients (docs/api.md §17.12): images made with the
`openstack` command line (Image API v2, Python 3.11) seen and downloaded
with `kamaki` (v1 and the object store, Python 2.7, run from its own venv),
and images registered and shared with kamaki seen with `openstack`; a v2
member who has not accepted sees what §17 says in each API.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from interop import (Env, Story, contains, eq, md5, not_contains, ok, pattern,  # noqa: E402
                     read_file, run, same_bytes, subset)
from osc import osc, osc_json  # noqa: E402

env = Env()
story = Story('cross-api')
A_TOKEN, A_ID, _ = env.alice
B_TOKEN, B_ID, _ = env.bob
KAMAKI = os.path.join(os.environ['INTEROP_PY27_BIN'], 'kamaki')
# The container where image API uploads land (store.upload_container, §11).
UPLOADS = 'images'
DISK = pattern(4 * 1024 * 1024 + 4097, 'cross-api-disk')
DISK_FILE = os.path.join(env.work, 'disk.img')
with open(DISK_FILE, 'wb') as f:
    f.write(DISK)
KAMAKI_DISK = pattern(300003, 'cross-api-kamaki')
KAMAKI_LOC = env.put_object(A_ID, 'images', 'kamaki.diskdump', KAMAKI_DISK)


def kamaki(*args, **kw):
    cloud = kw.get('cloud')
    argv = [KAMAKI] + (['--cloud', cloud] if cloud else []) + list(args)
    return run(argv, check=kw.get('check', True))


def kjson(*args, **kw):
    r = kamaki(*(args + ('--output-format', 'json')), **kw)
    try:
        return json.JSONDecoder().raw_decode(r.out.lstrip())[0]
    except ValueError:
        raise AssertionError('kamaki did not print JSON: %s' % r)


def os_ids(token, *args):
    return [r['ID'] for r in osc_json(env, token, 'list', *args)]


def k_ids(cloud):
    return [i['id'] for i in kjson('image', 'list', cloud=cloud)]


@story.step('configure kamaki clouds for alice and bob')
def configure():
    for cloud, token in (('alice', A_TOKEN), ('bob', B_TOKEN)):
        kamaki('config', 'set', 'cloud.%s.url' % cloud, env.identity_url)
        kamaki('config', 'set', 'cloud.%s.token' % cloud, token)
    kamaki('config', 'set', 'default_cloud', 'alice')
    return True


@story.step('openstack image create --file; kamaki image list and info show it')
def v2_create():
    shown = osc_json(env, A_TOKEN, 'create', '--file', DISK_FILE, '--disk-format', 'raw',
                     '--container-format', 'bare', '--property', 'os=debian', 'from-v2')
    eq(shown['status'], 'active', 'openstack image create --file')
    return shown['id']


@story.step('kamaki image list and image info show the v2 image', needs=('configure', 'v2_create'))
def kamaki_sees():
    i = story.state['v2_create']
    contains(k_ids('alice'), i, 'kamaki image list')
    info = kjson('image', 'info', i)
    subset(info, {'id': i, 'name': 'from-v2', 'status': 'available', 'owner': A_ID,
                  'size': '%d' % len(DISK), 'disk_format': 'raw', 'container_format': 'bare',
                  'location': 'pithos://%s/%s/%s' % (A_ID, UPLOADS, i)},
           'kamaki image info')
    eq(info.get('properties', {}).get('os'), 'debian', 'the v2 property in v1')


@story.step('kamaki file download gives the v2 upload back byte for byte',
            needs=('configure', 'v2_create'))
def kamaki_download():
    local = os.path.join(env.work, 'kamaki-download.img')
    kamaki('file', 'download', '/%s/%s' % (UPLOADS, story.state['v2_create']), local)
    same_bytes(read_file(local), DISK, 'kamaki file download')
    ok(md5(read_file(local)) == osc_json(env, A_TOKEN, 'show', story.state['v2_create'])
       ['checksum'], 'the v2 checksum is the MD5 of the bytes')


@story.step('kamaki image register + modify --member-add: bob lists it with openstack',
            needs=('configure',))
def kamaki_share():
    r = kjson('image', 'register', '--name', 'from-kamaki', '--location', KAMAKI_LOC,
              '--no-metafile-upload', '--disk-format', 'diskdump')
    i = r['id']
    not_contains(os_ids(B_TOKEN), i, "bob's openstack list before sharing")
    kamaki('image', 'modify', i, '--member-add', B_ID)
    contains(os_ids(B_TOKEN), i, "bob's openstack list (v1 members are accepted)")
    shown = osc_json(env, B_TOKEN, 'show', i)
    subset(shown, {'visibility': 'shared', 'status': 'active', 'size': len(KAMAKI_DISK)},
           'bob: openstack image show')
    out = os.path.join(env.work, 'bob-kamaki.img')
    osc(env, B_TOKEN, 'save', '--file', out, i)
    same_bytes(read_file(out), KAMAKI_DISK, 'bob: openstack image save')
    rows = osc_json(env, A_TOKEN, 'member', 'list', i)
    eq([(m['Member ID'], m['Status']) for m in rows], [(B_ID, 'accepted')],
       'alice: openstack image member list')
    return i


@story.step('a pending v2 member: out of the default list, in --member-status pending, '
            'readable by id, listed by kamaki', needs=('configure', 'v2_create'))
def pending():
    i = story.state['v2_create']
    osc(env, A_TOKEN, 'add', 'project', i, B_ID)
    not_contains(os_ids(B_TOKEN), i, "bob's default openstack image list")
    contains(os_ids(B_TOKEN, '--member-status', 'pending'), i, '--member-status pending')
    eq(osc_json(env, B_TOKEN, 'show', i)['id'], i, 'bob: openstack image show by id')
    contains(k_ids('bob'), i, "bob's kamaki image list (v1 lists pending members' images)")
    eq(kjson('image', 'info', i, cloud='bob')['name'], 'from-v2', 'bob: kamaki image info')


@story.step('a rejected v2 member: in neither default list, still readable by id',
            needs=('pending',))
def rejected():
    i = story.state['v2_create']
    osc(env, B_TOKEN, 'set', '--reject', '--project', B_ID, i)
    not_contains(os_ids(B_TOKEN), i, "bob's default openstack image list")
    not_contains(k_ids('bob'), i, "bob's kamaki image list")
    eq(osc_json(env, B_TOKEN, 'show', i)['id'], i, 'bob: openstack image show by id')


@story.step('openstack image delete: kamaki lists it no more', needs=('configure', 'v2_create'))
def delete():
    i = story.state['v2_create']
    osc(env, A_TOKEN, 'delete', i)
    not_contains(k_ids('alice'), i, 'kamaki image list after the v2 delete')


story.finish()
