"""The jobs' tests run in a cloud of their own (same moto, other tables): a backup scans whole tables, and the
shared tables hold everything every other test of the worker wrote."""

from __future__ import annotations

import os
import uuid

import pytest


@pytest.fixture(scope="module")
def cloud(cloud):
    """This module's own stack, provisioned from template.yaml like the shared one, the environment switched to it
    while the module runs."""
    from protu.crypto import keystore
    from protu.settings import reload

    from infra import template as tpl
    from infra.cloud import LocalCloud

    template = tpl.load()
    for name in [n for n, spec in template["Resources"].items() if spec["Type"] == "AWS::KMS::Alias"]:
        del template["Resources"][name]  # an alias name is one per account: the shared stack holds it
    saved = dict(os.environ)
    own = LocalCloud(stack=f"ops-{uuid.uuid4().hex[:8]}", template=template).provision()
    os.environ.update(own.environment())
    reload()
    keystore.clear_cache()
    try:
        yield own
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reload()
        keystore.clear_cache()
