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
    in the same order, from plain and gzipped files alike (read afresh: the loader's cache is the process's)."""
    import botocore
    from botocore.loaders import JSONFileLoader
    from protu import aws

    data = Path(botocore.__file__).parent / "data"
    theirs, ours = JSONFileLoader(), aws.data_loader().file_loader
    names = ["endpoints", "partitions", "sdk-default-configuration"]
    names += [
        f"{service}/{version}/{kind}"
        for service, version in [("dynamodb", "2012-08-10"), ("sts", "2011-06-15")]
        for kind in ("service-2", "endpoint-rule-set-1")
    ]  # gzipped in botocore's data
    for name in names:
        found, expected = ours.load_file(str(data / name)), theirs.load_file(str(data / name))
        assert expected and found == expected and list(found) == list(expected), name
        assert type(found) is dict
    assert ours.load_file(str(data / "no-such-file")) is None


def test_the_functions_code_makes_no_dataclasses():
    """Value types are msgspec Structs: Python 3.12 builds a dataclass by compiling its methods from generated source
    (~0.6 ms a class; the API's 28 took ~20 ms of its cold import), msgspec in C (~0.015 ms)."""
    imports = ("from dataclasses import", "import dataclasses")
    found = [
        str(path.relative_to(ROOT))
        for folder in ("layers/core/protu", "functions")
        for path in (ROOT / folder).rglob("*.py")
        if any(line.startswith(imports) for line in path.read_text().splitlines())
    ]
    assert found == []
