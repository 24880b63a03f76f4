# -*- coding: utf-8 -*-
"""The `kamaki` command line (kamaki 0.16 with astakosclient 0.19, Python
2.7) against plankton alone: plankton's offline identity endpoint is the
cloud's authentication URL, and its service catalog leads kamaki to the image
API. Configured and used as the README tells a user to.
"""
from __future__ import unicode_literals

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from interop import (Env, Story, contains, eq, md5, not_contains, ok, pattern,  # noqa: E402
                     pithos_hash, read_file, run, same_bytes, subset, upload_image)

env = Env()
story = Story('kamaki-cli')
A_TOKEN, A_ID, A_NAME = env.alice
B_TOKEN, B_ID, B_NAME = env.bob
C_TOKEN, C_ID, C_NAME = env.carol
KAMAKI = os.path.join(env.bin, 'kamaki')

DEBIAN = pattern(150000, 'kamaki-cli-debian')
UBUNTU = pattern(4 * 1024 * 1024 + 100, 'kamaki-cli-ubuntu')
env.put_object(A_ID, 'images', 'debian-12.diskdump', DEBIAN)
UBUNTU_LOC = env.put_object(A_ID, 'images', 'ubuntu-24.04.diskdump', UBUNTU)
DEBIAN_NAME = 'Debian 12 «bookworm»'
# Images uploaded through the object store (docs/api.md §14), as files on
# Alice's disk; the README's "air-gapped lab" runs these same commands.
LAB = upload_image('kamaki-cli-lab')
LAB_FILE = os.path.join(env.work, 'lab.diskdump')
UPLOAD = upload_image('kamaki-cli-upload', short=123457)
UPLOAD_FILE = os.path.join(env.work, 'upload.diskdump')
for _path, _data in ((LAB_FILE, LAB), (UPLOAD_FILE, UPLOAD)):
    with open(_path, 'wb') as _f:
        _f.write(_data)
DESCRIPTION = 'Ελληνικό Debian για το εργαστήριο'


def kamaki(*args, **kw):
    """Runs kamaki as the cloud's user (default: alice, the default cloud)."""
    cloud = kw.get('cloud')
    argv = [KAMAKI] + (['--cloud', cloud] if cloud else []) + list(args)
    return run(argv, check=kw.get('check', True))


def kjson(*args, **kw):
    """Runs kamaki ... --output-format json and parses what it prints."""
    r = kamaki(*(args + ('--output-format', 'json')), **kw)
    try:
        return json.loads(r.out)
    except ValueError:
        raise AssertionError('kamaki did not print JSON: %s' % r)


def first_json(result):
    """The first JSON document kamaki printed (image register prints the
    image, then where its .meta file went)."""
    try:
        return json.JSONDecoder().raw_decode(result.out.lstrip())[0]
    except ValueError:
        raise AssertionError('kamaki did not print JSON: %s' % result)


def printed_id(result):
    """The id in kamaki's text answer (the line `id: <id>`), as the README's
    `awk '$1 == "id:" {print $2}'` reads it."""
    ids = [line.split()[1] for line in result.out.splitlines()
           if len(line.split()) == 2 and line.split()[0] == 'id:']
    ok(len(ids) == 1, 'one "id:" line in the answer: %s' % result)
    return ids[0]


def downloaded(*args, **kw):
    """Runs kamaki file download REMOTE LOCAL (a fresh LOCAL) and returns its bytes."""
    local = os.path.join(env.work, 'download.bin')
    if os.path.exists(local):
        os.remove(local)
    kamaki(*(('file', 'download') + args + (local,)), **kw)
    return read_file(local)


def fails(result, what):
    ok(result.code != 0, '%s: expected kamaki to fail, it succeeded:\n%s' % (what, result))


def ids(images):
    return [i['id'] for i in images]


@story.step('configure clouds with kamaki config set; kamaki user info')
def configure():
    for cloud, token in (('alice', A_TOKEN), ('bob', B_TOKEN), ('carol', C_TOKEN)):
        kamaki('config', 'set', 'cloud.%s.url' % cloud, env.identity_url)
        kamaki('config', 'set', 'cloud.%s.token' % cloud, token)
    kamaki('config', 'set', 'default_cloud', 'alice')
    info = kjson('user', 'info')
    subset(info, {'id': A_ID, 'name': A_NAME}, 'kamaki user info')
    eq(kjson('user', 'info', cloud='bob').get('id'), B_ID, 'kamaki --cloud bob user info')
    return True


@story.step('image register (two images, properties with non-ASCII values)',
            needs=('configure',))
def register():
    a = kjson('image', 'register', '--name', DEBIAN_NAME,
              '--location', '/images/debian-12.diskdump', '--no-metafile-upload',
              '--disk-format', 'diskdump', '-p', 'OSFAMILY=linux', '-p', 'OS=debian',
              '-p', 'DESCRIPTION=' + DESCRIPTION)
    subset(a, {'name': DEBIAN_NAME, 'status': 'available', 'disk_format': 'diskdump',
               'container_format': 'bare', 'size': '%d' % len(DEBIAN),
               'checksum': pithos_hash(DEBIAN), 'is_public': 'False',
               'location': 'pithos://%s/images/debian-12.diskdump' % A_ID,
               'owner': '%s (%s)' % (A_ID, A_NAME),
               'properties': {'osfamily': 'linux', 'os': 'debian',
                              'description': DESCRIPTION}},
           'kamaki image register')
    b = kjson('image', 'register', '--name', 'ubuntu-24.04', '--location', UBUNTU_LOC,
              '--no-metafile-upload', '--container-format', 'bare',
              '--size', '%d' % len(UBUNTU), '-p', 'OSFAMILY=linux', '-p', 'OS=ubuntu')
    subset(b, {'name': 'ubuntu-24.04', 'size': '%d' % len(UBUNTU),
               'properties': {'osfamily': 'linux', 'os': 'ubuntu'}},
           'kamaki image register with pithos:// and --size')
    return a['id'], b['id']


@story.step('image register --metafile: the .meta file that snf-mkimage -o writes',
            needs=('configure',))
def register_metafile():
    # snf-mkimage -o FILE writes FILE.meta: {"properties": image.meta,
    # "disk-format": "diskdump"}; the offline way to register its output is
    # to put FILE under the store root and register it with that file.
    data = pattern(70000, 'kamaki-cli-metafile')
    env.put_object(A_ID, 'images', 'centos.diskdump', data)
    meta = os.path.join(env.work, 'centos.diskdump.meta')
    with open(meta, 'wb') as f:
        f.write(json.dumps({'properties': {'OSFAMILY': 'linux', 'OS': 'centos',
                                           'DESCRIPTION': DESCRIPTION, 'ROOT_PARTITION': '1'},
                            'disk-format': 'diskdump'}, ensure_ascii=False).encode('utf-8'))
    r = kjson('image', 'register', '--name', 'CentOS 9', '--location', '/images/centos.diskdump',
              '--metafile', meta, '--no-metafile-upload')
    subset(r, {'name': 'CentOS 9', 'disk_format': 'diskdump', 'size': '%d' % len(data),
               'properties': {'osfamily': 'linux', 'os': 'centos', 'description': DESCRIPTION,
                              'root_partition': '1'}}, 'register --metafile')
    kamaki('image', 'unregister', r['id'])


@story.step('image list, short and detailed', needs=('register',))
def image_list():
    a, b = story.state['register']
    short = kjson('image', 'list')
    eq(sorted(ids(short)), sorted([a, b]), 'kamaki image list')
    eq(dict((i['id'], i['name']) for i in short)[a], DEBIAN_NAME, 'name in the list')
    detail = dict((i['id'], i) for i in kjson('image', 'list', '-l'))
    subset(detail.get(a, {}), {'name': DEBIAN_NAME, 'owner': A_ID, 'size': len(DEBIAN),
                               'properties': {'osfamily': 'linux', 'os': 'debian',
                                              'description': DESCRIPTION}},
           'kamaki image list -l')
    plain = kamaki('image', 'list').out
    contains(plain, DEBIAN_NAME, 'plain kamaki image list')


@story.step('image list filters and --order', needs=('register',))
def image_list_filters():
    a, b = story.state['register']

    def listed(*args):
        return sorted(ids(kjson('image', 'list', *args)))
    # --name is sent percent-encoded twice by kamaki 0.16 when it holds
    # anything that needs quoting (a space, non-ASCII), so no server can
    # match such a name; --name-like filters on the client.
    eq(listed('--name', 'ubuntu-24.04'), [b], '--name')
    eq(listed('--name-like', '«bookworm»'), [a], '--name-like (non-ASCII)')
    eq(listed('--disk-format', 'diskdump'), sorted([a, b]), '--disk-format')
    eq(listed('--container-format', 'ovf'), [], '--container-format ovf')
    eq(listed('--size-min', '1000000'), [b], '--size-min')
    eq(listed('--size-max', '1000000'), [a], '--size-max')
    eq(listed('--status', 'available'), sorted([a, b]), '--status')
    eq(listed('--property', 'os=ubuntu'), [b], '--property os=ubuntu (keys as kamaki shows them)')
    eq(listed('--owner', A_ID), sorted([a, b]), '--owner')
    eq(listed('--owner-name', A_NAME), sorted([a, b]), '--owner-name (user_catalogs)')
    eq(ids(kjson('image', 'list', '--order', 'name')), [a, b], '--order name')
    eq(ids(kjson('image', 'list', '--order=-name')), [b, a], '--order -name')
    eq(ids(kjson('image', 'list', '--order=-size')), [b, a], '--order -size')


@story.step('image info, as JSON and as text', needs=('register',))
def info():
    a, b = story.state['register']
    meta = kjson('image', 'info', a)
    subset(meta, {'id': a, 'name': DEBIAN_NAME, 'owner': A_ID, 'status': 'available',
                  'checksum': pithos_hash(DEBIAN), 'is_public': 'False',
                  'properties': {'osfamily': 'linux', 'os': 'debian',
                                 'description': DESCRIPTION}}, 'kamaki image info')
    text = kamaki('image', 'info', a).out
    contains(text, 'owner: %s (%s)' % (A_ID, A_NAME), 'kamaki image info (text)')
    contains(text, 'name: %s' % DEBIAN_NAME, 'kamaki image info (text)')
    contains(text, 'description: %s' % DESCRIPTION, 'kamaki image info (text)')


@story.step('image info: both spellings of a field agree', needs=('register',))
def info_spellings():
    # docs/api.md §5 sends every multi-word field in both spellings, so kamaki shows both.
    meta = kjson('image', 'info', story.state['register'][0])
    twice = sorted(k for k in meta if '-' in k and k.replace('-', '_') in meta)
    for k in twice:
        eq(meta[k], meta[k.replace('-', '_')], 'fields %s and %s' % (k, k.replace('-', '_')))
    contains(meta, 'disk-format', 'kamaki image info')


@story.step('image modify: --name and a new property, the others kept', needs=('register',))
def modify():
    a, b = story.state['register']
    kamaki('image', 'modify', a, '--name', 'Debian 12.5', '-p', 'KERNEL=6.1')
    meta = kjson('image', 'info', a)
    eq(meta['name'], 'Debian 12.5', 'name after modify')
    eq(meta['properties'], {'osfamily': 'linux', 'os': 'debian', 'description': DESCRIPTION,
                            'kernel': '6.1'}, 'properties after modify')


@story.step('image modify -p changes an existing property', needs=('register',))
def modify_existing():
    # kamaki 0.16 sends the old value again under the lower-case key it read
    # (X-Image-Meta-Property-os: debian) beside the new one under the
    # upper-case key (X-Image-Meta-Property-OS: debian-12).
    a, b = story.state['register']
    kamaki('image', 'modify', a, '-p', 'OS=debian-12')
    eq(kjson('image', 'info', a)['properties'].get('os'), 'debian-12', 'os after modify -p')


@story.step('image modify -p KEY= (an empty value) deletes a property', needs=('register',))
def modify_delete():
    # `--property-del KEY` cannot work with any server: kamaki 0.16 sets the
    # upper-case KEY to None, which it then leaves out, and sends the
    # property again under the lower-case key it read, with its old value:
    # the request is the same as a modify that deletes nothing. With an
    # empty value it sends `KEY: ` beside `key: <old value>`.
    a, b = story.state['register']
    kamaki('image', 'modify', a, '-p', 'KERNEL=')
    not_contains(kjson('image', 'info', a)['properties'], 'kernel', 'properties after -p KERNEL=')


@story.step('publish (--public): Bob lists and reads it; unpublish (--private): he does not',
            needs=('register',))
def publish():
    a, b = story.state['register']
    eq(kjson('image', 'list', cloud='bob'), [], "Bob's list before")
    kamaki('image', 'modify', a, '--public')
    eq(kjson('image', 'info', a)['is_public'], 'True', 'is_public after --public')
    eq(ids(kjson('image', 'list', cloud='bob')), [a], "Bob's list")
    eq(kjson('image', 'info', a, cloud='bob')['id'], a, 'Bob: image info')
    kamaki('image', 'modify', a, '--private')
    eq(kjson('image', 'info', a)['is_public'], 'False', 'is_public after --private')
    eq(kjson('image', 'list', cloud='bob'), [], "Bob's list after --private")
    fails(kamaki('image', 'info', a, cloud='bob', check=False), 'Bob: image info, private')


@story.step('share (--member-add): Bob sees it, cannot change it; --member-del: he loses it',
            needs=('register',))
def share():
    a, b = story.state['register']
    kamaki('image', 'modify', b, '--member-add', B_ID)
    eq(kjson('image', 'list', '--members-of', b),
       [{'member_id': B_ID, 'can_share': False}], 'kamaki image list --members-of')
    contains(kamaki('image', 'list', '--members-of', b).out, '%s (%s)' % (B_ID, B_NAME),
             'members with their names')
    eq(ids(kjson('image', 'list', cloud='bob')), [b], "Bob's list")
    eq(kjson('image', 'info', b, cloud='bob')['name'], 'ubuntu-24.04', 'Bob: image info')
    fails(kamaki('image', 'modify', b, '--name', 'mine', cloud='bob', check=False),
          'Bob: image modify')
    fails(kamaki('image', 'unregister', b, cloud='bob', check=False), 'Bob: image unregister')
    eq(kjson('image', 'info', b)['name'], 'ubuntu-24.04', "the name after Bob's attempts")
    kamaki('image', 'modify', b, '--member-del', B_ID)
    eq(kjson('image', 'list', '--members-of', b), [], 'members after --member-del')
    eq(kjson('image', 'list', cloud='bob'), [], "Bob's list after --member-del")
    fails(kamaki('image', 'info', b, cloud='bob', check=False), 'Bob: image info after')


@story.step('a user whose display name is not ASCII: kamaki user info, and as a member',
            needs=('register',))
def non_ascii_user():
    a, b = story.state['register']
    subset(kjson('user', 'info', cloud='carol'), {'id': C_ID, 'name': C_NAME},
           'kamaki --cloud carol user info')
    kamaki('image', 'modify', b, '--member-add', C_ID)
    try:
        contains(kamaki('image', 'list', '--members-of', b).out, '%s (%s)' % (C_ID, C_NAME),
                 'members with their names')
        eq(ids(kjson('image', 'list', cloud='carol')), [b], "Carol's list")
    finally:
        kamaki('image', 'modify', b, '--member-del', C_ID, check=False)


@story.step('image unregister: gone from info and list', needs=('register',))
def unregister():
    a, b = story.state['register']
    kamaki('image', 'unregister', a)
    fails(kamaki('image', 'info', a, check=False), 'image info after unregister')
    eq(ids(kjson('image', 'list')), [b], 'list after unregistering one')
    kamaki('image', 'unregister', b)
    eq(kjson('image', 'list'), [], 'list after unregistering both')



# ------------------------------------------- uploading (docs/api.md §14)

@story.step('file list: the standing containers pithos and images, empty', needs=('configure',))
def file_list_empty():
    r = kamaki('file', 'list')
    contains(r.err, 'Container "pithos" is empty', 'kamaki file list')
    eq(sorted(c['name'] for c in kjson('container', 'list')), ['images', 'pithos'],
       'kamaki container list')


@story.step('file upload into images; file list shows it with size, MD5 and Pithos hash',
            needs=('configure',))
def file_upload():
    kamaki('file', 'upload', LAB_FILE, '/images/lab.diskdump')
    contains(kamaki('file', 'list', '/images').out, 'lab.diskdump', 'kamaki file list /images')
    listed = dict((o['name'], o) for o in kjson('file', 'list', '/images'))
    subset(listed.get('lab.diskdump', {}), {'bytes': len(LAB), 'hash': md5(LAB),
                                            'x_object_hash': pithos_hash(LAB)},
           'kamaki file list /images (JSON)')
    return True


@story.step('file download gives back the bytes uploaded', needs=('file_upload',))
def file_download():
    same_bytes(downloaded('/images/lab.diskdump'), LAB, 'kamaki file download')


@story.step('image register of the uploaded file (its .meta file uploaded beside it)',
            needs=('file_upload',))
def register_uploaded():
    # As the README runs it: the id read from the text answer.
    image_id = printed_id(kamaki('image', 'register', '--name', 'Lab image',
                                 '--location', '/images/lab.diskdump',
                                 '--disk-format', 'diskdump'))
    subset(kjson('image', 'info', image_id),
           {'name': 'Lab image', 'status': 'available', 'size': '%d' % len(LAB),
            'checksum': pithos_hash(LAB), 'disk_format': 'diskdump',
            'location': 'pithos://%s/images/lab.diskdump' % A_ID}, 'kamaki image info')
    meta = json.loads(downloaded('/images/lab.diskdump.meta').decode('utf-8'))
    subset(meta, {'id': image_id, 'name': 'Lab image', 'checksum': pithos_hash(LAB)},
           'the .meta file kamaki uploaded')
    return image_id


@story.step("share the image with bob (--member-add): he downloads the file from alice's "
            "account; --member-del: he may not", needs=('register_uploaded',))
def share_uploaded():
    image_id = story.state['register_uploaded']
    remote = 'pithos://%s/images/lab.diskdump' % A_ID
    fails(kamaki('file', 'download', remote, os.path.join(env.work, 'no.bin'), cloud='bob',
                 check=False), 'bob: file download before sharing')
    kamaki('image', 'modify', image_id, '--member-add', B_ID)
    same_bytes(downloaded(remote, cloud='bob'), LAB, 'bob: kamaki file download')
    # Only what bob may read is listed: the image, not its .meta file.
    eq([o['name'] for o in kjson('file', 'list', 'pithos://%s/images' % A_ID, cloud='bob')],
       ['lab.diskdump'], "bob: kamaki file list of alice's images")
    kamaki('image', 'modify', image_id, '--member-del', B_ID)
    fails(kamaki('file', 'download', remote, os.path.join(env.work, 'no.bin'), cloud='bob',
                 check=False), 'bob: file download after --member-del')


@story.step('file modify --read-permission: bob downloads the file; --no-permissions: he may not',
            needs=('file_upload',))
def file_sharing():
    remote = 'pithos://%s/images/lab.diskdump.meta' % A_ID
    kamaki('file', 'modify', '/images/lab.diskdump.meta', '--read-permission', B_ID)
    subset(kjson('file', 'info', '/images/lab.diskdump.meta', '--sharing'), {'read': B_ID},
           'kamaki file info --sharing')
    ok(json.loads(downloaded(remote, cloud='bob').decode('utf-8')).get('name') == 'Lab image',
       'bob: the .meta file he downloaded')
    kamaki('file', 'modify', '/images/lab.diskdump.meta', '--no-permissions')
    fails(kamaki('file', 'download', remote, os.path.join(env.work, 'no.bin'), cloud='bob',
                 check=False), 'bob: file download after --no-permissions')


@story.step('image register --upload-image-file into the standing container images',
            needs=('configure',))
def register_upload_file():
    r = first_json(kamaki('image', 'register', '--name', 'Lab upload',
                          '--upload-image-file', UPLOAD_FILE,
                          '--location', '/images/lab-upload.diskdump',
                          '--disk-format', 'diskdump', '--output-format', 'json'))
    subset(r, {'name': 'Lab upload', 'status': 'available', 'size': '%d' % len(UPLOAD),
               'checksum': pithos_hash(UPLOAD),
               'location': 'pithos://%s/images/lab-upload.diskdump' % A_ID},
           'kamaki image register --upload-image-file')
    same_bytes(downloaded('/images/lab-upload.diskdump'), UPLOAD, 'kamaki file download')
    return r['id']


@story.step('image register --upload-image-file into a new container: it fails until '
            'container create makes it', needs=('configure',))
def register_upload_new_container():
    # kamaki never creates the container of --upload-image-file (§14): the
    # upload asks for its block size first, and a missing container is 404.
    argv = ('image', 'register', '--name', 'Lab (own container)',
            '--upload-image-file', UPLOAD_FILE, '--location', '/lab/upload.diskdump',
            '--disk-format', 'diskdump', '--no-metafile-upload', '--output-format', 'json')
    fails(kamaki(*argv, check=False), 'register into a container that is not there')
    eq([i['name'] for i in kjson('image', 'list')].count('Lab (own container)'), 0,
       'images named "Lab (own container)" after the failure')
    kamaki('container', 'create', 'lab')
    image_id = printed_id(kamaki(*argv[:-2]))  # as the README runs it, without JSON
    subset(kjson('image', 'info', image_id),
           {'size': '%d' % len(UPLOAD), 'checksum': pithos_hash(UPLOAD),
            'location': 'pithos://%s/lab/upload.diskdump' % A_ID},
           'register after kamaki container create lab')
    same_bytes(downloaded('/lab/upload.diskdump'), UPLOAD, 'kamaki file download')
    return image_id


@story.step('file upload --unchunked (one plain PUT), and -f over it (version 2)',
            needs=('configure',))
def file_upload_plain():
    kamaki('file', 'upload', '--unchunked', UPLOAD_FILE, '/pithos/plain.diskdump')
    same_bytes(downloaded('/pithos/plain.diskdump'), UPLOAD, 'kamaki file download')
    fails(kamaki('file', 'upload', LAB_FILE, '/pithos/plain.diskdump', check=False),
          'file upload over an existing file without -f')
    kamaki('file', 'upload', '-f', LAB_FILE, '/pithos/plain.diskdump')
    info = kjson('file', 'info', '/pithos/plain.diskdump')
    subset(info, {'x-object-version': '2', 'etag': md5(LAB),
                  'x-object-hash': pithos_hash(LAB)}, 'kamaki file info after -f')
    same_bytes(downloaded('/pithos/plain.diskdump'), LAB, 'kamaki file download after -f')
    kamaki('file', 'delete', '--yes', '/pithos/plain.diskdump')


@story.step('unregister the uploaded images; file delete removes their files',
            needs=('configure',))
def cleanup_uploaded():
    for step in ('register_uploaded', 'register_upload_file', 'register_upload_new_container'):
        if step in story.state:
            kamaki('image', 'unregister', story.state[step])
    eq(kjson('image', 'list'), [], 'image list after unregistering')
    kamaki('file', 'delete', '--yes', '/lab/upload.diskdump')
    kamaki('container', 'delete', '--yes', 'lab')
    names = [c['name'] for c in kjson('container', 'list')]
    not_contains(names, 'lab', 'kamaki container list after container delete')


@story.step('file mkdir, upload -r, copy, move, publish (a public URL without a token), '
            'sharer list, container delete -r (issue 24)', needs=('configure',))
def file_round_two():
    try:
        from urllib2 import HTTPError, urlopen  # Python 2.7 (kamaki 0.16)
    except ImportError:  # pragma: no cover
        from urllib.error import HTTPError
        from urllib.request import urlopen
    kamaki('container', 'create', 'work')
    kamaki('file', 'mkdir', '/work/dir')
    info = kjson('file', 'info', '/work/dir')
    subset(info, {'content-type': 'application/directory'}, 'kamaki file info of a directory')
    ok(info.get('x-object-uuid'), 'kamaki file info shows X-Object-UUID: %s' % info)
    tree = os.path.join(env.work, 'tree')
    os.makedirs(os.path.join(tree, 'sub'))
    a, b = pattern(1000, 'round-two-a'), pattern(5 * 1024 * 1024, 'round-two-b')
    for rel, data in (('a', a), ('sub/b', b)):
        with open(os.path.join(tree, rel), 'wb') as f:
            f.write(data)
    kamaki('file', 'upload', '-r', tree, '/work/tree')
    names = [o['name'] for o in kjson('file', 'list', '/work')]
    for name in ('dir', 'tree/a', 'tree/sub/b'):
        contains(names, name, 'kamaki file list after upload -r')
    same_bytes(downloaded('/work/tree/sub/b'), b, 'kamaki file download of an upload -r file')
    kamaki('file', 'copy', '/work/tree/a', '/work/copied')
    same_bytes(downloaded('/work/copied'), a, 'kamaki file copy')
    same_bytes(downloaded('/work/tree/a'), a, 'the source of kamaki file copy')
    uuid = kjson('file', 'info', '/work/copied').get('x-object-uuid')
    kamaki('file', 'move', '/work/copied', '/work/moved')
    names = [o['name'] for o in kjson('file', 'list', '/work')]
    not_contains(names, 'copied', 'kamaki file list after file move')
    eq(kjson('file', 'info', '/work/moved').get('x-object-uuid'), uuid, 'a move keeps the UUID')
    url = kamaki('file', 'publish', '/work/moved').out.strip()
    ok(url.startswith('http') and '/object-store/public/' in url, 'kamaki file publish: %s' % url)
    eq(urlopen(url).read(), a, 'the public URL, without a token')
    kamaki('file', 'unpublish', '/work/moved')
    try:
        urlopen(url)
        ok(False, 'the public URL after unpublish answered')
    except HTTPError as e:
        eq(e.code, 404, 'the public URL after unpublish')
    kamaki('file', 'modify', '/work/moved', '--read-permission', B_ID)
    shared = [o['name'] for o in kjson('file', 'list', '/work', '--shared-by-me')]
    eq(shared, ['moved'], 'kamaki file list --shared-by-me')
    out = kamaki('sharer', 'list', cloud='bob').out
    ok(A_ID in out or A_NAME in out, 'bob: kamaki sharer list names alice: %s' % out)
    kamaki('container', 'delete', '-r', '--yes', 'work')
    names = [c['name'] for c in kjson('container', 'list')]
    not_contains(names, 'work', 'kamaki container list after container delete -r')


story.finish()
