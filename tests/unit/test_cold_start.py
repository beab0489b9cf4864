"""What a cold start of the API pays for, by structure (``make bench`` measures the time): pyjwt is loaded without
cryptography's X.509 and elliptic curves (access tokens are HS256), and the process's botocore loader knows only the
functions' services (the first client does not list every service botocore ships) and parses its JSON with msgspec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import UnknownServiceError

ROOT = Path(__file__).resolve().parents[2]

FIRST_TOKEN = """
import json, sys
import api
from jwt import algorithms
import jwt
loaded = sorted({"cryptography.x509", "cryptography.hazmat.primitives.asymmetric.ec"} & set(sys.modules))
token = jwt.encode({"sub": "u"}, "k" * 32, algorithm="HS256")
assert jwt.decode(token, "k" * 32, algorithms=["HS256"]) == {"sub": "u"}
import cryptography.x509, cryptography.hazmat.primitives.asymmetric.ec  # as usual for anyone else
print(json.dumps({"x509_and_ec_with_api": loaded, "pyjwt_rsa_and_ec": algorithms.has_crypto}))
"""


def test_the_api_loads_pyjwt_for_hmac_without_x509_and_elliptic_curves():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("layers/core", "functions/api"))}
    env.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    out = subprocess.run([sys.executable, "-c", FIRST_TOKEN], env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {"x509_and_ec_with_api": [], "pyjwt_rsa_and_ec": False}


def test_the_process_loader_knows_the_functions_services_only():
    from protu import aws

    loader = aws.data_loader()
    assert loader.list_available_services("service-2") == list(aws.SERVICES)
    assert set(loader.list_available_services("endpoint-rule-set-1")) == set(aws.SERVICES)
    assert loader.load_service_model("kms", "service-2")["metadata"]["endpointPrefix"] == "kms"
    with pytest.raises(UnknownServiceError):
        loader.load_service_model("cloudwatch", "service-2")


def test_the_process_loader_parses_botocores_data_as_botocore_does():
    """The loader parses with msgspec (plain dicts) what botocore's own parses into ``OrderedDict``s: the same data,
    in the same order, from plain and gzipped files alike."""
    from botocore.loaders import Loader
    from protu import aws

    theirs, ours = Loader(), aws.data_loader()
    for name in ("endpoints", "partitions", "sdk-default-configuration"):
        assert ours.load_data(name) == theirs.load_data(name), name
    for service in ("dynamodb", "secretsmanager", "sts"):
        for kind in ("service-2", "endpoint-rule-set-1"):  # gzipped in botocore's data
            found, expected = ours.load_service_model(service, kind), theirs.load_service_model(service, kind)
            assert found == expected and list(found) == list(expected), (service, kind)
            assert type(found) is dict
