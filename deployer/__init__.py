"""stack: a declarative deployer for AWS, driven by Jinja-templated YAML stacks.

How a deploy flows, module by module::

    manifest (read YAML with lines) -> render (Jinja, sandboxed) -> convert (CloudFormation
    names to the API shape) -> validate -> plan (desired vs. state vs. live) -> apply
    (providers call AWS) -> state (recorded)

``cli`` is the only module that prints or exits; ``emulator`` is a local AppFlow service.
"""

__version__ = "0.1.0"
