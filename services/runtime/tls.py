"""Transport security for the services and their callers: TLS, and mutual TLS with client certificates.

Both sides are configured by PEM files, named by command-line options (services) or by
environment variables (services and every caller: flows, health checks, scripts).

Server (``python -m cryopick.services.<role>``):

==========================  ==========================  =======================================
option                      environment variable        meaning
==========================  ==========================  =======================================
``--tls-cert``              ``CRYOPICK_TLS_CERT``       the service's certificate chain (PEM)
``--tls-key``               ``CRYOPICK_TLS_KEY``        its private key (PEM)
``--tls-client-ca``         ``CRYOPICK_TLS_CLIENT_CA``  CA bundle of accepted client
                                                        certificates: set = mutual TLS, a
                                                        client without such a certificate is
                                                        refused
==========================  ==========================  =======================================

Caller (:func:`open_channel`):

==============================  =========================================================
environment variable            meaning
==============================  =========================================================
``CRYOPICK_TLS_CA``             CA bundle that signed the services' certificates; set =
                                every channel is TLS (a plaintext channel is never opened)
``CRYOPICK_TLS_CLIENT_CERT``    the caller's certificate, for services that require one
``CRYOPICK_TLS_CLIENT_KEY``     its private key
``CRYOPICK_TLS_SERVER_NAME``    host name to check the services' certificates against
                                when the address is an IP or an alias (optional)
==============================  =========================================================
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import grpc


class TlsConfigError(ValueError):
    """A TLS setting names a missing or unreadable file, or half of a pair is missing."""


def _read_pem(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    if b"-----BEGIN " not in data:
        raise TlsConfigError(f"{what} {path}: not a PEM file (no '-----BEGIN' line)")
    return data


def _path(value: str | os.PathLike | None) -> Path | None:
    return Path(value) if value not in (None, "") else None


@dataclass(frozen=True)
class ServerTls:
    """A service's TLS identity, and the client CA that turns on mutual TLS.

    Attributes
    ----------
    cert_file, key_file : Path
        PEM certificate chain and private key.
    client_ca_file : Path or None
        PEM bundle of CAs whose client certificates are accepted; None = any client may connect
        (over TLS).
    """

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    @classmethod
    def from_settings(cls, cert: str | os.PathLike | None, key: str | os.PathLike | None,
                      client_ca: str | os.PathLike | None = None) -> "ServerTls | None":
        """The configuration from option values (None/"" = unset); None if TLS is off.

        Raises
        ------
        TlsConfigError
            Only one of certificate and key is given, or a client CA without them.
        """
        cert_path, key_path, ca_path = _path(cert), _path(key), _path(client_ca)
        if cert_path is None and key_path is None:
            if ca_path is not None:
                raise TlsConfigError("a client CA (--tls-client-ca / CRYOPICK_TLS_CLIENT_CA) needs the service's own "
                                     "certificate and key (--tls-cert, --tls-key)")
            return None
        if cert_path is None or key_path is None:
            raise TlsConfigError("TLS needs both a certificate (--tls-cert / CRYOPICK_TLS_CERT) and its key "
                                 "(--tls-key / CRYOPICK_TLS_KEY)")
        return cls(cert_path, key_path, ca_path)

    @property
    def mutual(self) -> bool:
        return self.client_ca_file is not None

    def credentials(self) -> grpc.ServerCredentials:
        """gRPC server credentials; requires and verifies client certificates when mutual."""
        key = _read_pem(self.key_file, "TLS key")
        cert = _read_pem(self.cert_file, "TLS certificate")
        ca = _read_pem(self.client_ca_file, "TLS client CA") if self.client_ca_file else None
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


@dataclass(frozen=True)
class ClientTls:
    """How a caller reaches TLS services.

    Attributes
    ----------
    ca_file : Path
        PEM bundle of the CAs that signed the services' certificates.
    cert_file, key_file : Path or None
        The caller's certificate and key (mutual TLS); None = none presented.
    server_name : str
        Overrides the host name the services' certificates are checked against ("" = the
        address's host).
    """

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ClientTls | None":
        """The caller's settings from ``CRYOPICK_TLS_CA`` & co.; None if ``CRYOPICK_TLS_CA`` is unset.

        Raises
        ------
        TlsConfigError
            A client certificate without its key (or the reverse), or either without a CA.
        """
        env = os.environ if env is None else env
        ca, cert, key = (_path(env.get(k)) for k in ("CRYOPICK_TLS_CA", "CRYOPICK_TLS_CLIENT_CERT", "CRYOPICK_TLS_CLIENT_KEY"))
        if (cert is None) != (key is None):
            raise TlsConfigError("CRYOPICK_TLS_CLIENT_CERT and CRYOPICK_TLS_CLIENT_KEY must be set together")
        if ca is None:
            if cert is not None:
                raise TlsConfigError("a client certificate (CRYOPICK_TLS_CLIENT_CERT) needs CRYOPICK_TLS_CA, "
                                     "the CA that signed the services' certificates")
            return None
        return cls(ca, cert, key, env.get("CRYOPICK_TLS_SERVER_NAME", ""))

    def credentials(self) -> grpc.ChannelCredentials:
        ca = _read_pem(self.ca_file, "TLS CA")
        key = _read_pem(self.key_file, "TLS client key") if self.key_file else None
        cert = _read_pem(self.cert_file, "TLS client certificate") if self.cert_file else None
        return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)

    def options(self) -> tuple[tuple[str, str], ...]:
        return (("grpc.ssl_target_name_override", self.server_name),) if self.server_name else ()


def open_channel(address: str, options: Sequence[tuple[str, object]] = (),
                 tls: ClientTls | None | str = "env") -> grpc.Channel:
    """A channel to a service: TLS if configured (``CRYOPICK_TLS_CA``), plaintext otherwise.

    Parameters
    ----------
    address : str
        ``host:port``.
    options : sequence of (name, value)
        gRPC channel options.
    tls : ClientTls, None or "env"
        Explicit settings, None for plaintext, or "env" (default) to read the environment.
    """
    settings = ClientTls.from_env() if tls == "env" else tls
    if settings is None:
        return grpc.insecure_channel(address, options=list(options))
    return grpc.secure_channel(address, settings.credentials(), options=[*options, *settings.options()])


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 possibly in brackets) resolves only to loopback."""
    name = host.strip("[]")
    if name in ("", "0.0.0.0", "::"):
        return False
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)
