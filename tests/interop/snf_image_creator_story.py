# -*- coding: utf-8 -*-
"""snf-image-creator 0.10's registration path (Python 2.7) against plankton:
image_creator.kamaki_wrapper.Kamaki, as snf-mkimage's main() uses it after the
image is in the store: an account from the authentication URL and token (or a
saved cloud), the Kamaki wrapper built from the account's service catalog,
then register() with the metadata the image's OS detection produced.
"""
from __future__ import unicode_literals

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

# kamaki_wrapper reads the kamaki config file when imported (KAMAKI_CONFIG,
# a scratch file of this story).
from image_creator.kamaki_wrapper import Kamaki  # noqa: E402
from image_creator.output import Output  # noqa: E402
from kamaki.clients.image import ImageClient  # noqa: E402

from interop import Env, Story, eq, ok, pattern, pithos_hash, subset  # noqa: E402

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


story.finish()
