"""Adapter: DNS queries, resolver chains and TSIG-signed updates with dnspython."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

Address = tuple[str, int]


@dataclass(frozen=True)
class QueryResult:
    """One lookup at one server: rcode text (None when unanswered), sorted rdata texts, time, error."""

    rcode: str | None
    answers: tuple[str, ...] = ()
    ms: float = 0.0
    error: str = ""

    @property
    def answered(self) -> bool:
        return self.rcode is not None


def query(
    address: Address, name: str, rdtype: str = "A", *, timeout: float = 5.0, tries: int = 2
) -> QueryResult:
    """Ask ``address`` directly (RD set, as dig): UDP, TCP on truncation; ``tries`` attempts on timeouts."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    try:
        qtype = dns.rdatatype.from_text(rdtype)
        msg = dns.message.make_query(name, qtype)
    except (dns.exception.DNSException, ValueError) as exc:
        return QueryResult(None, error=f"bad query: {exc}")
    start = time.monotonic()
    error = "timeout"
    for _ in range(max(tries, 1)):
        try:
            reply, _tcp = dns.query.udp_with_fallback(msg, address[0], timeout=timeout, port=address[1])
        except dns.exception.Timeout:
            error = "timeout"
            continue
        except (OSError, dns.exception.DNSException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
        answers = sorted(rd.to_text() for rrset in reply.answer if rrset.rdtype == qtype for rd in rrset)
        ms = (time.monotonic() - start) * 1000
        return QueryResult(dns.rcode.to_text(reply.rcode()), tuple(answers), round(ms, 1))
    return QueryResult(None, (), round((time.monotonic() - start) * 1000, 1), error)


@dataclass(frozen=True)
class LookupResult:
    """A stub-resolver lookup: status answered/timeout/refused/servfail/nxdomain/nodata/error."""

    status: str
    answers: tuple[str, ...] = ()
    answered_by: str = ""
    ms: float = 0.0
    detail: str = ""


def resolve_chain(
    servers: list[Address], name: str, rdtype: str = "A", *, timeout: float = 2.0, lifetime: float = 6.0
) -> LookupResult:
    """Resolve through ``servers`` in order (``rotate=False``) as a stub resolver with resolv.conf timeouts."""
    import dns.exception
    import dns.nameserver
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in servers]
    resolver.rotate = False
    resolver.timeout = timeout
    resolver.lifetime = lifetime
    resolver.retry_servfail = False
    start = time.monotonic()

    def elapsed() -> float:
        return round((time.monotonic() - start) * 1000, 1)

    try:
        answer = resolver.resolve(name, rdtype, search=False, raise_on_no_answer=True)
    except dns.resolver.NXDOMAIN:
        return LookupResult("nxdomain", ms=elapsed(), detail="NXDOMAIN")
    except dns.resolver.NoAnswer:
        return LookupResult("nodata", ms=elapsed(), detail="no records of that type")
    except dns.resolver.LifetimeTimeout:
        return LookupResult("timeout", ms=elapsed(), detail=f"no answer within {lifetime:g} s")
    except dns.resolver.NoNameservers as exc:
        text = str(exc)
        status = "refused" if "REFUSED" in text else "servfail" if "SERVFAIL" in text else "error"
        return LookupResult(status, ms=elapsed(), detail=status.upper() if status != "error" else text[:200])
    except (dns.exception.DNSException, OSError) as exc:
        return LookupResult("error", ms=elapsed(), detail=f"{type(exc).__name__}")
    answers = tuple(sorted(rd.to_text() for rd in answer))
    return LookupResult("answered", answers, f"{answer.nameserver}:{answer.port}", elapsed())


@dataclass(frozen=True)
class UpdateResult:
    """A dynamic update's outcome: rcode text, whether the reply was signed, or the exception kind."""

    rcode: str | None
    had_tsig: bool = False
    error: str = ""  # bad_signature, bad_key, bad_time, unsigned_reply, timeout, unreachable, other
    detail: str = ""


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key (the secret never shown)."""

    name: str
    secret: str = field(repr=False)
    algorithm: str = "hmac-sha256"


def check_key(key: TsigKey) -> str:
    """An error text when the secret or algorithm cannot be used, else ''. Never echoes the secret."""
    import base64
    import binascii

    import dns.name
    import dns.tsig

    try:
        base64.b64decode(key.secret, validate=True)
    except (binascii.Error, ValueError):
        return "the TSIG secret is not valid base64"
    try:
        algorithm = dns.name.from_text(key.algorithm)
    except ValueError:
        return f"unknown TSIG algorithm {key.algorithm!r}"
    if algorithm not in dns.tsig.mac_sizes:
        return f"unknown TSIG algorithm {key.algorithm!r}"
    return ""


def update(
    address: Address,
    zone: str,
    record: str,
    *,
    value: str | None,
    key: TsigKey | None,
    timeout: float = 5.0,
) -> UpdateResult:
    """``replace record 300 A value`` (or ``delete record A`` when value is None), over TCP, signed if key."""
    import dns.exception
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.tsig
    import dns.tsigkeyring
    import dns.update

    kwargs = {}
    if key is not None:
        keyring = dns.tsigkeyring.from_text({key.name: (key.algorithm, key.secret)})
        kwargs = {"keyring": keyring, "keyname": dns.name.from_text(key.name)}
    msg = dns.update.UpdateMessage(zone, **kwargs)  # type: ignore[arg-type]
    if value is None:
        msg.delete(record, "A")
    else:
        msg.replace(record, 300, "A", value)
    try:
        reply = dns.query.tcp(msg, address[0], port=address[1], timeout=timeout)
    except dns.tsig.PeerBadSignature:
        return UpdateResult(None, error="bad_signature", detail="BADSIG")
    except dns.tsig.PeerBadKey:
        return UpdateResult(None, error="bad_key", detail="BADKEY")
    except dns.tsig.PeerBadTime:
        return UpdateResult(None, error="bad_time", detail="BADTIME")
    except dns.tsig.PeerError as exc:
        return UpdateResult(None, error="bad_signature", detail=type(exc).__name__)
    except dns.message.UnknownTSIGKey:
        return UpdateResult(None, error="bad_key", detail="reply signed with an unknown key")
    except dns.exception.FormError as exc:
        if "TSIG" in str(exc):
            return UpdateResult(None, error="unsigned_reply", detail=str(exc))
        return UpdateResult(None, error="other", detail=f"FormError: {exc}")
    except dns.exception.Timeout:
        return UpdateResult(None, error="timeout", detail=f"no answer within {timeout:g} s")
    except (ConnectionError, OSError) as exc:
        return UpdateResult(None, error="unreachable", detail=type(exc).__name__)
    except dns.exception.DNSException as exc:
        return UpdateResult(None, error="other", detail=f"{type(exc).__name__}: {exc}")
    return UpdateResult(dns.rcode.to_text(reply.rcode()), bool(reply.had_tsig))


def random_secret() -> str:
    """A fresh 32-byte base64 secret (the wrong key of tsig-check, generated in-process)."""
    import base64
    import secrets

    return base64.b64encode(secrets.token_bytes(32)).decode()
