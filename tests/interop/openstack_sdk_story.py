# -*- coding: utf-8 -*-
"""openstacksdk 4.22.0 (Python 3.11) against plankton's Image API v2
(docs/api.md §17): the cloud layer (`conn.create_image`,
`conn.download_image`) and the image proxy (`conn.image.*`), as Ansible's
openstack.cloud, terraform and packer drive them; admin_token auth, no
Keystone. What each call sends is in tests/interop/v2-requests.md.
"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from interop import (Env, Story, contains, eq, md5, not_contains, ok, pattern,  # noqa: E402
                     raises, read_file, same_bytes, subset)
from osc import connect  # noqa: E402

env = Env()
story = Story('openstack-sdk')
A_TOKEN, A_ID, _ = env.alice
B_TOKEN, B_ID, _ = env.bob
ALICE = connect(env, A_TOKEN)
BOB = connect(env, B_TOKEN)
DISK = pattern(5 * 1024 * 1024 + 3, 'openstack-sdk-disk')
DISK_FILE = os.path.join(env.work, 'disk.img')
with open(DISK_FILE, 'wb') as f:
    f.write(DISK)
SMALL = pattern(70001, 'openstack-sdk-small')
# Every upload here is declared raw: plankton inspects the data (docs/api.md
# §19) and these patterns are raw data.


def listed(conn, **query):
    return [i.id for i in conn.image.images(**query)]


@story.step('conn.create_image(name, filename=, disk_format=, container_format=)')
def create_cloud():
    img = ALICE.create_image('sdk-debian', filename=DISK_FILE, disk_format='raw',
                             container_format='bare', wait=True, meta={'os': 'debian'})
    eq(img.status, 'active', 'status')
    eq(img.size, len(DISK), 'size')
    eq(img.checksum, md5(DISK), 'checksum')
    eq(img.hash_algo, 'sha512', 'os_hash_algo')
    eq(img.hash_value, hashlib.sha512(DISK).hexdigest(), 'os_hash_value')
    eq(img.owner, A_ID, 'owner')
    return img.id


@story.step('conn.image.create_image, then Image.upload')
def create_then_upload():
    img = ALICE.image.create_image(name='sdk-two-steps', disk_format='raw',
                                   container_format='bare')
    eq(img.status, 'queued', 'status before the upload')
    img.data = SMALL
    img.upload(ALICE.image)
    got = ALICE.image.get_image(img.id)
    subset({'status': got.status, 'size': got.size, 'checksum': got.checksum},
           {'status': 'active', 'size': len(SMALL), 'checksum': md5(SMALL)}, 'after upload')
    return img.id


@story.step('conn.image.upload_image(name=, data=, ...)')
def upload_image():
    img = ALICE.image.upload_image(name='sdk-one-call', data=SMALL[:1000],
                                   disk_format='raw', container_format='bare')
    got = ALICE.image.get_image(img.id)
    eq((got.status, got.size), ('active', 1000), 'status and size')
    return img.id


@story.step('conn.download_image and conn.image.download_image: the bytes, checksum',
            needs=('create_cloud',))
def download():
    i = story.state['create_cloud']
    out = os.path.join(env.work, 'downloaded.img')
    ALICE.download_image(i, output_path=out)
    same_bytes(read_file(out), DISK, 'conn.download_image')
    r = ALICE.image.download_image(i)
    same_bytes(r.content, DISK, 'conn.image.download_image')
    eq(r.headers.get('Content-MD5'), md5(DISK), 'Content-MD5')


@story.step('conn.update_image_properties and conn.image.update_image',
            needs=('create_cloud',))
def update():
    i = story.state['create_cloud']
    # The cloud layer diffs against a fetched image (Ansible passes the one
    # it found): with a bare id it has no properties to diff against.
    ALICE.update_image_properties(image=ALICE.image.get_image(i), meta={'arch': 'x86_64'})
    ALICE.image.update_image(i, name='sdk-debian-12', min_ram=256)
    got = ALICE.image.get_image(i)
    eq((got.name, got.min_ram), ('sdk-debian-12', 256), 'name, min_ram')
    eq(got.properties.get('arch'), 'x86_64', 'property arch')
    eq(got.properties.get('os'), 'debian', 'property os kept')


@story.step('tags: add_tag, remove_tag, images(tag=)', needs=('create_cloud',))
def tags():
    i = story.state['create_cloud']
    ALICE.image.add_tag(i, 'lts')
    ALICE.image.add_tag(i, 'lab')
    eq(sorted(ALICE.image.get_image(i).tags), ['lab', 'lts'], 'tags')
    eq(listed(ALICE, tag='lts'), [i], 'images(tag=lts)')
    ALICE.image.remove_tag(i, 'lab')
    eq(ALICE.image.get_image(i).tags, ['lts'], 'tags after remove_tag')


@story.step('members: add_member, update_member as the member, members, remove_member',
            needs=('create_cloud',))
def members():
    i = story.state['create_cloud']
    m = ALICE.image.add_member(i, member_id=B_ID)
    eq(m.status, 'pending', 'new member')
    not_contains(listed(BOB), i, "bob's list before accepting")
    contains(listed(BOB, member_status='pending'), i, "bob's pending list")
    BOB.image.update_member(B_ID, i, status='accepted')
    contains(listed(BOB), i, "bob's list once accepted")
    eq([(x.member_id, x.status) for x in ALICE.image.members(i)], [(B_ID, 'accepted')],
       'members')
    same_bytes(BOB.image.download_image(i).content, DISK, "bob's download")
    ALICE.image.remove_member(B_ID, i)
    eq(list(ALICE.image.members(i)), [], 'members after remove_member')
    raises(lambda: BOB.image.get_image(i), lambda e: None, 'bob reads it no more')


@story.step('images(): filters, and paging that follows next over 30 images',
            needs=('create_cloud', 'create_then_upload', 'upload_image'))
def paging():
    made = [ALICE.image.create_image(name='page-%02d' % n, visibility='private').id
            for n in range(27)]
    every = listed(ALICE, limit=7)
    eq(len(every), 30, 'images(limit=7) follows next to the end')
    eq(len(set(every)), 30, 'no image twice')
    eq(set(listed(ALICE, visibility='private')), set(made), 'visibility=private')
    eq(set(listed(ALICE, status='queued')), set(made), 'status=queued')
    eq(listed(ALICE, name='sdk-one-call'), [story.state['upload_image']], 'name=')
    names = [i.name for i in ALICE.image.images(sort_key='name', sort_dir='asc')]
    eq(names, sorted(names), 'sort_key=name, sort_dir=asc')


@story.step('deactivate_image / reactivate_image', needs=('create_cloud',))
def deactivate():
    i = story.state['create_cloud']
    ALICE.image.deactivate_image(i)
    eq(ALICE.image.get_image(i).status, 'deactivated', 'status')
    raises(lambda: ALICE.image.download_image(i), lambda e: None, 'download when deactivated')
    ALICE.image.reactivate_image(i)
    same_bytes(ALICE.image.download_image(i).content, DISK, 'download after reactivate')


@story.step('delete_image', needs=('create_then_upload',))
def delete():
    i = story.state['create_then_upload']
    ALICE.image.delete_image(i)
    ok(ALICE.image.find_image(i) is None, 'find_image after delete')


story.finish()
