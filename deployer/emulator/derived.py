"""The attributes AWS makes up for a new resource (ARNs, ids, endpoints, generated names), as Cloud Control's
emulated handlers make them: one table of recipes per type, no code per type.

``derive_attributes`` adds a type's attributes to a desired model where it has no value; ``cloudcontrol.py``
calls it for every type kept in its own table.
"""

from __future__ import annotations

import copy
import secrets
import string
import uuid
from typing import Any

# Read-only attributes (and identifiers) that AWS derives for a new resource, set only where the model has no
# value. The key is the attribute's path under /properties (``Endpoint/Address`` for a nested one); the recipe is
# a format string over the model (``{Port}``, ``{Endpoint[Address]}``) and the made-up values of ``_made_up``, or
# a tuple of them: the first whose fields are all known. Attributes that a real resource has only in some set-ups
# (a cluster's DeferMaintenanceIdentifier, S3's metadata tables) have no recipe and stay absent.
# Sources: each type's CloudFormation "Return values" and the service's API reference:
# KMS: the key ID is a UUID, Arn arn:aws:kms:REGION:ACCOUNT:key/KEY_ID.
# S3: Arn arn:aws:s3:::NAME, the domain names, WebsiteURL http://NAME.s3-website-REGION.amazonaws.com (the
#   dash form; some newer regions use a dot).
# IAM role: a generated name when none is given; Arn arn:aws:iam::ACCOUNT:role/PATH/NAME (Path defaults to /);
#   RoleId "AROA" and 17 upper-case letters and digits ("IAM identifiers", unique ID prefixes).
# Secrets Manager: Id is the secret's ARN, arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX (six random
#   characters; "Troubleshoot: ARN ends with a hyphen and six characters").
# Redshift cluster: a lower-case generated identifier; Endpoint.Address
#   ID.XXXXXXXXXXXX.REGION.redshift.amazonaws.com, Endpoint.Port the cluster's Port as a string (the schema's
#   Endpoint.Port is a string), 5439 by default; ClusterNamespaceArn arn:aws:redshift:REGION:ACCOUNT:namespace:UUID.
Recipe = str | tuple[str, ...]
DERIVED_ATTRIBUTES: dict[str, dict[str, Recipe]] = {
    "AWS::KMS::Key": {"KeyId": "{uuid}", "Arn": "arn:aws:kms:{region}:{account}:key/{KeyId}"},
    "AWS::S3::Bucket": {
        "BucketName": "{name}",
        "Arn": "arn:aws:s3:::{BucketName}",
        "DomainName": "{BucketName}.s3.amazonaws.com",
        "RegionalDomainName": "{BucketName}.s3.{region}.amazonaws.com",
        "DualStackDomainName": "{BucketName}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": "http://{BucketName}.s3-website-{region}.amazonaws.com",
    },
    "AWS::IAM::Role": {
        "RoleName": "{name}",
        "Arn": ("arn:aws:iam::{account}:role{Path}{RoleName}", "arn:aws:iam::{account}:role/{RoleName}"),
        "RoleId": "AROA{upper17}",
    },
    "AWS::SecretsManager::Secret": {
        "Name": "{name}",
        "Id": "arn:aws:secretsmanager:{region}:{account}:secret:{Name}-{alnum6}",
    },
    "AWS::Redshift::Cluster": {
        "ClusterIdentifier": "{name}",
        "Endpoint/Address": "{ClusterIdentifier}.{lower12}.{region}.redshift.amazonaws.com",
        "Endpoint/Port": ("{Port}", "5439"),
        "ClusterNamespaceArn": "arn:aws:redshift:{region}:{account}:namespace:{uuid}",
    },
}


_LOWER_ALNUM = string.ascii_lowercase + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits


def derive_attributes(type_name: str, desired: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """A copy of ``desired`` with the type's ``DERIVED_ATTRIBUTES`` added where it has no value."""
    model = copy.deepcopy(desired)
    for path, recipe in DERIVED_ATTRIBUTES.get(type_name, {}).items():
        *parents, last = path.split("/")
        holder = model
        for part in parents:
            holder = holder.setdefault(part, {})
        if last not in holder:
            holder[last] = _follow(recipe, model, region, account)
    return model


def _follow(recipe: Recipe, model: dict[str, Any], region: str, account: str) -> str:
    """The first of the recipe's templates whose fields are all known; a recipe none fits is a bug in the table."""
    fields = {**model, **_made_up(region, account)}
    templates = (recipe,) if isinstance(recipe, str) else recipe
    for template in templates:
        try:
            return template.format_map(fields)
        except (KeyError, IndexError):
            continue
    raise KeyError(f"no template of {recipe!r} fits the model")


def _made_up(region: str, account: str) -> dict[str, Any]:
    """The values a recipe may use besides the model's, fresh for each attribute."""
    return {
        "region": region, "account": account, "uuid": uuid.uuid4(),
        "name": f"cc-{secrets.token_hex(8)}",  # lower case: valid for buckets and cluster identifiers alike
        "lower12": _random_text(_LOWER_ALNUM, 12),
        "upper17": _random_text(_UPPER_ALNUM, 17),
        "alnum6": _random_text(string.ascii_letters + string.digits, 6),
    }


def _random_text(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))
