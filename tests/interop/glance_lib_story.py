# -*- coding: utf-8 -*-
"""python-glanceclient 4.13.0, v1 API as a library (Python 3), against plankton.

Alice registers two images, lists them with filters, sorting and paging,
shows, updates, publishes and shares them with Bob; Bob sees what he may and
cannot change it; Alice downloads them (glanceclient checks the MD5) and
unregisters them.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

import glanceclient  # noqa: E402

from interop import (Env, Story, eq, md5, ok, pattern, pithos_hash, raises,  # noqa: E402
                     read_file, same_bytes, subset, upload_image)

env = Env()
story = Story('glance-lib')
A_TOKEN, A_ID, _ = env.alice
B_TOKEN, B_ID, _ = env.bob

# What the v1 client sends goes to <endpoint>/v1/...; plankton answers the
# Glance dialect there.
alice = glanceclient.Client('1', endpoint=env.url, token=A_TOKEN)
bob = glanceclient.Client('1', endpoint=env.url, token=B_TOKEN)

DEBIAN = pattern(300000, 'glance-debian')
UBUNTU = pattern(5 * 1024 * 1024 + 17, 'glance-ubuntu')  # two Pithos blocks
DEBIAN_LOC = env.put_object(A_ID, 'images', 'debian-12.img', DEBIAN)
UBUNTU_LOC = env.put_object(A_ID, 'images', 'ubuntu 24.04.img', UBUNTU)
# The Debian image is the one shown through HEAD: its values are ASCII (with
# spaces and punctuation). glanceclient reads HEAD headers without any
# decoding, and Python 3's http.client reads header bytes as Latin-1, so no
# server can make `images.get()` show a non-ASCII value under Python 3; the
# non-ASCII values (the Ubuntu image) are checked where glanceclient reads
# JSON: create, update and list.
DEBIAN_PROPS = {'os': 'debian', 'os_version': '12', 'users': 'root user',
                'description': 'Debian 12 (bookworm), lab build #3'}
UBUNTU_PROPS = {'os': 'ubuntu', 'description': 'Ubuntu για το εργαστήριο'}
UBUNTU_NAME = 'Ubuntu 24.04 «noble»'
# Uploaded with images.create(data=...) (docs/api.md §13).
LAB = upload_image('glance-lib-lab')
LAB_FILE = os.path.join(env.work, 'lab.img')
with open(LAB_FILE, 'wb') as f:
    f.write(LAB)
STREAMED = upload_image('glance-lib-streamed', short=4321)


class Unsized(object):
    """A file-like object whose size glanceclient cannot tell (no seek or
    tell): the data goes out chunked with no x-image-meta-size."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def read(self, n=-1):
        n = len(self.data) - self.at if n < 0 else n
        chunk = self.data[self.at:self.at + n]
        self.at += len(chunk)
        return chunk


def status_of(code):
    """A check for raises(): the client error carries this HTTP status."""
    def check(e):
        got = getattr(e, 'code', None)
        return None if got == code else 'expected HTTP %s' % code
    return check


def ids(images):
    return [i.id for i in images]


@story.step('register two images with properties (non-ASCII values too)')
def register():
    a = alice.images.create(name='Debian 12', location=DEBIAN_LOC, disk_format='diskdump',
                            container_format='bare', is_public=False,
                            properties=DEBIAN_PROPS)
    subset(a.to_dict(), {
        'name': 'Debian 12', 'status': 'available', 'disk_format': 'diskdump',
        'container_format': 'bare', 'size': len(DEBIAN), 'checksum': md5(DEBIAN),
        'is_public': False, 'owner': A_ID, 'location': DEBIAN_LOC,
        'properties': DEBIAN_PROPS, 'min_ram': 0, 'min_disk': 0}, 'created Debian image')
    b = alice.images.create(name=UBUNTU_NAME, location=UBUNTU_LOC, disk_format='qcow2',
                            container_format='bare', is_public=False,
                            properties=UBUNTU_PROPS)
    subset(b.to_dict(), {
        'name': UBUNTU_NAME, 'status': 'available', 'disk_format': 'qcow2',
        'size': len(UBUNTU), 'checksum': md5(UBUNTU), 'owner': A_ID,
        'location': 'pithos://%s/images/ubuntu%%2024.04.img' % A_ID,
        'properties': UBUNTU_PROPS}, 'created Ubuntu image')
    return a.id, b.id


@story.step('list shows both images with every detail field', needs=('register',))
def list_all():
    a_id, b_id = story.state['register']
    images = list(alice.images.list())
    eq(sorted(ids(images)), sorted([a_id, b_id]), 'ids listed')
    by_id = dict((i.id, i.to_dict()) for i in images)
    subset(by_id[a_id], {'name': 'Debian 12', 'properties': DEBIAN_PROPS,
                         'size': len(DEBIAN), 'checksum': md5(DEBIAN),
                         'is_public': False, 'owner': A_ID}, 'listed Debian image')
    subset(by_id[b_id], {'name': UBUNTU_NAME, 'properties': UBUNTU_PROPS},
           'listed Ubuntu image')


@story.step('list filters: name, formats, size, properties, is_public', needs=('register',))
def list_filters():
    a_id, b_id = story.state['register']

    def listed(**filters):
        return sorted(ids(alice.images.list(filters=filters)))
    eq(listed(name='Debian 12'), [a_id], 'name=Debian 12')
    eq(listed(name=UBUNTU_NAME), [b_id], 'non-ASCII name')
    eq(listed(disk_format='qcow2'), [b_id], 'disk_format=qcow2')
    eq(listed(container_format='bare'), sorted([a_id, b_id]), 'container_format=bare')
    eq(listed(size_min=1000000), [b_id], 'size_min=1000000')
    eq(listed(size_max=1000000), [a_id], 'size_max=1000000')
    eq(listed(properties={'os': 'debian'}), [a_id], 'property os=debian')
    eq(listed(properties={'description': UBUNTU_PROPS['description']}), [b_id],
       'non-ASCII property value')
    eq(listed(is_public=False), sorted([a_id, b_id]), 'is_public=False')
    eq(listed(is_public=True), [], 'is_public=True')
    eq(listed(status='available', properties={'os': 'ubuntu'}, disk_format='diskdump'), [],
       'filters are ANDed')


@story.step('list sorts by name, size and created_at both ways', needs=('register',))
def list_sorting():
    a_id, b_id = story.state['register']

    def order(key, direction):
        return ids(alice.images.list(sort_key=key, sort_dir=direction))
    eq(order('name', 'asc'), [a_id, b_id], 'name asc')
    eq(order('name', 'desc'), [b_id, a_id], 'name desc')
    eq(order('size', 'desc'), [b_id, a_id], 'size desc')
    eq(order('created_at', 'asc'), [a_id, b_id], 'created_at asc')
    eq(order('created_at', 'desc'), [b_id, a_id], 'created_at desc')


@story.step('list pages with page_size and marker, and stops at the end', needs=('register',))
def list_paging():
    a_id, b_id = story.state['register']
    urls = []
    real_get = alice.http_client.get

    def recording_get(url, **kw):
        urls.append(url)
        return real_get(url, **kw)
    alice.http_client.get = recording_get
    try:
        got = ids(alice.images.list(page_size=1, sort_key='name', sort_dir='asc'))
        first = ids(alice.images.list(page_size=1, limit=1, sort_key='name', sort_dir='desc'))
    finally:
        alice.http_client.get = real_get
    eq(got, [a_id, b_id], 'all pages of one, in name order')
    eq(first, [b_id], 'limit=1 with name desc')
    eq(len(urls), 4, 'requests made (3 pages, then 1): %s' % urls)
    ok('marker=%s' % a_id in urls[1] and 'marker=%s' % b_id in urls[2],
       'second and third page continue after the marker: %s' % urls)


@story.step('show (HEAD): the name and property values as registered', needs=('register',))
def show():
    a_id, b_id = story.state['register']
    a = alice.images.get(a_id).to_dict()
    subset(a, {'id': a_id, 'name': 'Debian 12', 'status': 'available',
               'disk_format': 'diskdump', 'container_format': 'bare',
               'size': len(DEBIAN), 'checksum': md5(DEBIAN), 'is_public': False,
               'owner': A_ID, 'location': DEBIAN_LOC}, 'HEAD of Debian image')
    for key in ('os', 'users', 'description'):
        eq(a['properties'].get(key), DEBIAN_PROPS[key], 'property %s shown by HEAD' % key)


@story.step('show (HEAD): property keys as registered (os_version)', needs=('register',))
def show_keys():
    a_id, b_id = story.state['register']
    eq(sorted(alice.images.get(a_id).properties), sorted(DEBIAN_PROPS),
       'property keys shown by HEAD')


@story.step('update merges properties; purge_props replaces them', needs=('register',))
def update():
    a_id, b_id = story.state['register']
    a = alice.images.update(a_id, name='Debian 12.5',
                            properties={'os_version': '12.5', 'kernel': '6.1'})
    merged = dict(DEBIAN_PROPS, os_version='12.5', kernel='6.1')
    subset(a.to_dict(), {'name': 'Debian 12.5', 'properties': merged}, 'update answer')
    listed = [i.to_dict() for i in alice.images.list(filters={'name': 'Debian 12.5'})]
    eq(len(listed), 1, 'images named Debian 12.5')
    eq(listed[0]['properties'], merged, 'properties after the update, as listed')
    b = alice.images.update(b_id, properties={'os': 'ubuntu', 'release': 'noble'},
                            purge_props=True)
    eq(b.properties, {'os': 'ubuntu', 'release': 'noble'}, 'properties after purge_props')
    b = alice.images.update(b_id, min_ram=512, min_disk=4)
    subset(b.to_dict(), {'min_ram': 512, 'min_disk': 4,
                         'properties': {'os': 'ubuntu', 'release': 'noble'}},
           'update of min_ram/min_disk keeps properties')


@story.step('publish: Bob sees a public image; unpublish: he no longer does',
            needs=('register',))
def publish():
    a_id, b_id = story.state['register']
    eq(ids(bob.images.list()), [], "Bob's list before publishing")
    a = alice.images.update(a_id, is_public=True)
    eq(a.is_public, True, 'is_public after publishing')
    eq(ids(bob.images.list()), [a_id], "Bob's list of a public image")
    eq(ids(bob.images.list(filters={'is_public': True})), [a_id], 'is_public=True as Bob')
    eq(bob.images.get(a_id).id, a_id, 'Bob can HEAD the public image')
    raises(lambda: bob.images.update(a_id, name='mine now'), status_of(403),
           'Bob updating a public image of Alice')
    a = alice.images.update(a_id, is_public=False)
    eq(a.is_public, False, 'is_public after unpublishing')
    eq(ids(bob.images.list()), [], "Bob's list after unpublishing")
    raises(lambda: bob.images.get(a_id), status_of(404), 'Bob HEAD of a private image')


@story.step('share with Bob: he sees it, cannot change it, finds it shared; '
            'removed, he loses it', needs=('register',))
def share():
    a_id, b_id = story.state['register']
    alice.image_members.create(b_id, B_ID)
    members = [(m.image_id, m.member_id, m.can_share)
               for m in alice.image_members.list(image=b_id)]
    eq(members, [(b_id, B_ID, False)], 'members of the shared image')
    eq(ids(bob.images.list()), [b_id], "Bob's list")
    eq(bob.images.get(b_id).id, b_id, 'Bob HEAD of the shared image')
    raises(lambda: bob.images.update(b_id, name='mine now'), status_of(403),
           'Bob updating a shared image')
    raises(lambda: bob.images.delete(b_id), status_of(403), 'Bob deleting a shared image')
    raises(lambda: bob.image_members.create(b_id, 'carol'), status_of(403),
           'Bob sharing it further')
    eq([m.image_id for m in bob.image_members.list(member=B_ID)], [b_id],
       'Bob: images shared with me (shared-images/<bob>)')
    eq([m.image_id for m in bob.image_members.list(member=A_ID)], [b_id],
       'Bob: images Alice shares with me (shared-images/<alice>)')
    eq([m.image_id for m in alice.image_members.list(member=B_ID)], [b_id],
       'Alice: images I share with Bob (shared-images/<bob>)')
    eq([m.member_id for m in bob.image_members.list(image=b_id)], [B_ID],
       'Bob lists the members of an image shared with him')
    alice.image_members.delete(b_id, B_ID)
    eq(alice.image_members.list(image=b_id), [], 'members after removing Bob')
    eq(ids(bob.images.list()), [], "Bob's list after removal")
    raises(lambda: bob.images.get(b_id), status_of(404), 'Bob HEAD after removal')
    eq(bob.image_members.list(member=B_ID), [], 'shared with Bob after removal')
    alice.image_members.replace(b_id, [{'member_id': B_ID, 'can_share': False}])
    eq([m.member_id for m in alice.image_members.list(image=b_id)], [B_ID],
       'members after replace([bob])')
    alice.image_members.replace(b_id, [])
    eq(alice.image_members.list(image=b_id), [], 'members after replace([])')


@story.step('download: the bytes, and glanceclient checks the MD5', needs=('register',))
def download():
    a_id, b_id = story.state['register']
    for image_id, data in ((a_id, DEBIAN), (b_id, UBUNTU)):
        body = alice.images.data(image_id)
        eq(len(body), len(data), 'length announced for %s' % image_id)
        got = b''.join(body)  # integrity_iter raises IOError on a wrong checksum
        eq(len(got), len(data), 'bytes downloaded for %s' % image_id)
        eq(md5(got), md5(data), 'MD5 of the download of %s' % image_id)


@story.step('unregister: gone from show and list, seen as deleted with changes-since',
            needs=('register',))
def unregister():
    a_id, b_id = story.state['register']
    alice.images.delete(a_id)
    raises(lambda: alice.images.get(a_id), status_of(404), 'HEAD of an unregistered image')
    eq(ids(alice.images.list()), [b_id], 'list after unregistering one')
    changed = [i for i in alice.images.list(filters={'changes-since': '2000-01-01T00:00:00'})
               if i.id == a_id]
    eq([i.status for i in changed], ['deleted'], 'status of the unregistered image '
       'under changes-since')
    alice.images.delete(b_id)
    eq(ids(alice.images.list()), [], 'list after unregistering both')
    ok(os.path.exists(os.path.join(env.store_root, A_ID, 'images', 'debian-12.img')),
       'the object itself is left in the store')



# ------------------------------------------- uploading (docs/api.md §13)

def uploaded_object(image_id):
    """The bytes of the object an upload stored, read from the fs store."""
    return read_file(os.path.join(env.store_root, A_ID, 'images', image_id))


@story.step('images.create(data=<file>) uploads the data: size, MD5 and status in the answer')
def upload():
    with open(LAB_FILE, 'rb') as f:
        image = alice.images.create(name='Lab image', disk_format='diskdump',
                                    container_format='bare', data=f)
    subset(image.to_dict(), {'name': 'Lab image', 'status': 'available', 'size': len(LAB),
                             'checksum': md5(LAB), 'owner': A_ID, 'is_public': False,
                             'location': 'pithos://%s/images/%s' % (A_ID, image.id)},
           'images.create with data')
    same_bytes(uploaded_object(image.id), LAB, 'the object the upload stored')
    return image.id


@story.step('images.data() of the uploaded image gives back the same bytes (MD5 checked)',
            needs=('upload',))
def upload_download():
    image_id = story.state['upload']
    body = alice.images.data(image_id)
    eq(len(body), len(LAB), 'length announced')
    same_bytes(b''.join(body), LAB, 'images.data()')
    eq(alice.images.get(image_id).checksum, md5(LAB), 'checksum shown by HEAD')


@story.step('images.create(data=) of a stream of unknown size (chunked, no x-image-meta-size)')
def upload_chunked():
    image = alice.images.create(name='Lab (streamed)', disk_format='raw',
                                container_format='bare', data=Unsized(STREAMED))
    subset(image.to_dict(), {'size': len(STREAMED), 'checksum': md5(STREAMED),
                             'status': 'available'}, 'images.create of a stream')
    same_bytes(b''.join(alice.images.data(image.id)), STREAMED, 'images.data()')
    alice.images.delete(image.id)


@story.step('images.create(data=) with a wrong checksum or size is refused (400), '
            'and leaves no image')
def upload_refused():
    for wrong in ({'checksum': md5(b'something else')}, {'checksum': pithos_hash(b'x')},
                  {'size': len(LAB) - 1}):
        with open(LAB_FILE, 'rb') as f:
            raises(lambda: alice.images.create(name='refused', disk_format='raw',
                                               container_format='bare', data=f, **wrong),
                   status_of(400), 'images.create with %s' % wrong)
    eq([i.name for i in alice.images.list(filters={'name': 'refused'})], [],
       'images named "refused"')


@story.step('a member (Bob) downloads the uploaded image with images.data()', needs=('upload',))
def upload_shared():
    image_id = story.state['upload']
    raises(lambda: bob.images.data(image_id), status_of(404), 'Bob before sharing')
    alice.image_members.create(image_id, B_ID)
    same_bytes(b''.join(bob.images.data(image_id)), LAB, "Bob's images.data()")
    alice.image_members.delete(image_id, B_ID)
    alice.images.delete(image_id)
    eq(ids(alice.images.list()), [], 'list after unregistering the upload')


story.finish()
