"""Bucket policies in S3 grammar <-> Aliyun OSS grammar, for the oss2 backend.

The driver interface speaks S3 policy JSON on every backend; OSS stores policies in its own
(RAM) grammar. The two differ only in spelling, so the conversion is a renaming, field by field:

==================  =================================  =====================================
field               S3                                 OSS
==================  =================================  =====================================
Version             ``"2012-10-17"`` (or 2008-10-17)   ``"1"``
Action, NotAction   ``"s3:GetObject"``, ``"*"``        ``"oss:GetObject"``, ``"*"``
Resource, NotRes.   ``"arn:aws:s3:::bkt/*"``, ``"*"``  ``"acs:oss:*:*:bkt/*"``, ``"*"``
Principal           ``"*"``                            ``["*"]``
Principal           ``{"AWS": [...ids or ARNs]}``      ``[...ids]`` (``arn:aws:iam::ID:root``
                                                       <-> ``ID``; other ids as they are)
Condition keys      ``aws:SourceIp``, ``s3:prefix``    ``acs:SourceIp``, ``oss:prefix``
==================  =================================  =====================================

Every other field (Effect, Sid, Id, condition operators and values) is copied unchanged. Action
and Resource keep their shape (a string stays a string, a list a list), so a policy in the
canonical shape (statements in a list, principal ``"*"`` or ``{"AWS": [...]}``) reads back
exactly as it was written. Other shapes read back in the canonical one: ``{"AWS": "*"}`` as
``"*"``, a single statement object as a one-element list, version 2008-10-17 as 2012-10-17.

S3 policy features OSS cannot express (a principal other than ``AWS``, an action outside
``s3:``, a resource outside ``arn:aws:s3:::``) raise :class:`PolicyConversionError` rather than
being dropped. Reading is lenient: a name OSS uses that has no S3 spelling is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

S3_VERSION = "2012-10-17"
OSS_VERSION = "1"
_S3_VERSIONS = (S3_VERSION, "2008-10-17")

_S3_RESOURCE_PREFIX = "arn:aws:s3:::"
_OSS_RESOURCE_PREFIX = "acs:oss:*:*:"
# OSS resources may name a region and an account: acs:oss:<region>:<account>:<bucket/key>.
_OSS_RESOURCE = re.compile(r"acs:oss:[^:]*:[^:]*:(?P<path>.*)")
_AWS_ACCOUNT_ARN = re.compile(r"arn:aws:iam::(?P<account>[^:]+):root")
_AWS_ACCOUNT_ARN_FORMAT = "arn:aws:iam::{}:root"
_WILDCARD = "*"

# Name prefixes renamed in actions and condition keys, S3 spelling -> OSS spelling.
_ACTION_PREFIXES = (("s3:", "oss:"),)
_CONDITION_KEY_PREFIXES = (("aws:", "acs:"), ("s3:", "oss:"))


class PolicyConversionError(ValueError):
    """The S3 policy uses something OSS's policy grammar cannot express."""


def to_oss(policy: dict[str, Any]) -> dict[str, Any]:
    """The OSS-grammar equivalent of an S3 bucket policy."""
    version = policy.get("Version", S3_VERSION)
    if version not in _S3_VERSIONS:
        raise PolicyConversionError(f"unknown S3 policy Version {version!r}")
    return {
        **policy,
        "Version": OSS_VERSION,
        "Statement": [_convert_statement(s, _OSS_CONVERTERS) for s in _statements(policy)],
    }


def from_oss(policy: dict[str, Any]) -> dict[str, Any]:
    """The S3-grammar equivalent of an OSS bucket policy (see the module docstring)."""
    return {
        **policy,
        "Version": S3_VERSION,
        "Statement": [_convert_statement(s, _S3_CONVERTERS) for s in _statements(policy)],
    }


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise PolicyConversionError("Statement must be an object or a list of objects")
    return statements


def _convert_statement(
    statement: dict[str, Any], converters: dict[str, Callable[[Any], Any]]
) -> dict[str, Any]:
    return {
        name: converters[name](value) if name in converters else value
        for name, value in statement.items()
    }


def _each(convert: Callable[[str], str]) -> Callable[[Any], Any]:
    """Apply ``convert`` to a string or to every string of a list, keeping the shape."""

    def convert_value(value: Any) -> Any:
        if isinstance(value, str):
            return convert(value)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return [convert(item) for item in value]
        raise PolicyConversionError(f"expected a string or a list of strings, got {value!r}")

    return convert_value


def _strings(value: Any) -> list[str]:
    """A string or a list of strings, as a list."""
    return _each(lambda item: item)([value] if isinstance(value, str) else value)


def _rename_prefix(name: str, renames: tuple[tuple[str, str], ...]) -> str | None:
    for old, new in renames:
        if name.startswith(old):
            return new + name[len(old):]
    return None


# -- S3 -> OSS -------------------------------------------------------------------------------


def _action_to_oss(action: str) -> str:
    if action == _WILDCARD:
        return action
    renamed = _rename_prefix(action, _ACTION_PREFIXES)
    if renamed is None:
        raise PolicyConversionError(f"action {action!r} is not an s3: action")
    return renamed


def _resource_to_oss(resource: str) -> str:
    if resource == _WILDCARD:
        return resource
    if not resource.startswith(_S3_RESOURCE_PREFIX):
        raise PolicyConversionError(f"resource {resource!r} is not an arn:aws:s3::: ARN")
    return _OSS_RESOURCE_PREFIX + resource[len(_S3_RESOURCE_PREFIX):]


def _principal_to_oss(principal: Any) -> list[str]:
    if principal == _WILDCARD:
        return [_WILDCARD]
    if not isinstance(principal, dict) or set(principal) != {"AWS"}:
        raise PolicyConversionError(
            f"principal {principal!r}: OSS policies name only '*' or {{'AWS': accounts}}"
        )
    return [_account_to_oss(account) for account in _strings(principal["AWS"])]


def _account_to_oss(account: str) -> str:
    match = _AWS_ACCOUNT_ARN.fullmatch(account)
    return match["account"] if match else account


def _condition_to_oss(condition: Any) -> Any:
    return _rename_condition_keys(condition, _CONDITION_KEY_PREFIXES)


# -- OSS -> S3 -------------------------------------------------------------------------------


def _action_to_s3(action: str) -> str:
    swapped = tuple((new, old) for old, new in _ACTION_PREFIXES)
    return _rename_prefix(action, swapped) or action


def _resource_to_s3(resource: str) -> str:
    match = _OSS_RESOURCE.fullmatch(resource)
    return _S3_RESOURCE_PREFIX + match["path"] if match else resource


def _principal_to_s3(principal: Any) -> Any:
    ids = _strings(principal)
    if _WILDCARD in ids:
        return _WILDCARD
    return {"AWS": [_account_to_s3(account) for account in ids]}


def _account_to_s3(account: str) -> str:
    return _AWS_ACCOUNT_ARN_FORMAT.format(account) if account.isdigit() else account


def _condition_to_s3(condition: Any) -> Any:
    swapped = tuple((new, old) for old, new in _CONDITION_KEY_PREFIXES)
    return _rename_condition_keys(condition, swapped)


def _rename_condition_keys(condition: Any, renames: tuple[tuple[str, str], ...]) -> Any:
    """``{operator: {key: value}}`` with each key's prefix renamed."""
    if not isinstance(condition, dict) or not all(isinstance(v, dict) for v in condition.values()):
        raise PolicyConversionError(f"Condition must map operators to objects, got {condition!r}")
    return {
        operator: {_rename_prefix(key, renames) or key: value for key, value in tests.items()}
        for operator, tests in condition.items()
    }


_OSS_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "Action": _each(_action_to_oss),
    "NotAction": _each(_action_to_oss),
    "Resource": _each(_resource_to_oss),
    "NotResource": _each(_resource_to_oss),
    "Principal": _principal_to_oss,
    "NotPrincipal": _principal_to_oss,
    "Condition": _condition_to_oss,
}
_S3_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "Action": _each(_action_to_s3),
    "NotAction": _each(_action_to_s3),
    "Resource": _each(_resource_to_s3),
    "NotResource": _each(_resource_to_s3),
    "Principal": _principal_to_s3,
    "NotPrincipal": _principal_to_s3,
    "Condition": _condition_to_s3,
}
