"""The panel is served over HTTPS: the hub's own certificate by default, or the school's."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.config import parse_config
from hub.exceptions import ConfigError
from tests.line.conftest import PHONEHUB, free_port, wait_until
from tests.web.conftest import answers
from web.serve import certificate


def serve(tmp_path: Path, extra: str = "") -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = tmp_path / "phonehub.toml"
    config.write_text(f'[hub]\nname = "office-1"\ndata_dir = "{tmp_path}"\n'
                      f"[web]\nport = {port}\n{extra}")  # fmt: skip
    process = subprocess.Popen([*PHONEHUB, "--config", str(config), "web"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return process, f"https://127.0.0.1:{port}"


def test_a_new_hub_serves_https_with_its_own_certificate_and_secure_cookies(tmp_path):
    process, url = serve(tmp_path)
    certificate = tmp_path / "tls" / "panel.pem"
    try:
        wait_until(lambda: certificate.exists() and answers(url, certificate), timeout=20,
                   what="the panel over HTTPS")  # fmt: skip
        assert (tmp_path / "tls" / "panel-key.pem").stat().st_mode & 0o077 == 0
        context = ssl.create_default_context(cafile=str(certificate))
        page = urllib.request.urlopen(url + "/setup", context=context).read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        # Plain HTTP on the panel's port gets nowhere.
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(url.replace("https", "http") + "/login", timeout=3)
    finally:
        process.terminate()
        process.wait(10)
    assert token


def test_the_hubs_own_certificate_names_the_hub_and_this_machine(tmp_path):
    config = parse_config(f'[hub]\nname = "office-1"\ndata_dir = "{tmp_path}"\n')
    cert_path, key_path = certificate(config)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "office-1"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", socket.gethostname()} <= set(names.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=825)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert certificate(config) == (cert_path, key_path)
    assert cert_path.read_bytes() == cert.public_bytes(serialization.Encoding.PEM)  # kept


def test_the_schools_own_certificate_is_used_when_configured(tmp_path):
    cert, key = tmp_path / "school.pem", tmp_path / "school-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                    "-subj", "/CN=phones.school.example", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    process, url = serve(tmp_path, f'tls_cert = "{cert}"\ntls_key = "{key}"\n')
    try:
        wait_until(lambda: answers(url, cert), timeout=20, what="the panel")
        host, port = url.removeprefix("https://").split(":")
        served = ssl.get_server_certificate((host, int(port)))
        assert (
            hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).hexdigest()
            == hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()
        )
        assert not (tmp_path / "tls").exists()  # no certificate of its own was made
    finally:
        process.terminate()
        process.wait(10)


def test_plain_http_is_refused_unless_the_panel_is_for_this_machine_only():
    expected = 'web.https: may be false only when web.bind is "127.0.0.1"'
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_config("[web]\nhttps = false\n")
    assert not parse_config('[web]\nbind = "127.0.0.1"\nhttps = false\n').web.https
