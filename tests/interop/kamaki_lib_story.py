# -*- coding: utf-8 -*-
"""kamaki 0.16's library, kamaki.clients.image.ImageClient (Python 2.7),
against plankton's Cyclades dialect: the client takes the endpoint URL and a
token directly (it appends /v1.0 itself).
"""
from __future__ import unicode_literals

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from kamaki.clients import ClientError  # noqa: E402
from kamaki.clients.image import ImageClient  # noqa: E402

from interop import Env, Story, eq, ok, pattern, pithos_hash, raises, subset  # noqa: E402

env = Env()
story = Story('kamaki-lib')
A_TOKEN, A_ID, _ = env.alice
B_TOKEN, B_ID, _ = env.bob

alice = ImageClient(env.url, A_TOKEN)
bob = ImageClient(env.url, B_TOKEN)

DEBIAN = pattern(250000, 'kamaki-debian')
CENTOS = pattern(5 * 1024 * 1024 + 3, 'kamaki-centos')  # two Pithos blocks
DEBIAN_LOC = env.put_object(A_ID, 'images', 'debian-12.diskdump', DEBIAN)
CENTOS_LOC = env.put_object(A_ID, 'images', 'centos/stream-9.diskdump', CENTOS)
DEBIAN_NAME = 'Debian 12 «bookworm»'
# Properties as snf-image-creator sets them (upper-case keys); kamaki shows
# them with lower-case keys.
DEBIAN_PROPS = {'OSFAMILY': 'linux', 'OS': 'debian', 'ROOT_PARTITION': '1',
                'USERS': 'root user', 'DESCRIPTION': 'Debian 12 για το εργαστήριο — ünïcode'}
CENTOS_PROPS = {'OSFAMILY': 'linux', 'OS': 'centos', 'DESCRIPTION': 'CentOS Stream 9'}


def lower_keys(d):
    return dict((k.lower(), v) for k, v in d.items())


def status_of(code):
    def check(e):
        if not isinstance(e, ClientError):
            return 'expected a kamaki ClientError'
        return None if e.status == code else 'expected status %s, got %s' % (code, e.status)
    return check


def ids(images):
    return [i['id'] for i in images]


@story.step('register two images with properties (non-ASCII name and values)')
def register():
    a = alice.register(DEBIAN_NAME, DEBIAN_LOC,
                       {'disk_format': 'diskdump', 'container_format': 'bare'}, DEBIAN_PROPS)
    subset(a, {'name': DEBIAN_NAME, 'location': DEBIAN_LOC, 'status': 'available',
               'disk_format': 'diskdump', 'container_format': 'bare',
               'size': '%d' % len(DEBIAN), 'checksum': pithos_hash(DEBIAN),
               'is_public': 'False', 'owner': A_ID, 'properties': lower_keys(DEBIAN_PROPS)},
           'register answer (Debian)')
    b = alice.register('CentOS Stream 9', CENTOS_LOC,
                       {'disk_format': 'diskdump', 'size': len(CENTOS),
                        'checksum': pithos_hash(CENTOS)}, CENTOS_PROPS)
    subset(b, {'name': 'CentOS Stream 9', 'location': CENTOS_LOC, 'size': '%d' % len(CENTOS),
               'checksum': pithos_hash(CENTOS), 'properties': lower_keys(CENTOS_PROPS)},
           'register answer (CentOS, with size and checksum given)')
    return a['id'], b['id']


@story.step('a wrong checksum is refused with 400', needs=('register',))
def register_wrong_checksum():
    raises(lambda: alice.register('bad', DEBIAN_LOC, {'checksum': '0' * 64}),
           status_of(400), 'register with a wrong checksum')


@story.step('list and list detail show both images', needs=('register',))
def list_images():
    a, b = story.state['register']
    short = alice.list_public()
    eq(sorted(ids(short)), sorted([a, b]), 'ids in the short list')
    for item in short:
        eq(sorted(item.keys()),
           ['container_format', 'disk_format', 'id', 'name', 'size', 'status'],
           'keys of a short list item')
    detail = dict((i['id'], i) for i in alice.list_public(detail=True))
    subset(detail[a], {'name': DEBIAN_NAME, 'location': DEBIAN_LOC, 'status': 'available',
                       'size': len(DEBIAN), 'checksum': pithos_hash(DEBIAN),
                       'is_public': False, 'owner': A_ID,
                       'properties': lower_keys(DEBIAN_PROPS)}, 'detail of Debian')
    ok(detail[a].get('created_at') and detail[a].get('updated_at'),
       'created_at and updated_at are set: %s' % detail[a])


@story.step('list filters (as kamaki image list sends them)', needs=('register',))
def list_filters():
    a, b = story.state['register']

    def listed(**filters):
        return sorted(ids(alice.list_public(detail=True, filters=filters)))
    # As UTF-8 bytes, as kamaki's command line passes it: given a unicode
    # value, kamaki 0.16 percent-encodes it twice (kamaki.clients._encode
    # quotes it, then RequestManager._connection_info quotes the result).
    eq(listed(name=DEBIAN_NAME.encode('utf-8')), [a], 'name (non-ASCII)')
    eq(listed(disk_format='diskdump'), sorted([a, b]), 'disk_format')
    eq(listed(disk_format='raw'), [], 'disk_format=raw')
    eq(listed(container_format='bare'), sorted([a, b]), 'container_format')
    eq(listed(size_min=1000000), [b], 'size_min')
    eq(listed(size_max=1000000), [a], 'size_max')
    eq(listed(status='available'), sorted([a, b]), 'status')
    eq(sorted(ids(alice.list_public(filters={'property-os': 'centos'}))), [b],
       'property-os=centos')


@story.step('list sorting (order=name, -name, size, -created_at)', needs=('register',))
def list_sorting():
    a, b = story.state['register']
    eq(ids(alice.list_public(order='name')), [b, a], 'order name')
    eq(ids(alice.list_public(order='-name')), [a, b], 'order -name')
    eq(ids(alice.list_public(True, order='size')), [a, b], 'order size')
    eq(ids(alice.list_public(True, order='-created_at')), [b, a], 'order -created_at')


@story.step('get_meta (HEAD) shows every field, name and properties decoded',
            needs=('register',))
def show():
    a, b = story.state['register']
    meta = alice.get_meta(a)
    subset(meta, {'id': a, 'name': DEBIAN_NAME, 'location': DEBIAN_LOC,
                  'status': 'available', 'disk_format': 'diskdump', 'container_format': 'bare',
                  'size': '%d' % len(DEBIAN), 'checksum': pithos_hash(DEBIAN),
                  'is_public': 'False', 'owner': A_ID, 'deleted_at': ''}, 'get_meta')
    eq(meta['properties'], lower_keys(DEBIAN_PROPS), 'properties from get_meta')


@story.step('update_image: name and properties merge; an empty value deletes one',
            needs=('register',))
def update():
    a, b = story.state['register']
    alice.update_image(a, name='Debian 12.5 «bookworm»', DESCRIPTION='νέα περιγραφή',
                       KERNEL='6.1')
    meta = alice.get_meta(a)
    eq(meta['name'], 'Debian 12.5 «bookworm»', 'name after update')
    expected = dict(lower_keys(DEBIAN_PROPS), description='νέα περιγραφή', kernel='6.1')
    eq(meta['properties'], expected, 'properties after update (merged)')
    alice.update_image(a, KERNEL='')
    expected.pop('kernel')
    eq(alice.get_meta(a)['properties'], expected, 'properties after KERNEL=""')
    alice.update_image(a, disk_format='raw', container_format='ovf')
    meta = alice.get_meta(a)
    eq((meta['disk_format'], meta['container_format']), ('raw', 'ovf'), 'formats after update')
    alice.update_image(a, disk_format='diskdump', container_format='bare')


@story.step('publish: Bob lists and reads it, cannot change it; unpublish: he loses it',
            needs=('register',))
def publish():
    a, b = story.state['register']
    eq(bob.list_public(), [], "Bob's list before")
    alice.update_image(a, public=True)
    eq(alice.get_meta(a)['is_public'], 'True', 'is_public after publishing')
    eq(ids(bob.list_public()), [a], "Bob's list of a public image")
    eq(bob.get_meta(a)['id'], a, 'Bob get_meta of a public image')
    raises(lambda: bob.update_image(a, name='mine'), status_of(403), 'Bob updating it')
    raises(lambda: bob.unregister(a), status_of(403), 'Bob unregistering it')
    alice.update_image(a, public=False)
    eq(alice.get_meta(a)['is_public'], 'False', 'is_public after unpublishing')
    eq(bob.list_public(), [], "Bob's list after unpublishing")
    raises(lambda: bob.get_meta(a), status_of(404), 'Bob get_meta of a private image')


@story.step('share with Bob: he sees it, cannot change it, finds it in shared-images; '
            'removed, he loses it', needs=('register',))
def share():
    a, b = story.state['register']
    alice.add_member(b, B_ID)
    eq(alice.list_members(b), [{'member_id': B_ID, 'can_share': False}], 'members')
    eq(ids(bob.list_public(detail=True)), [b], "Bob's list")
    eq(bob.get_meta(b)['name'], 'CentOS Stream 9', 'Bob get_meta')
    eq(bob.list_members(b), [{'member_id': B_ID, 'can_share': False}], 'members, as Bob')
    raises(lambda: bob.update_image(b, name='mine'), status_of(403), 'Bob updating it')
    raises(lambda: bob.unregister(b), status_of(403), 'Bob unregistering it')
    raises(lambda: bob.add_member(b, 'carol'), status_of(403), 'Bob sharing it on')
    eq(bob.list_shared(A_ID), [{'image_id': b, 'can_share': False}],
       'Bob: what Alice shares with me')
    eq(alice.list_shared(B_ID), [{'image_id': b, 'can_share': False}],
       'Alice: what I share with Bob')
    alice.remove_member(b, B_ID)
    eq(alice.list_members(b), [], 'members after removing Bob')
    eq(bob.list_public(), [], "Bob's list after removal")
    eq(bob.list_shared(A_ID), [], 'Bob: what Alice shares with me, after removal')
    raises(lambda: bob.get_meta(b), status_of(404), 'Bob get_meta after removal')
    alice.set_members(b, [B_ID])
    eq(alice.list_members(b), [{'member_id': B_ID, 'can_share': False}],
       'members after set_members([bob])')
    return b


@story.step('re-register the same location: same id, new metadata, members kept',
            needs=('register', 'share'))
def reregister():
    a, b = story.state['register']
    again = alice.register('CentOS Stream 9 (rebuilt)', CENTOS_LOC, {},
                           {'OS': 'centos', 'BUILD': '2'})
    eq(again['id'], b, 'id after re-registering')
    eq(again['properties'], {'os': 'centos', 'build': '2'}, 'properties after re-registering')
    eq(alice.list_members(b), [{'member_id': B_ID, 'can_share': False}],
       'members after re-registering')
    alice.set_members(b, [])
    eq(alice.list_members(b), [], 'members after set_members([])')


@story.step('unregister: gone from get_meta and the list; the file stays',
            needs=('register',))
def unregister():
    a, b = story.state['register']
    alice.unregister(a)
    raises(lambda: alice.get_meta(a), status_of(404), 'get_meta after unregister')
    eq(ids(alice.list_public()), [b], 'list after unregistering one')
    alice.unregister(b)
    eq(alice.list_public(), [], 'list after unregistering both')
    ok(os.path.exists(os.path.join(env.store_root, A_ID, 'images', 'debian-12.diskdump')),
       'the object is left in the store')
    again = alice.register(DEBIAN_NAME, DEBIAN_LOC)
    ok(again['id'] != a, 'registering the freed location gives a new id')
    alice.unregister(again['id'])


story.finish()
