# -*- coding: utf-8 -*-
"""snf-image-creator 0.10's upload and registration path (Python 2.7)
against plankton: image_creator.kamaki_wrapper.Kamaki, as snf-mkimage's
main() uses it: an account from the authentication URL and token (or a saved
cloud), the Kamaki wrapper built from the account's service catalog, then
register() with the metadata the image's OS detection produced, of an image
already in the store, or uploaded first through plankton's object store
(upload() of the image and its .md5sum, register(), upload() of the .meta,
share() of both for a public image) with the very arguments main() passes.
"""
from __future__ import unicode_literals

import StringIO
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

# kamaki_wrapper reads the kamaki config file when imported (KAMAKI_CONFIG,
# a scratch file of this story).
from image_creator.kamaki_wrapper import Kamaki  # noqa: E402
from image_creator.output import Output  # noqa: E402
from kamaki.clients.image import ImageClient  # noqa: E402
from kamaki.clients.pithos import PithosClient  # noqa: E402

from interop import (Env, Story, eq, md5, ok, pattern, pithos_hash, raises,  # noqa: E402
                     same_bytes, subset, upload_image)

env = Env()
story = Story('snf-image-creator')
A_TOKEN, A_ID, A_NAME = env.alice
B_TOKEN, B_ID, _ = env.bob

IMAGE = pattern(6 * 1024 * 1024, 'snf-image-creator-debian')
# What snf-mkimage uploads: <container>/<name>, here put straight into the store.
LOCATION = env.put_object(A_ID, 'images', 'debian_base-12.0-x86_64.diskdump', IMAGE)
PUBLIC_LOCATION = env.put_object(A_ID, 'images', 'public-debian.diskdump', IMAGE[:1000])
# The metadata image_creator's OS detection sets (image.meta), with a
# non-ASCII description as users of Synnefo's Greek deployments write them.
META = {
    'OSFAMILY': 'linux', 'OS': 'debian', 'ROOT_PARTITION': '1',
    'PARTITION_TABLE': 'msdos', 'USERS': 'root user', 'KERNEL': '6.1.0-18-amd64',
    'GUI': 'No GUI', 'SORTORDER': '1', 'SWAP': '2:512',
    'DESCRIPTION': 'Debian 12 για το εργαστήριο — ελάχιστη εγκατάσταση',
}
# What snf-mkimage -u uploads: the image (read from its raw device), here a
# file of four blocks (one all NULs, one ending in NULs, a short last one).
UPLOADED = upload_image('snf-image-creator-upload')
UPLOADED_FILE = os.path.join(env.work, 'debian.raw')
with open(UPLOADED_FILE, 'wb') as _f:
    _f.write(UPLOADED)
UPLOAD_NAME = 'debian_base-12.0-uploaded.diskdump'
PUBLIC_UPLOAD = pattern(4 * 1024 * 1024 + 4096, 'snf-image-creator-public') + b'\x00' * 512
PUBLIC_FILE = os.path.join(env.work, 'public.raw')
with open(PUBLIC_FILE, 'wb') as _f:
    _f.write(PUBLIC_UPLOAD)
PUBLIC_NAME = 'debian-public.diskdump'


@story.step('an account from the authentication URL and token (Kamaki.create_account)')
def account():
    acc = Kamaki.create_account(env.identity_url, A_TOKEN)
    ok(acc is not None, 'create_account returned None: the URL or token was refused')
    eq(acc.user_info()['id'], A_ID, 'user id of the account')
    return acc


@story.step('a saved cloud (Kamaki.save_cloud / get_account), as snf-mkimage --cloud uses')
def saved_cloud():
    Kamaki.save_cloud('plankton', env.identity_url, A_TOKEN, 'offline plankton')
    eq(Kamaki.get_default_cloud_name(), 'plankton', 'default cloud after save_cloud')
    acc = Kamaki.get_account('plankton')
    ok(acc is not None, 'get_account returned None')
    eq(acc.user_info()['id'], A_ID, 'user id of the saved cloud')


@story.step('the Kamaki wrapper is built from the service catalog', needs=('account',))
def wrapper():
    # Kamaki() makes its Pithos client from the catalog's object-store
    # endpoint and its image client from the image endpoint.
    return Kamaki(story.state['account'], Output())


@story.step('register a private image with the detected metadata', needs=('wrapper',))
def register():
    result = story.state['wrapper'].register('Debian Base 12.0', LOCATION, dict(META))
    subset(result, {'name': 'Debian Base 12.0', 'location': LOCATION, 'status': 'available',
                    'disk_format': 'diskdump', 'container_format': 'bare',
                    'size': '%d' % len(IMAGE), 'checksum': pithos_hash(IMAGE),
                    'is_public': 'False', 'owner': A_ID,
                    'properties': dict((k.lower(), v) for k, v in META.items())},
           'register result')
    # snf-mkimage then writes the result as the .meta file and prints it.
    text = json.dumps(result, ensure_ascii=False, indent=4)
    ok(META['DESCRIPTION'] in text, 'the description in the dumped metadata')
    return result['id']


@story.step('register a public image (snf-mkimage --public); another user sees it',
            needs=('wrapper',))
def register_public():
    result = story.state['wrapper'].register('Debian (public)', PUBLIC_LOCATION,
                                             {'OSFAMILY': 'linux', 'OS': 'debian'}, True)
    eq(result.get('is_public'), 'True', 'is_public of a public registration')
    bob = ImageClient(env.url, B_TOKEN)
    eq([i['id'] for i in bob.list_public()], [result['id']], "another user's list")


@story.step('the registered image as kamaki shows it', needs=('register',))
def show():
    meta = ImageClient(env.url, A_TOKEN).get_meta(story.state['register'])
    eq(meta['properties'], dict((k.lower(), v) for k, v in META.items()), 'properties')
    eq(meta['name'], 'Debian Base 12.0', 'name')


@story.step('registering again (snf-mkimage -r on the same upload) keeps the id',
            needs=('register',))
def reregister():
    result = story.state['wrapper'].register('Debian Base 12.1', LOCATION,
                                             dict(META, DESCRIPTION='rebuilt'))
    eq(result['id'], story.state['register'], 'id after registering again')
    eq(result['properties'].get('description'), 'rebuilt', 'description after registering again')


@story.step('a wrong token is refused (create_account returns None)')
def wrong_token():
    ok(Kamaki.create_account(env.identity_url, 'not-a-token') is None,
       'create_account with a wrong token should return None')



# ------------------------------- uploading (snf-mkimage -u NAME -r NAME)

def pithos(token):
    """A PithosClient reading Alice's images container as the token's user."""
    url = story.state['account'].get_service_endpoints('object-store')['publicURL']
    return PithosClient(url, token, A_ID, 'images')


def fetch(client, name):
    path = os.path.join(env.work, 'fetched.bin')
    with open(path, 'wb+') as f:
        client.download_object(name, f)
    with open(path, 'rb') as f:
        return f.read()


def mkimage_upload(kamaki, path, size, name, container='images'):
    """What snf-mkimage -u does: the image, then its .md5sum. main() passes
    the progress messages in the place of content_type and hp (the image
    object's type is '(1/3)  Calculating block hashes')."""
    with open(path, 'rb') as f:
        remote = kamaki.upload(f, size, name, container, '(1/3)  Calculating block hashes',
                               '(2/3)  Uploading missing blocks')
    with open(path, 'rb') as f:
        checksum = md5(f.read())
    md5sumstr = str('%s %s\n' % (checksum, os.path.basename(name)))
    kamaki.upload(StringIO.StringIO(md5sumstr), size=len(md5sumstr),
                  remote_path='%s.%s' % (name, 'md5sum'), container=container,
                  content_type='text/plain')
    return remote, md5sumstr


def mkimage_register(kamaki, name, remote, meta, public, upload_name, container='images'):
    """What snf-mkimage -r does after the upload: register, then upload the
    result as the .meta file, with the size main() gives: the length of the
    text in characters, so a non-ASCII .meta is cut short (a bug of
    snf-image-creator 0.10, which Pithos stores the same way)."""
    result = kamaki.register(name, remote, meta, public)
    metastring = unicode(json.dumps(result, ensure_ascii=False, indent=4))  # noqa: F821
    sent = metastring.encode('utf8')
    kamaki.upload(StringIO.StringIO(sent), size=len(metastring),
                  remote_path='%s.%s' % (upload_name, 'meta'), container=container,
                  content_type='application/json')
    if public:
        kamaki.share('%s.md5sum' % upload_name)
        kamaki.share('%s.meta' % upload_name)
    return result, sent[:len(metastring)]


@story.step('upload (snf-mkimage -u): the image and its .md5sum, as main() sends them',
            needs=('wrapper',))
def upload():
    kamaki = story.state['wrapper']
    for name in (UPLOAD_NAME, UPLOAD_NAME + '.md5sum', UPLOAD_NAME + '.meta'):
        ok(not kamaki.object_exists('images', name), '%s exists before the upload' % name)
    remote, md5sumstr = mkimage_upload(kamaki, UPLOADED_FILE, len(UPLOADED), UPLOAD_NAME)
    eq(remote, 'pithos://%s/images/%s' % (A_ID, UPLOAD_NAME), 'the location upload() returns')
    ok(kamaki.object_exists('images', UPLOAD_NAME), 'the image exists after the upload')
    alice = pithos(A_TOKEN)
    subset(alice.get_object_info(UPLOAD_NAME),
           {'content-length': '%d' % len(UPLOADED), 'etag': md5(UPLOADED),
            'x-object-hash': pithos_hash(UPLOADED),
            'content-type': '(1/3)  Calculating block hashes'}, 'the uploaded image object')
    same_bytes(fetch(alice, UPLOAD_NAME), UPLOADED, 'the uploaded image, downloaded')
    eq(fetch(alice, UPLOAD_NAME + '.md5sum'), md5sumstr, 'the .md5sum object')
    eq(alice.get_object_info(UPLOAD_NAME + '.md5sum').get('content-type'), 'text/plain',
       'type of the .md5sum object')
    return remote


@story.step('register (snf-mkimage -r) the upload: size and checksum; its .meta uploaded',
            needs=('upload',))
def register_uploaded():
    result, meta_sent = mkimage_register(story.state['wrapper'], 'Debian Base 12.0 (uploaded)',
                                         story.state['upload'], dict(META), False, UPLOAD_NAME)
    subset(result, {'name': 'Debian Base 12.0 (uploaded)', 'location': story.state['upload'],
                    'status': 'available', 'disk_format': 'diskdump',
                    'size': '%d' % len(UPLOADED), 'checksum': pithos_hash(UPLOADED),
                    'is_public': 'False',
                    'properties': dict((k.lower(), v) for k, v in META.items())},
           'register result')
    eq(fetch(pithos(A_TOKEN), UPLOAD_NAME + '.meta'), meta_sent,
       'the .meta object (the bytes snf-image-creator sent)')
    raises(lambda: pithos(B_TOKEN).get_object_info(UPLOAD_NAME + '.md5sum'),
           lambda e: None if getattr(e, 'status', None) == 403 else 'expected 403',
           "another user reading a private image's .md5sum")
    ImageClient(env.url, A_TOKEN).unregister(result['id'])


@story.step('a public upload (snf-mkimage --public): another user reads the image, its '
            '.md5sum and its .meta', needs=('wrapper',))
def upload_public():
    kamaki = story.state['wrapper']
    remote, md5sumstr = mkimage_upload(kamaki, PUBLIC_FILE, len(PUBLIC_UPLOAD), PUBLIC_NAME)
    result, meta_sent = mkimage_register(kamaki, 'Debian (public upload)', remote,
                                         {'OSFAMILY': 'linux', 'OS': 'debian'}, True,
                                         PUBLIC_NAME)
    subset(result, {'is_public': 'True', 'size': '%d' % len(PUBLIC_UPLOAD),
                    'checksum': pithos_hash(PUBLIC_UPLOAD)}, 'register result')
    eq(json.loads(meta_sent.decode('utf-8')).get('id'), result['id'], 'the .meta object')
    bob = pithos(B_TOKEN)
    same_bytes(fetch(bob, PUBLIC_NAME), PUBLIC_UPLOAD, "another user's download of the image")
    eq(fetch(bob, PUBLIC_NAME + '.md5sum'), md5sumstr, "another user's .md5sum")
    eq(fetch(bob, PUBLIC_NAME + '.meta'), meta_sent, "another user's .meta")
    eq(pithos(A_TOKEN).get_object_sharing(PUBLIC_NAME + '.meta'), {'read': '*'},
       'sharing of the .meta object')
    ImageClient(env.url, A_TOKEN).unregister(result['id'])


@story.step('upload into a container of its own (snf-mkimage --container): upload() creates it',
            needs=('wrapper',))
def upload_container():
    kamaki = story.state['wrapper']
    data = str('a small image\n')
    remote = kamaki.upload(StringIO.StringIO(data), size=len(data), remote_path='small.img',
                           container='snf-lab', content_type='application/octet-stream')
    eq(remote, 'pithos://%s/snf-lab/small.img' % A_ID, 'the location upload() returns')
    ok(kamaki.object_exists('snf-lab', 'small.img'), 'the object exists after the upload')
    ok('snf-lab' in [c['name'] for c in kamaki.pithos.list_containers()],
       'snf-lab among the containers')
    kamaki.upload(StringIO.StringIO(data), size=len(data), remote_path='again.img',
                  container='snf-lab')
    ok(kamaki.object_exists('snf-lab', 'again.img'), 'a second upload into the container')


story.finish()
