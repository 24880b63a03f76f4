# -*- coding: utf-8 -*-
"""The `glance --os-image-api-version 1` command line (python-glanceclient
4.13.0, Python 3) against plankton, as a user types it: with --os-image-url
and --os-auth-token (no Keystone), reading the tables it prints.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from interop import (Env, Story, contains, eq, md5, ok, pattern, read_file,  # noqa: E402
                     run, same_bytes, subset, table_dict, table_dicts, upload_image)

env = Env()
story = Story('glance-cli')
A_TOKEN, A_ID, _ = env.alice
B_TOKEN, B_ID, _ = env.bob
GLANCE = os.path.join(env.bin, 'glance')

DEBIAN = pattern(200000, 'glance-cli-debian')
ALPINE = pattern(4 * 1024 * 1024 + 1, 'glance-cli-alpine')
DEBIAN_LOC = env.put_object(A_ID, 'images', 'debian.img', DEBIAN)
ALPINE_LOC = env.put_object(A_ID, 'images', 'alpine.img', ALPINE)
DESCRIPTION = 'Ελληνικό Debian, «δοκιμή»'
# image-show reads HEAD headers, which glanceclient cannot decode from
# non-ASCII under Python 3 (see glance_lib_story.py): it is checked on NOTES.
NOTES = 'lab build #3 (bookworm), see /srv/images'
# Uploaded with image-create --file (docs/api.md §13); the README's
# "air-gapped lab" runs these same commands.
LAB = upload_image('glance-cli-lab')
LAB_FILE = os.path.join(env.work, 'lab.img')
with open(LAB_FILE, 'wb') as f:
    f.write(LAB)


def glance(token, *args, **kw):
    """Runs `glance --os-image-api-version 1 ...` as the token's user."""
    argv = [GLANCE, '--os-image-api-version', '1', '--os-image-url', env.url,
            '--os-auth-token', token] + list(args)
    return run(argv, check=kw.get('check', True))


def alice(*args, **kw):
    return glance(A_TOKEN, *args, **kw)


def bob(*args, **kw):
    return glance(B_TOKEN, *args, **kw)


def listed_ids(result):
    return [row['ID'] for row in table_dicts(result.out)]


def fails(result, what, *phrases):
    """The command failed (non-zero exit) and said each phrase."""
    ok(result.code != 0, '%s: expected the command to fail, it succeeded:\n%s' % (what, result))
    text = result.out + result.err
    for p in phrases:
        ok(p in text, '%s: expected %r in the output:\n%s' % (what, p, result))


@story.step('image-create without --is-public (as users type it) registers a private image')
def register_plain():
    # Without --is-public the command line still passes is_public=None, and
    # the library sends the header `x-image-meta-is_public: None`, which
    # Glance v1 read as False.
    loc = env.put_object(A_ID, 'scratch', 'plain.img', b'plain image')
    shown = table_dict(alice('image-create', '--name', 'plain', '--location', loc,
                             '--disk-format', 'diskdump', '--container-format', 'bare').out)
    subset(shown, {'name': 'plain', 'is_public': 'False', 'status': 'available',
                   'disk_format': 'diskdump', 'container_format': 'bare'},
           'image-create without --is-public')
    alice('image-delete', shown['id'])


@story.step('image-create with --location and properties (non-ASCII too)')
def register():
    a = table_dict(alice('image-create', '--name', 'Debian 12', '--location', DEBIAN_LOC,
                         '--disk-format', 'diskdump', '--container-format', 'bare',
                         '--is-public', 'False', '--property', 'os=debian',
                         '--property', 'description=' + DESCRIPTION,
                         '--property', 'notes=' + NOTES).out)
    subset(a, {'name': 'Debian 12', 'status': 'available', 'disk_format': 'diskdump',
               'container_format': 'bare', 'size': str(len(DEBIAN)),
               'checksum': md5(DEBIAN), 'is_public': 'False', 'owner': A_ID,
               "Property 'os'": 'debian', "Property 'description'": DESCRIPTION,
               "Property 'notes'": NOTES},
           'image-create')
    return a['id']


@story.step('image-create with --is-public False and --min-ram')
def register_second():
    b = table_dict(alice('image-create', '--name', 'Alpine 3.20', '--location', ALPINE_LOC,
                         '--disk-format', 'raw', '--container-format', 'bare',
                         '--is-public', 'False', '--min-ram', '256',
                         '--property', 'os=alpine', '--property', 'os_version=3.20').out)
    subset(b, {'name': 'Alpine 3.20', 'status': 'available', 'disk_format': 'raw',
               'size': str(len(ALPINE)), 'checksum': md5(ALPINE), 'is_public': 'False',
               'min_ram': '256', "Property 'os'": 'alpine', "Property 'os_version'": '3.20'},
           'image-create --is-public False')
    return b['id']


@story.step('image-list with filters and sorting', needs=('register', 'register_second'))
def image_list():
    a, b = story.state['register'], story.state['register_second']
    eq(listed_ids(alice('image-list')), [b, a], 'image-list (sorted by name by default)')
    rows = table_dicts(alice('image-list').out)
    subset(rows[1], {'Name': 'Debian 12', 'Disk Format': 'diskdump',
                     'Container Format': 'bare', 'Size': str(len(DEBIAN)),
                     'Status': 'available'}, 'image-list row of Debian')
    eq(listed_ids(alice('image-list', '--sort-key', 'name', '--sort-dir', 'desc')), [a, b],
       'image-list --sort-dir desc')
    eq(listed_ids(alice('image-list', '--sort-key', 'size', '--sort-dir', 'desc')), [b, a],
       'image-list --sort-key size --sort-dir desc')
    eq(listed_ids(alice('image-list', '--disk-format', 'raw')), [b], '--disk-format raw')
    eq(listed_ids(alice('image-list', '--name', 'Debian 12')), [a], '--name')
    eq(listed_ids(alice('image-list', '--size-min', '1000000')), [b], '--size-min')
    eq(listed_ids(alice('image-list', '--size-max', '1000000')), [a], '--size-max')
    eq(listed_ids(alice('image-list', '--property-filter', 'os=alpine')), [b],
       '--property-filter os=alpine')
    eq(listed_ids(alice('image-list', '--property-filter', 'description=' + DESCRIPTION)), [a],
       '--property-filter with a non-ASCII value')
    eq(listed_ids(alice('image-list', '--is-public', 'False')), [b, a], '--is-public False')
    eq(listed_ids(alice('image-list', '--page-size', '1')), [b, a], '--page-size 1 (paging)')


@story.step('image-list --owner (client-side filter)', needs=('register', 'register_second'))
def image_list_owner():
    a, b = story.state['register'], story.state['register_second']
    eq(listed_ids(alice('image-list', '--owner', A_ID)), [b, a], '--owner <alice>')
    eq(listed_ids(alice('image-list', '--owner', B_ID)), [], '--owner <bob>')


@story.step('image-show shows the image as registered', needs=('register',))
def show():
    a = story.state['register']
    shown = table_dict(alice('image-show', a).out)
    subset(shown, {'id': a, 'name': 'Debian 12', 'status': 'available',
                   'disk_format': 'diskdump', 'size': str(len(DEBIAN)),
                   'checksum': md5(DEBIAN), 'is_public': 'False', 'owner': A_ID,
                   "Property 'os'": 'debian', "Property 'notes'": NOTES}, 'image-show')
    props = sorted(k for k in shown if k.startswith('Property '))
    eq(props, ["Property 'description'", "Property 'notes'", "Property 'os'"],
       'property rows of image-show')


@story.step('image-show: both spellings of a field agree', needs=('register',))
def show_spellings():
    # docs/api.md §5 sends every multi-word field in both spellings (x-image-meta-disk-format
    # and x-image-meta-disk_format), so image-show has a row for each; they must agree.
    shown = table_dict(alice('image-show', story.state['register']).out)
    twice = sorted(k for k in shown if '-' in k and k.replace('-', '_') in shown)
    for k in twice:
        eq(shown[k], shown[k.replace('-', '_')], 'rows %s and %s' % (k, k.replace('-', '_')))
    contains(shown, 'disk_format', 'image-show rows')


@story.step('image-show of a property whose key has an underscore', needs=('register_second',))
def show_underscore_key():
    b = story.state['register_second']
    shown = table_dict(alice('image-show', b).out)
    contains(shown, "Property 'os_version'", 'image-show rows')
    eq(shown.get("Property 'os_version'"), '3.20', "Property 'os_version'")


@story.step('image-show by name', needs=('register',))
def show_by_name():
    a = story.state['register']
    eq(table_dict(alice('image-show', 'Debian 12').out).get('id'), a, 'image-show "Debian 12"')


@story.step('image-update merges properties; --purge-props replaces them',
            needs=('register', 'register_second'))
def update():
    a, b = story.state['register'], story.state['register_second']
    shown = table_dict(alice('image-update', a, '--name', 'Debian 12.5',
                             '--property', 'kernel=6.1').out)
    subset(shown, {'name': 'Debian 12.5', "Property 'os'": 'debian',
                   "Property 'description'": DESCRIPTION, "Property 'kernel'": '6.1'},
           'image-update --property (merge)')
    shown = table_dict(alice('image-update', b, '--purge-props',
                             '--property', 'os=alpine', '--min-disk', '2').out)
    eq(sorted(k for k in shown if k.startswith('Property ')), ["Property 'os'"],
       'properties after --purge-props')
    eq(shown.get('min_disk'), '2', 'min_disk after image-update --min-disk')


@story.step('publish and unpublish with --is-public', needs=('register',))
def publish():
    a = story.state['register']
    eq(table_dict(alice('image-update', a, '--is-public', 'True').out).get('is_public'),
       'True', 'is_public after --is-public True')
    eq(listed_ids(bob('image-list')), [a], "Bob's image-list of a public image")
    eq(table_dict(alice('image-update', a, '--is-public', 'False').out).get('is_public'),
       'False', 'is_public after --is-public False')
    eq(listed_ids(bob('image-list')), [], "Bob's image-list after unpublishing")


@story.step('member-create: Bob sees it, cannot change it, finds it shared; '
            'member-delete: he loses it', needs=('register_second',))
def share():
    b = story.state['register_second']
    alice('member-create', b, B_ID)
    rows = table_dicts(alice('member-list', '--image-id', b).out)
    # glanceclient prints a false can_share as an empty cell.
    eq([(r['Image ID'], r['Member ID'], r['Can Share']) for r in rows], [(b, B_ID, '')],
       'member-list --image-id')
    eq(listed_ids(bob('image-list')), [b], "Bob's image-list")
    eq(table_dict(bob('image-show', b).out).get('id'), b, 'Bob image-show')
    fails(bob('image-update', b, '--name', 'mine', check=False), 'Bob image-update')
    # glance image-delete reports a failed delete on stdout and exits 0.
    r = bob('image-delete', b, check=False)
    contains(r.out + r.err, 'Unable to delete image %s' % b, 'Bob image-delete')
    contains(listed_ids(alice('image-list')), b, "Alice's image-list after Bob's attempts")
    rows = table_dicts(bob('member-list', '--tenant-id', B_ID).out)
    eq([r['Image ID'] for r in rows], [b], 'Bob member-list --tenant-id <bob>')
    alice('member-delete', b, B_ID)
    eq(table_dicts(alice('member-list', '--image-id', b).out), [], 'members after member-delete')
    eq(listed_ids(bob('image-list')), [], "Bob's image-list after member-delete")
    fails(bob('image-show', b, check=False), 'Bob image-show after member-delete',
          'No image with a name or ID of')


@story.step('image-download --file writes the data; the client checks the MD5',
            needs=('register', 'register_second'))
def download():
    for image_id, data in ((story.state['register'], DEBIAN),
                           (story.state['register_second'], ALPINE)):
        path = os.path.join(env.work, image_id + '.download')
        alice('image-download', image_id, '--file', path)
        with open(path, 'rb') as f:
            got = f.read()
        eq(len(got), len(data), 'bytes downloaded')
        eq(md5(got), md5(data), 'MD5 of the download')


@story.step('image-delete unregisters: image-show and image-list no longer show it',
            needs=('register', 'register_second'))
def unregister():
    a, b = story.state['register'], story.state['register_second']
    alice('image-delete', a, b)
    eq(listed_ids(alice('image-list')), [], 'image-list after image-delete')
    fails(alice('image-show', a, check=False), 'image-show after image-delete',
          'No image with a name or ID of')



# ------------------------------------------- uploading (docs/api.md §13)

@story.step('image-create --file uploads the data: size and MD5 in the answer')
def upload():
    shown = table_dict(alice('image-create', '--name', 'Lab image', '--disk-format', 'diskdump',
                             '--container-format', 'bare', '--file', LAB_FILE).out)
    subset(shown, {'name': 'Lab image', 'status': 'available', 'size': str(len(LAB)),
                   'checksum': md5(LAB), 'is_public': 'False', 'owner': A_ID},
           'image-create --file')
    same_bytes(read_file(os.path.join(env.store_root, A_ID, 'images', shown['id'])), LAB,
               'the object the upload stored')
    return shown['id']


@story.step('image-download --file gives back the same bytes', needs=('upload',))
def upload_download():
    image_id = story.state['upload']
    path = os.path.join(env.work, 'lab.copy')
    alice('image-download', image_id, '--file', path)
    same_bytes(read_file(path), LAB, 'image-download')
    subset(table_dict(alice('image-show', image_id).out),
           {'size': str(len(LAB)), 'checksum': md5(LAB)}, 'image-show of the upload')


@story.step('image-create --file with a wrong --checksum fails and leaves no image')
def upload_wrong_checksum():
    fails(alice('image-create', '--name', 'refused', '--disk-format', 'raw',
                '--container-format', 'bare', '--checksum', md5(b'other data'),
                '--file', LAB_FILE, check=False), 'image-create --checksum <wrong>',
          'Invalid X-Image-Meta-Checksum')
    eq(listed_ids(alice('image-list', '--name', 'refused')), [], 'images named "refused"')


@story.step('member-create: Bob downloads the uploaded image with image-download',
            needs=('upload',))
def upload_shared():
    image_id = story.state['upload']
    alice('member-create', image_id, B_ID)
    path = os.path.join(env.work, 'lab.bob')
    bob('image-download', image_id, '--file', path)
    same_bytes(read_file(path), LAB, "Bob's image-download")
    alice('member-delete', image_id, B_ID)
    alice('image-delete', image_id)
    eq(listed_ids(alice('image-list')), [], 'image-list after deleting the upload')


story.finish()
