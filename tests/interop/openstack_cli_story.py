# -*- coding: utf-8 -*-
"""The `openstack image ...` command line (python-openstackclient 10.5.0,
Python 3.11) against plankton's Image API v2 (docs/api.md §17), as a user
types it: admin_token auth at <url>/v2, no Keystone; what each command
sends is in tests/interop/v2-requests.md.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from interop import (Env, Story, contains, eq, md5, not_contains, ok, pattern,  # noqa: E402
                     read_file, same_bytes, subset)
from osc import osc, osc_argv, osc_json  # noqa: E402

env = Env()
story = Story('openstack-cli')
A_TOKEN, A_ID, _ = env.alice
B_TOKEN, B_ID, _ = env.bob
DISK = pattern(3 * 1024 * 1024 + 17, 'openstack-cli-disk')
DISK_FILE = os.path.join(env.work, 'disk.img')
with open(DISK_FILE, 'wb') as f:
    f.write(DISK)
PIPED = pattern(100001, 'openstack-cli-piped')


def alice(*args, **kw):
    return osc(env, A_TOKEN, *args, **kw)


def bob(*args, **kw):
    return osc(env, B_TOKEN, *args, **kw)


def ids(token, *args):
    return [r['ID'] for r in osc_json(env, token, 'list', *args)]


def fails(result, what):
    ok(result.code != 0, '%s: expected the command to fail:\n%s' % (what, result))


@story.step('image create --file with --disk-format/--container-format and a property')
def create_file():
    shown = osc_json(env, A_TOKEN, 'create', '--file', DISK_FILE, '--disk-format', 'raw',
                     '--container-format', 'bare', '--property', 'os=debian', 'debian')
    subset(shown, {'name': 'debian', 'status': 'active', 'disk_format': 'raw',
                   'container_format': 'bare', 'size': len(DISK), 'checksum': md5(DISK),
                   'owner': A_ID, 'visibility': 'shared', 'protected': False},
           'image create --file')
    eq(shown['properties'].get('os'), 'debian', 'property os')
    return shown['id']


def create_piped(name, data):
    """`openstack image create NAME` with data on a pipe (a chunked upload,
    v2-requests.md); returns the new id. The data is raw: plankton inspects
    uploads (docs/api.md §19), so these bytes may only claim to be raw."""
    p = subprocess.run(osc_argv(env, A_TOKEN) + [
        'image', 'create', '--disk-format', 'raw', '--container-format', 'bare',
        name, '-f', 'value', '-c', 'id'], input=data, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=120)
    ok(p.returncode == 0, 'create from stdin: %s' % p.stderr.decode('utf-8', 'replace'))
    return p.stdout.decode().strip()


@story.step('image create from standard input (a pipe)')
def create_stdin():
    image_id = create_piped('piped', PIPED)
    shown = osc_json(env, A_TOKEN, 'show', image_id)
    subset(shown, {'status': 'active', 'size': len(PIPED), 'checksum': md5(PIPED)},
           'image made from stdin')
    return image_id


@story.step('image create from an empty pipe: an active image of 0 bytes (§17.4)')
def create_empty():
    image_id = create_piped('empty', b'')
    shown = osc_json(env, A_TOKEN, 'show', image_id)
    subset(shown, {'status': 'active', 'size': 0, 'checksum': md5(b'')}, 'empty image')
    alice('delete', image_id)


@story.step('image show by id and by name', needs=('create_file',))
def show():
    i = story.state['create_file']
    eq(osc_json(env, A_TOKEN, 'show', i)['id'], i, 'show by id')
    eq(osc_json(env, A_TOKEN, 'show', 'debian')['id'], i, 'show by name')


@story.step('image save --file gives the bytes back', needs=('create_file',))
def save():
    out = os.path.join(env.work, 'saved.img')
    alice('save', '--file', out, story.state['create_file'])
    same_bytes(read_file(out), DISK, 'image save')


@story.step('image create 28 more images; image list pages through them all',
            needs=('create_file', 'create_stdin'))
def many():
    made = [osc_json(env, A_TOKEN, 'create', '--private', 'page-%02d' % n)['id']
            for n in range(28)]
    listed = ids(A_TOKEN)
    for i in made + [story.state['create_file'], story.state['create_stdin']]:
        contains(listed, i, 'image list (more than one page of 25)')
    eq(len(listed), 30, 'images listed')
    # --limit is one page (no `next` followed); --marker starts the next one.
    # The command line sorts what it prints by name, so the page's last image
    # in the server's order (created_at desc, §17.9) is known from the order
    # the images were made in, not from the output.
    first = ids(A_TOKEN, '--limit', '25')
    eq(set(first), set(made[3:]), 'image list --limit 25: the 25 newest')
    rest = ids(A_TOKEN, '--limit', '25', '--marker', made[3])
    eq(set(rest), set(made[:3] + [story.state['create_file'], story.state['create_stdin']]),
       'image list --limit 25 --marker <the oldest of the first page>')
    return made


@story.step('image list filters: --property, --status, --private, --shared, --sort',
            needs=('many',))
def list_filters():
    deb, made = story.state['create_file'], story.state['many']
    eq(ids(A_TOKEN, '--property', 'os=debian'), [deb], '--property os=debian')
    eq(set(ids(A_TOKEN, '--private')), set(made), '--private')
    contains(ids(A_TOKEN, '--shared'), deb, '--shared')
    eq(set(ids(A_TOKEN, '--status', 'queued')), set(made), '--status queued')
    names = [r['Name'] for r in osc_json(env, A_TOKEN, 'list', '--sort', 'name:asc')]
    eq(names, sorted(names), '--sort name:asc')


@story.step('image set/unset name, properties, min-ram, tags; --tag list filter',
            needs=('create_file',))
def set_unset():
    i = story.state['create_file']
    alice('set', '--name', 'debian-12', '--property', 'arch=x86_64', '--min-ram', '512',
          '--tag', 'lts', '--tag', 'lab', i)
    shown = osc_json(env, A_TOKEN, 'show', i)
    subset(shown, {'name': 'debian-12', 'min_ram': 512, 'tags': ['lab', 'lts']}, 'after set')
    eq(shown['properties'].get('arch'), 'x86_64', 'property arch')
    eq(ids(A_TOKEN, '--tag', 'lts'), [i], 'image list --tag lts')
    alice('unset', '--property', 'arch', '--tag', 'lab', i)
    shown = osc_json(env, A_TOKEN, 'show', i)
    eq(shown['tags'], ['lts'], 'tags after unset')
    not_contains(shown['properties'], 'arch', 'properties after unset')


@story.step('--protected: delete fails and changes nothing; --unprotected', needs=('many',))
def protected():
    i = story.state['many'][0]
    alice('set', '--protected', i)
    fails(alice('delete', i, check=False), 'delete of a protected image')
    eq(osc_json(env, A_TOKEN, 'show', i)['protected'], True, 'still there, protected')
    alice('set', '--unprotected', i)


@story.step('--hidden: out of the default list, in --hidden', needs=('many',))
def hidden():
    i = story.state['many'][1]
    alice('set', '--hidden', i)
    not_contains(ids(A_TOKEN), i, 'default list')
    contains(ids(A_TOKEN, '--hidden'), i, 'image list --hidden')
    alice('set', '--unhidden', i)
    contains(ids(A_TOKEN), i, 'default list after --unhidden')


@story.step('every visibility, and who lists it', needs=('many',))
def visibility():
    i = story.state['many'][2]
    for v in ('public', 'community', 'shared', 'private'):
        alice('set', '--' + v, i)
        eq(osc_json(env, A_TOKEN, 'show', i)['visibility'], v, 'visibility after --' + v)
        in_bob = i in ids(B_TOKEN)
        eq(in_bob, v == 'public', "in bob's default list when " + v)
    alice('set', '--community', i)
    contains(ids(B_TOKEN, '--community'), i, "bob's --community list")
    eq(osc_json(env, B_TOKEN, 'show', i)['id'], i, 'bob reads a community image')
    alice('set', '--private', i)


@story.step('image add project; bob --accept / --reject; image member list',
            needs=('create_file',))
def members():
    i = story.state['create_file']
    alice('add', 'project', i, B_ID)
    not_contains(ids(B_TOKEN), i, "bob's list before accepting")
    contains(ids(B_TOKEN, '--member-status', 'pending'), i, '--member-status pending')
    bob('set', '--accept', '--project', B_ID, i)
    contains(ids(B_TOKEN), i, "bob's list once accepted")
    rows = osc_json(env, A_TOKEN, 'member', 'list', i)
    eq([(r['Member ID'], r['Status']) for r in rows], [(B_ID, 'accepted')], 'member list')
    out = os.path.join(env.work, 'bob.img')
    bob('save', '--file', out, i)
    same_bytes(read_file(out), DISK, "bob's image save")
    bob('set', '--reject', '--project', B_ID, i)
    not_contains(ids(B_TOKEN), i, "bob's list once rejected")
    alice('remove', 'project', i, B_ID)
    eq(osc_json(env, A_TOKEN, 'member', 'list', i), [], 'member list after remove project')


@story.step('--deactivate: save fails; --activate: save works', needs=('create_file',))
def deactivate():
    i = story.state['create_file']
    alice('set', '--deactivate', i)
    eq(osc_json(env, A_TOKEN, 'show', i)['status'], 'deactivated', 'status')
    out = os.path.join(env.work, 'deactivated.img')
    fails(alice('save', '--file', out, i, check=False), 'save of a deactivated image')
    alice('set', '--activate', i)
    alice('save', '--file', out, i)
    same_bytes(read_file(out), DISK, 'save after --activate')


@story.step('image delete', needs=('create_file', 'create_stdin'))
def delete():
    alice('delete', story.state['create_stdin'])
    not_contains(ids(A_TOKEN), story.state['create_stdin'], 'list after delete')
    fails(alice('show', story.state['create_stdin'], check=False), 'show after delete')


story.finish()
