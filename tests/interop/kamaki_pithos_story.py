# -*- coding: utf-8 -*-
"""kamaki 0.16's library, kamaki.clients.pithos.PithosClient (Python 2.7),
against plankton's object-store endpoint (docs/api.md §14): the endpoint
found in the service catalog, an image uploaded with the hashmap protocol
(block size and hash from the container, `PUT ?hashmap` answered 409 with
the missing blocks, `POST ?update` of those, the final `PUT`), downloaded
block by block, listed, shared with another user and published, registered
as an image and shared as one.
"""
from __future__ import unicode_literals

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from kamaki.clients import ClientError  # noqa: E402
from kamaki.clients.astakos import CachedAstakosClient  # noqa: E402
from kamaki.clients.image import ImageClient  # noqa: E402
from kamaki.clients.pithos import PithosClient  # noqa: E402

from interop import (BLOCK, Env, Story, block_hashes, eq, md5, ok, pattern,  # noqa: E402
                     pithos_hash, raises, read_file, same_bytes, subset, upload_image)

env = Env()
story = Story('kamaki-pithos')
A_TOKEN, A_ID, _ = env.alice
B_TOKEN, B_ID, _ = env.bob
C_TOKEN, C_ID, _ = env.carol
EMPTY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

IMAGE = upload_image('kamaki-pithos')
NAME = 'debian/12.0-lab.diskdump'  # a name with a '/', as Pithos allows
# An image whose first two blocks are the same: its hash is missing once.
TWICE = pattern(BLOCK, 'kamaki-pithos-twice') * 2 + pattern(1000, 'kamaki-pithos-tail')


def status_of(code):
    def check(e):
        if not isinstance(e, ClientError):
            return 'expected a kamaki ClientError'
        return None if e.status == code else 'expected status %s, got %s' % (code, e.status)
    return check


def client(token, account=A_ID, container='images'):
    return PithosClient(story.state['endpoint'], token, account, container)


class Recorder(object):
    """Records the object PUTs and container POSTs a client makes: (what,
    status) in order, and the body of each 409."""

    def __init__(self, pithos):
        self.calls, self.missing = [], []
        for name, what in (('object_put', 'PUT'), ('container_post', 'POST')):
            setattr(pithos, name, self._wrap(what, getattr(pithos, name)))

    def _wrap(self, what, method):
        def wrapped(*args, **kw):
            label = what + (' ?hashmap' if kw.get('hashmap') else '')
            label += ' ?update' if kw.get('update') else ''
            r = method(*args, **kw)
            self.calls.append((label, r.status_code))
            if r.status_code == 409:
                self.missing.append(r.json)
            return r
        return wrapped


def upload(pithos, name, data, **kw):
    """upload_object from a file, as kamaki's `file upload` does."""
    path = os.path.join(env.work, 'upload.bin')
    with open(path, 'wb') as f:
        f.write(data)
    with open(path, 'rb') as f:
        return pithos.upload_object(name, f, **kw)


def download(pithos, name):
    """download_object into a file (five ranged block GETs at once)."""
    path = os.path.join(env.work, 'download.bin')
    with open(path, 'wb+') as f:
        pithos.download_object(name, f)
    return read_file(path)


@story.step('the object-store endpoint is in the service catalog')
def endpoint():
    astakos = CachedAstakosClient(env.identity_url, A_TOKEN)
    url = astakos.get_service_endpoints('object-store')['publicURL']
    eq(url, env.url + '/object-store/v1', 'object-store publicURL')
    eq(astakos.user_term('id'), A_ID, 'user id')
    return url


@story.step('the container: block size and hash; listed empty before the upload',
            needs=('endpoint',))
def container():
    alice = client(A_TOKEN)
    info = alice.get_container_info()
    subset(info, {'x-container-block-size': '4194304', 'x-container-block-hash': 'sha256',
                  'x-container-object-count': '0'}, 'HEAD of the standing container images')
    eq(alice.list_objects(), [], 'list_objects of an empty container')
    eq(sorted(c['name'] for c in alice.list_containers()), ['images', 'pithos'],
       'the standing containers')


@story.step('upload_object: PUT ?hashmap is 409 with the missing blocks, they are POSTed, '
            'the final PUT is 201', needs=('endpoint',))
def upload_object():
    alice = client(A_TOKEN)
    rec = Recorder(alice)
    headers = upload(alice, NAME, IMAGE, content_type='application/octet-stream')
    hashes = block_hashes(IMAGE)
    eq(hashes[1], EMPTY_HASH, 'the all-NUL block hashes as nothing')
    # The all-NUL block is always known: only the three others are asked for.
    eq(rec.missing, [[hashes[0], hashes[2], hashes[3]]], 'the 409 answers (missing hashes)')
    eq(rec.calls, [('PUT ?hashmap', 409)] + [('POST ?update', 202)] * 3
       + [('PUT ?hashmap', 201)], 'requests made')
    subset(headers, {'x-object-version': '1'}, 'final PUT headers')
    # An assembly of blocks the server holds answers its MD5 when it is known
    # and owes it otherwise (docs/api.md §14): the 201 then has no ETag, and
    # the next HEAD (get_object_info) gives the MD5.
    if 'etag' in headers:
        eq(headers['etag'], md5(IMAGE), 'the final PUT\'s ETag')
    return True


@story.step('get_object_info: size, MD5, Pithos hash, version, type', needs=('upload_object',))
def object_info():
    info = client(A_TOKEN).get_object_info(NAME)
    subset(info, {'content-length': '%d' % len(IMAGE), 'etag': md5(IMAGE),
                  'x-object-hash': pithos_hash(IMAGE), 'x-object-version': '1',
                  'content-type': 'application/octet-stream',
                  'x-object-modified-by': A_ID}, 'HEAD of the uploaded object')


@story.step('get_object_hashmap: the block hashes of the data', needs=('upload_object',))
def hashmap():
    h = client(A_TOKEN).get_object_hashmap(NAME)
    eq(h, {'block_size': BLOCK, 'block_hash': 'sha256', 'bytes': len(IMAGE),
           'hashes': block_hashes(IMAGE)}, 'the hashmap')


@story.step('download_object and download_to_string give back the bytes uploaded',
            needs=('upload_object',))
def download_object():
    alice = client(A_TOKEN)
    same_bytes(download(alice, NAME), IMAGE, 'download_object')
    same_bytes(alice.download_to_string(NAME), IMAGE, 'download_to_string')
    same_bytes(alice.download_to_string(NAME, range_str='4194000-4194999'),
               IMAGE[4194000:4195000], 'download_to_string of a range across two blocks')


@story.step('list_objects: name, bytes, MD5, Pithos hash, type, version',
            needs=('upload_object',))
def list_objects():
    listed = client(A_TOKEN).list_objects()
    eq([o['name'] for o in listed], [NAME], 'names listed')
    subset(listed[0], {'bytes': len(IMAGE), 'hash': md5(IMAGE),
                       'x_object_hash': pithos_hash(IMAGE),
                       'content_type': 'application/octet-stream',
                       'x_object_version': 1}, 'the listed object')
    eq([o['name'] for o in client(A_TOKEN).list_objects(prefix='debian/')], [NAME],
       'list_objects(prefix=)')
    eq(client(A_TOKEN).list_objects(prefix='ubuntu/'), [], 'list_objects(prefix=) of none')


@story.step('upload_object of repeated blocks: each missing hash once; the bytes come back',
            needs=('endpoint',))
def upload_repeated():
    alice = client(A_TOKEN)
    rec = Recorder(alice)
    upload(alice, 'twice.img', TWICE)
    hashes = block_hashes(TWICE)
    eq(rec.missing, [[hashes[0], hashes[2]]], 'the 409 answer (a repeated block once)')
    same_bytes(download(alice, 'twice.img'), TWICE, 'download_object')
    alice.delete_object('twice.img')


@story.step('upload_object again to the same name: version 2, the same bytes',
            needs=('upload_object',))
def upload_again():
    alice = client(A_TOKEN)
    headers = upload(alice, NAME, IMAGE)
    eq(headers.get('x-object-version'), '2', 'version after the second upload')
    same_bytes(download(alice, NAME), IMAGE, 'download after the second upload')


@story.step('upload_from_string: a small object and an empty one', needs=('endpoint',))
def upload_from_string():
    alice = client(A_TOKEN)
    text = '{"name": "Debian 12"}\n'
    alice.upload_from_string('notes/meta.json', text, content_type='application/json')
    eq(alice.download_to_string('notes/meta.json'), text, 'the small object')
    alice.upload_from_string('notes/empty', '')
    subset(alice.get_object_info('notes/empty'),
           {'content-length': '0', 'x-object-hash': EMPTY_HASH, 'etag': md5(b'')},
           'HEAD of the empty object')
    for name in ('notes/meta.json', 'notes/empty'):
        alice.delete_object(name)


@story.step('set_object_sharing: Bob reads and lists it with his token, Carol may not; '
            'Bob may not write there', needs=('upload_object',))
def sharing():
    alice, bob, carol = client(A_TOKEN), client(B_TOKEN), client(C_TOKEN)
    raises(lambda: bob.get_object_info(NAME), status_of(403), 'Bob before sharing')
    alice.set_object_sharing(NAME, read_permission=[B_ID])
    eq(alice.get_object_sharing(NAME), {'read': B_ID}, 'get_object_sharing')
    same_bytes(download(bob, NAME), IMAGE, "Bob's download_object")
    eq([o['name'] for o in bob.list_objects()], [NAME], "Bob's list_objects of Alice's images")
    raises(lambda: carol.get_object_info(NAME), status_of(403), 'Carol get_object_info')
    raises(lambda: carol.list_objects(), status_of(403), 'Carol list_objects')
    raises(lambda: upload(bob, 'from-bob.img', b'bob was here'), status_of(403),
           "Bob uploading into Alice's container")
    alice.del_object_sharing(NAME)
    eq(alice.get_object_sharing(NAME), {}, 'sharing after del_object_sharing')
    raises(lambda: bob.get_object_info(NAME), status_of(403), 'Bob after del_object_sharing')


@story.step('publish_object: every user reads it, anyone at its public URL (with Range); '
            'unpublish_object: not any more', needs=('upload_object',))
def publish():
    try:
        from urllib2 import HTTPError, Request, urlopen  # Python 2.7 (kamaki 0.16)
    except ImportError:  # pragma: no cover
        from urllib.error import HTTPError
        from urllib.request import Request, urlopen
    alice, carol = client(A_TOKEN), client(C_TOKEN)
    url = alice.publish_object(NAME)
    ok('/object-store/public/' in url, 'publish_object answers the public URL: %s' % url)
    eq(carol.get_object_info(NAME).get('etag'), md5(IMAGE), 'Carol reads a published object')
    same_bytes(urlopen(url).read(), IMAGE, 'the public URL, without a token')
    ranged = urlopen(Request(url, headers={'Range': 'bytes=10-19'}))
    eq((ranged.getcode(), ranged.read()), (206, IMAGE[10:20]), 'the public URL with Range')
    alice.unpublish_object(NAME)
    raises(lambda: carol.get_object_info(NAME), status_of(403), 'Carol after unpublishing')
    try:
        urlopen(url)
        ok(False, 'the public URL answered after unpublish_object')
    except HTTPError as e:
        eq(e.code, 404, 'the public URL after unpublish_object')


@story.step('register the uploaded object: checksum and size; a member reads the object',
            needs=('upload_object',))
def register():
    image = ImageClient(env.url, A_TOKEN)
    loc = 'pithos://%s/images/%s' % (A_ID, NAME)
    r = image.register('Debian 12 (uploaded)', loc, {'disk_format': 'diskdump'})
    subset(r, {'location': loc, 'size': '%d' % len(IMAGE), 'checksum': pithos_hash(IMAGE),
               'status': 'available'}, 'register answer')
    bob = client(B_TOKEN)
    raises(lambda: bob.get_object_info(NAME), status_of(403), 'Bob before he is a member')
    image.add_member(r['id'], B_ID)
    same_bytes(download(bob, NAME), IMAGE, "a member's download_object")
    image.remove_member(r['id'], B_ID)
    raises(lambda: bob.get_object_info(NAME), status_of(403), 'Bob after he is removed')
    image.unregister(r['id'])


# Known blocks (issue 24, item 7): the size of the image re-uploaded, in MiB
# (64 by default; KNOWN_BLOCKS_MIB=1024 measures a 1 GiB image).
KNOWN_MIB = int(os.environ.get('KNOWN_BLOCKS_MIB', '64'))


def big_image():
    """KNOWN_MIB MiB of data, every block different."""
    if 'big' not in story.state:
        story.state['big'] = b''.join(pattern(BLOCK, 'kamaki-pithos-big-%d' % i)
                                      for i in range(KNOWN_MIB * 1024 * 1024 // BLOCK))
    return story.state['big']


def block_posts(rec):
    return len([c for c in rec.calls if c[0] == 'POST ?update'])


@story.step('known blocks: an image uploaded once, then again under another name, sends '
            'no block the second time', needs=('endpoint',))
def known_blocks_again():
    alice = client(A_TOKEN, container='pithos')
    data = big_image()
    first = Recorder(alice)
    upload(alice, 'build-1.img', data)
    eq(block_posts(first), len(data) // BLOCK, 'block POSTs of the first upload')
    again = Recorder(alice)
    headers = upload(alice, 'build-1-again.img', data)
    eq(again.calls, [('PUT ?hashmap', 201)], 'requests of the second upload (no block POST)')
    subset(headers, {'etag': md5(data)}, 'the second upload\'s ETag')
    same_bytes(download(alice, 'build-1-again.img'), data, 'the re-uploaded image')
    story.state['known'] = True
    return True


@story.step('known blocks: a new build differing in one block sends that block alone',
            needs=('known_blocks_again',))
def known_blocks_delta():
    alice = client(A_TOKEN, container='pithos')
    data = big_image()
    n = len(data) // BLOCK
    build = data[:(n // 2) * BLOCK] + pattern(BLOCK, 'kamaki-pithos-new') + data[(n // 2 + 1) * BLOCK:]
    rec = Recorder(alice)
    upload(alice, 'build-2.img', build)
    eq(rec.missing, [[block_hashes(build)[n // 2]]], 'the 409 answer (the changed block)')
    eq(block_posts(rec), 1, 'block POSTs of the new build')
    same_bytes(download(alice, 'build-2.img'), build, 'the new build')


@story.step('known blocks: Bob, who may not read Alice\'s images, sends every block',
            needs=('known_blocks_again',))
def known_blocks_private():
    bob = client(B_TOKEN, account=B_ID, container='pithos')
    try:
        bob.create_container('pithos')
    except ClientError:
        pass
    small = big_image()[:2 * BLOCK]
    rec = Recorder(bob)
    upload(bob, 'mine.img', small)
    eq(block_posts(rec), 2, "block POSTs of Bob's upload")
    bob.delete_object('mine.img')
    alice = client(A_TOKEN, container='pithos')
    for name in ('build-1.img', 'build-1-again.img', 'build-2.img'):
        alice.delete_object(name)


@story.step('delete_object: gone from the listing', needs=('upload_object',))
def delete():
    alice = client(A_TOKEN)
    alice.delete_object(NAME)
    eq(alice.list_objects(), [], 'list_objects after delete_object')
    raises(lambda: alice.get_object_info(NAME), status_of(404), 'get_object_info after delete')


story.finish()
