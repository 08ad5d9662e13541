"""The generic Cloud Control provider: one resource driven entirely by the type's schema.

Like terraform-provider-awscc's ``internal/generic``, the schema-derived change rules
live in small modules, each a pure function over plain values (the raw provider schema
dict and property dicts in CloudFormation spelling), with no AWS calls:

- ``pointers``: the schema's JSON pointers (``/properties/Foo/*/Bar``) over values.
- ``ordering``: arrays whose schema says ``insertionOrder: false`` compare as multisets.
- ``patch``: the RFC 6902 PatchDocument for UpdateResource.
- ``replacement``: create-only properties that changed, so the resource is replaced.
- ``drift``: the part of a value that a read can be compared on.
- ``resource``: identifier, exports and differences of one resource, for the plan.
- ``provider``: ``CloudControlProvider``, the one place that calls Cloud Control (imported from
  there, so the pure rules above load without the provider's imports).
"""
