# -*- coding: utf-8 -*-
"""The openstack command line and openstacksdk pointed at plankton's /v2
without Keystone (docs/api.md §17.1): the admin_token auth plugin, the
image endpoint and a user's token. Shared by the v2 stories."""
import json
import os

from interop import run


def osc_argv(env, token):
    """`openstack` as the token's user; --os-* options so no clouds.yaml,
    environment or ~/.config is read (HOME is the story's own)."""
    return [os.path.join(env.bin, 'openstack'), '--os-auth-type', 'admin_token',
            '--os-endpoint', env.url + '/v2', '--os-token', token]


def osc(env, token, *args, **kw):
    """Runs `openstack image ...`; returns the Result."""
    return run(osc_argv(env, token) + ['image'] + list(args), check=kw.get('check', True))


def osc_json(env, token, *args):
    """Runs `openstack image ... -f json` and parses what it prints."""
    return json.loads(osc(env, token, *(list(args) + ['-f', 'json'])).out)


def connect(env, token):
    """An openstacksdk Connection as the token's user."""
    import openstack
    return openstack.connect(auth_type='admin_token',
                             auth={'endpoint': env.url + '/v2', 'token': token})
