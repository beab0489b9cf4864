"""What ``make build`` produces is what Lambda would run (issue 18): every function's handler imports from the built
artefacts with the core layer where Lambda puts it (``/opt/python``, here a directory of that shape), under the
functions' runtime (Python 3.12), using the bytecode shipped with it; the layer holds nothing no function imports.

The build itself (``sam build`` and ``infra/build.py``, about a minute and a half with sam's install) runs before
the suite in CI (``.ci/run``: ``make build``); without a build these tests are skipped and say why.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOST = "x86_64" if platform.machine() in ("x86_64", "AMD64") else "arm64"
BUILD = ROOT / ".aws-sam" / ("build" if HOST == "arm64" else f"build-{HOST}")  # the template's arm64 or this machine's
LAYER = BUILD / "CoreLayer" / "python"

pytestmark = pytest.mark.skipif(
    not LAYER.is_dir(), reason=f"no build for {HOST}: run `make build ARCH={HOST}` (CI does, before the suite)"
)


def python312() -> str:
    """The functions' runtime, found as the Makefile finds it: on PATH, or through pyenv."""
    candidates = [
        shutil.which("python3.12"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for found in filter(None, candidates):
        check = [found, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return found
    pytest.fail("make build needs Python 3.12, the functions' runtime, and so do these tests")


def functions() -> list[tuple[str, str, str]]:
    """(logical id, built code folder, handler) of every function of the built template."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((BUILD / "template.yaml").read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            found.append((name, str(BUILD / resource["Properties"]["CodeUri"]), resource["Properties"]["Handler"]))
    return found


CHECK = """
import importlib, json, os, sys
module_name, attribute = sys.argv[1].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), attribute)
assert callable(handler)
opt = os.path.join(sys.argv[2], "python")
compiled = [m.__name__ for m in list(sys.modules.values())
            if (getattr(m, "__file__", None) or "").startswith(opt) and m.__file__.endswith(".py")
            and not os.path.exists(getattr(m, "__cached__", "") or "")]
print(json.dumps({"modules": len(sys.modules), "without_bytecode": compiled}))
"""


@pytest.fixture(scope="module")
def opt(tmp_path_factory) -> Path:
    """A directory laid out as Lambda's /opt: the layer's content under python/."""
    base = tmp_path_factory.mktemp("opt")
    (base / "python").symlink_to(LAYER, target_is_directory=True)
    return base


@pytest.mark.parametrize("function", functions() if LAYER.is_dir() else [], ids=lambda f: f[0])
def test_every_handler_imports_from_the_built_artefacts_with_its_bytecode(function, opt):
    name, code, handler = function
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([code, str(opt / "python")]),  # what Lambda's runtime puts on sys.path
        "PYTHONDONTWRITEBYTECODE": "1",  # /opt is read-only on Lambda
        "AWS_DEFAULT_REGION": "eu-central-1",
    }
    done = subprocess.run(
        [python312(), "-c", CHECK, handler, str(opt)], env=env, cwd=code, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["without_bytecode"] == [], f"{name} compiled modules of the layer at import"


def test_the_layer_holds_no_tools_and_only_the_service_models_the_functions_use():
    tools = ("pip", "setuptools", "inquirer", "blessed", "click", "yaml", "chalice/cli", "stripe/params", "packaging")
    for tool in tools:
        assert not (LAYER / tool).exists(), tool
    import sys

    sys.path.insert(0, str(ROOT / "layers" / "core"))
    from protu.aws import SERVICES

    models = {entry.name for entry in (LAYER / "botocore" / "data").iterdir() if entry.is_dir()}
    assert models == set(SERVICES)


def test_every_service_the_functions_call_resolves_its_endpoint_from_the_trimmed_data(opt):
    code = """
import json
from protu import aws
print(json.dumps({name: aws.client(name).meta.endpoint_url for name in aws.SERVICES}))
"""
    env = {"PYTHONPATH": str(opt / "python"), "PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")}
    env |= {"AWS_DEFAULT_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    done = subprocess.run([python312(), "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    prefix = {"stepfunctions": "states", "dynamodbstreams": "streams.dynamodb"}
    assert found == {name: f"https://{prefix.get(name, name)}.eu-central-1.amazonaws.com" for name in found}
    assert len(found) == len(
        json.loads((LAYER / "botocore" / "data" / "endpoints.json").read_text())["partitions"][0]["services"]
    )


def test_libraries_ship_as_bytecode_alone_and_our_code_with_its_sources():
    sources = [str(f.relative_to(LAYER)) for f in LAYER.rglob("*.py") if f.relative_to(LAYER).parts[0] != "protu"]
    assert sources == []
    assert (LAYER / "botocore" / "client.pyc").is_file() and (LAYER / "typing_extensions.pyc").is_file()
    ours = list((LAYER / "protu").rglob("*.py"))
    assert ours and all(list(f.parent.glob(f"__pycache__/{f.stem}.cpython-312.pyc")) for f in ours)


def test_sentry_starts_in_the_built_layer_with_the_integrations_it_names(opt):
    code = (
        "import sentry_sdk; from protu.observability import init_sentry; assert init_sentry('api');"
        "print(sorted(sentry_sdk.get_client().integrations))"
    )
    env = {"PYTHONPATH": str(opt / "python"), "PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")}
    env |= {"SENTRY_DSN": "https://public@127.0.0.1/1", "AWS_DEFAULT_REGION": "eu-central-1"}
    done = subprocess.run([python312(), "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'chalice'" in done.stdout and "'boto3'" in done.stdout and "'logging'" in done.stdout
    assert not (LAYER / "sentry_sdk" / "integrations" / "django").exists()


LIBRARIES_AT_WORK = """
import json, os, time
from protu.identity import passwords
from protu.errors import ValidationFailed
stored = passwords.hash_password("lantern harbour quietly 42")
assert passwords.verify_password(stored, "lantern harbour quietly 42")
try:
    passwords.check_policy("password123")
    raise SystemExit("a common password passed the policy")
except ValidationFailed:
    pass
import jwt, pyotp, segno, msgspec, requests, stripe
token = jwt.encode({"sub": "u"}, "k" * 32, algorithm="HS256")
assert jwt.decode(token, "k" * 32, algorithms=["HS256"]) == {"sub": "u"}
totp = pyotp.TOTP(pyotp.random_base32())
assert totp.verify(totp.now())
assert segno.make(totp.provisioning_uri(name="a@example.com", issuer_name="Protu")).svg_data_uri()
assert msgspec.json.decode(b'{"a": 1}') == {"a": 1}
body, secret, now = '{"id": "evt_1"}', "whsec_test", int(time.time())
signature = stripe.WebhookSignature._compute_signature(f"{now}.{body}", secret)
stripe.WebhookSignature.verify_header(body, f"t={now},v1={signature}", secret, tolerance=300)
from aws_encryption_sdk import CommitmentPolicy, EncryptionSDKClient
from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey
key = RawMasterKey(provider_id="p", key_id=b"k", wrapping_key=WrappingKey(
    wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING, wrapping_key=os.urandom(32),
    wrapping_key_type=EncryptionKeyType.SYMMETRIC))
client = EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
sealed, _ = client.encrypt(source=b"answer", key_provider=key)
assert client.decrypt(source=sealed, key_provider=key)[0] == b"answer"
assert requests.certs.where().endswith("cacert.pem") and os.path.isfile(requests.certs.where())
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml.builder import ElementMaker
from minisignxml.sign import sign
from minisignxml.verify import extract_verified_element_and_certificate
from protu.identity import sso_saml
from protu.identity.sso_protocol import SamlConnection
idp = SamlConnection("https://idp.example/m", "https://idp.example/sso", ())
saml_url, _ = sso_saml.begin(idp, acs_url="https://a.example/acs", sp_entity_id="https://a.example/m", relay_state="r")
assert "SAMLRequest=" in saml_url
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name, now = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "idp")]), datetime.datetime.now(datetime.UTC)
certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(rsa_key.public_key())
    .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
    .sign(rsa_key, hashes.SHA256()))
thing = ElementMaker(namespace="urn:x")("Thing", "text", ID="_t")
signed_xml = sign(element=thing, private_key=rsa_key, certificate=certificate)
assert extract_verified_element_and_certificate(xml=signed_xml, certificates=[certificate])[0].text == "text"
print("ok")
"""


def test_the_libraries_work_from_their_bytecode(opt):
    """Beyond importing: hashing and the password policy (argon2, zxcvbn's and our lists), JWT, TOTP and its QR
    code, msgspec, a Stripe signature, envelope encryption, the CA bundle, a SAML AuthnRequest and an XML
    signature (minisaml, minisignxml, lxml), all from the built layer."""
    env = {"PYTHONPATH": str(opt / "python"), "PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")}
    env |= {"AWS_DEFAULT_REGION": "eu-central-1"}
    done = subprocess.run([python312(), "-c", LIBRARIES_AT_WORK], env=env, capture_output=True, text=True, check=False)
    assert done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_stripe_works_without_its_type_definitions(opt):
    code = "import stripe; client = stripe.StripeClient('sk_test_x'); client.v1.checkout.sessions; print('ok')"
    env = {"PYTHONPATH": str(opt / "python"), "PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")}
    done = subprocess.run([python312(), "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
