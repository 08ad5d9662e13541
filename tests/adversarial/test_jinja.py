"""Hostile templates: every way a template can exhaust CPU, memory or the stack is a located error naming the limit.

Each case runs ``python -m deployer validate`` (or ``render``) in a subprocess under a time limit and a 1 GiB
address-space limit, so that a regression fails the test instead of hanging or swapping CI: before these limits,
``range(10**10)`` ran forever, ``'a' * 10**9`` and ``center(10**9)`` ran out of memory inside Jinja's compiler
with a traceback, 500 nested parentheses gave a RecursionError traceback, and 4,000 resources exporting one name
took over 35 s. The limits are listed in ``deployer/sandbox.py`` and in the README's "Limits on templates".
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from deployer import sandbox

TIMEOUT_S = 10  # the slowest case, the CPU limit, takes about 2.5 s (2 s of CPU and the start of Python)
MEMORY_BYTES = 1 << 30

STACK = """\
version: 1
name: hostile-jinja
globals:
  - name: region
    value: us-east-1
  - name: big
    value: {global_value}
resources:
  - name: crm
    if: {condition}
    template: zendesk.yaml
    vars:
      x: {var_value}
{own_props}"""
OWN_PROPS = """\
    props:
      - name: ConnectorProfileName
        value: {prop_value}
"""
TEMPLATE = """\
props:
  - name: ConnectorProfileName
    value: {template_value}
  - name: ConnectionMode
    value: Public
  - name: ConnectorType
    value: Zendesk
  - name: ConnectorProfileConfig
    value:
      ConnectorProfileProperties:
        Zendesk:
          InstanceUrl: https://acme.zendesk.com
      ConnectorProfileCredentials:
        Zendesk:
          ClientId: id
          ClientSecret: secret-value
"""
# where a template can be, and the file, line and path its error names
PLACES = {
    "prop": "stack.yaml:16 resources[0].props.ConnectorProfileName: ",
    "template-file": "zendesk.yaml:3 resources[0].props.ConnectorProfileName: ",
    "global": "stack.yaml:7 globals.big: ",
    "if": "stack.yaml:10 resources[0].if: ",
    "vars": "stack.yaml:13 resources[0].vars.x: ",
}

FIX = "; templates are for short values; see 'Limits on templates' in the README"
STRING = "rendering stopped: a string longer than 1 MiB (1,048,576 characters)"
LIST = "rendering stopped: a list or mapping longer than 1 MiB (1,048,576 characters) as text"
INTEGER = "rendering stopped: an integer larger than 4,096 bits"
RANGE = "rendering stopped: a range of more than 100,000 items"
ITERATIONS = "rendering stopped: more than 100,000 loop iterations"
MADE = "rendering stopped: more than 16 MiB of text made for one value"
CPU = "rendering stopped: more than 2 s of CPU"
RECURSION = "rendering stopped: nested too deeply (macros or loops calling themselves)"
NESTED = "template nested too deeply to compile"
MEGA = "{% set s = 'a' * 1000000 %}"

CASES = [
    # loops and ranges
    ("range-10**10", "{% for i in range(10**10) %}x{% endfor %}", RANGE),
    ("nested-loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", ITERATIONS),
    ("loop-over-a-long-string", "{% for c in 'a' * 1000000 %}{% endfor %}", ITERATIONS),
    ("recursive-loop", "{% for x in [[1]] recursive %}{{ loop([x, x]) }}{% endfor %}", RECURSION),
    ("fromkeys-of-a-huge-range", "{{ dict.fromkeys(range(10**8)) }}", RANGE),
    ("fromkeys-of-100000", "{{ dict.fromkeys(range(100000)) }}", LIST),
    ("batch", "{{ 'a'|batch(10**9, 'x')|list }}", "rendering stopped: a batch of more than 100,000 items"),
    ("slice", "{{ 'a'|slice(10**9)|list }}", "rendering stopped: a slice of more than 100,000 items"),
    # integers
    ("power", "{{ 2 ** 100000000 }}", INTEGER),
    ("power-of-a-power", "{{ 10 ** (10 ** 10) }}", INTEGER),
    ("product", "{{ (2 ** 4000) * (2 ** 4000) }}", INTEGER),
    ("int-filter", "{{ ('9' * 4000)|int }}", INTEGER),
    # strings made by operators
    ("repeat", "{{ 'a' * 10**9 }}", STRING),
    ("repeat-then-concat", "{{ 'x' * 10**8 ~ 'y' }}", STRING),
    ("concat-past-1-MiB", "{{ 'a' * 1048576 ~ 'b' }}", STRING),
    ("percent-width-from-arguments", "{{ '%*d' % (10**9, 1) }}", STRING),
    ("repeat-a-list", "{{ ['a' * 1000] * 100000 }}", LIST),
    # strings made by filters
    ("center", "{{ 'a'|center(10**9) }}", STRING),
    ("replace-nested", "{{ 'ab'|replace('a', 'a' * 1000)|replace('a', 'a' * 1000)|replace('a', 'a' * 1000) }}",
     STRING),
    ("list-join-list-join", "{{ ('a' * 1000)|list|join('b' * 1000)|list|join('c' * 1000) }}", LIST),
    ("map-join-repeated", "{% set t = range(100000)|map('string')|join %}{{ t ~ t ~ t }}", STRING),
    ("format-filter", "{{ '%1000000000s'|format('x') }}", STRING),
    ("indent", "{{ ('\\n' * 100000)|indent(1000) }}", STRING),
    ("wordwrap", "{{ ('a' * 100000)|wordwrap(1) }}",
     "rendering stopped: wordwrap of a string longer than 64 KiB (65,536 characters)"),
    ("sum-of-lists", "{{ range(100000)|map('string')|map('list')|sum(start=[]) }}", LIST),
    ("list-of-a-long-string", "{{ ('a' * 1048576)|list }}", LIST),
    # strings made by methods
    ("str-format", "{{ '{:>1000000000}'.format('x') }}", STRING),
    ("str-format-map", "{{ '{a:>999999999}'.format_map({'a': 1}) }}", STRING),
    ("ljust", "{{ 'a'.ljust(10**9) }}", STRING),
    ("expandtabs", "{{ ('\\t' * 100000).expandtabs(1000) }}", STRING),
    ("str-join", "{{ ('a' * 1000000).join(['x', 'y', 'z']) }}", STRING),
    ("translate", "{{ ('a' * 100000).translate({97: 'b' * 1000}) }}", STRING),
    ("to-bytes", "{{ (1).to_bytes(10**9, 'big') }}", STRING),
    # text kept alive, each piece under the limits
    ("set-block-of-copies", MEGA + "{% set b %}{% for i in range(1000) %}{{ s ~ i }}{% endfor %}{% endset %}{{ b }}",
     MADE),
    ("list-literal-of-copies", MEGA + "{{ [" + ", ".join(f"s ~ {i}" for i in range(20)) + "]|length }}", MADE),
    ("list-literal-of-slices", MEGA + "{{ [" + ", ".join(f"s[{i}:]" for i in range(20)) + "]|length }}", MADE),
    ("nested-list-as-text", "{% set a = ['a' * 1000000] %}{% set b = [a, a, a, a, a, a, a, a] %}{{ b|string }}",
     LIST),
    ("nested-list-as-value", "{% set a = ['a' * 1000000] %}{{ [a, a] }}", LIST),
    ("output-of-a-loop", "{% for i in range(100000) %}{{ 'a' * 100 }}{% endfor %}", STRING),
    # time and depth
    ("macro-exponential", "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
     CPU),
    ("macro-recursion", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", RECURSION),
    ("500-parentheses", "{{ " + "(" * 500 + "1" + ")" * 500 + " }}", NESTED),
    ("10000-chained-filters", "{{ 'x'" + "|lower" * 10000 + " }}", NESTED),
    ("20000-chained-filters", "{{ 'x'" + "|lower" * 20000 + " }}",
     "template too long: 120,005 characters, more than 64 KiB (65,536)"),
    ("10000-attributes", "{{ vars" + ".a" * 10000 + " }}", NESTED),
    ("long-source", "x" * 70000 + "{{ 1 }}", "template too long: 70,007 characters, more than 64 KiB (65,536)"),
]
# one-expression cases, for places that take an expression (if:) or are rendered before the resources (globals)
EXPRESSIONS = ["fromkeys-of-a-huge-range", "power-of-a-power", "repeat", "center", "str-format", "500-parentheses"]
IN_OTHER_PLACES = [(case, place) for case in EXPRESSIONS for place in ("template-file", "global", "if", "vars")]


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess: at most TIMEOUT_S seconds (TimeoutExpired fails the test) and 1 GiB of memory."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STACK_VAR_")}
    return subprocess.run([sys.executable, "-m", "deployer", *arguments], capture_output=True, text=True,
                          timeout=TIMEOUT_S, preexec_fn=_cap_memory, env={**environ, "NO_COLOR": "1"})


def write_stack(directory: Path, template: str, place: str) -> None:
    values = {key: json.dumps("plain") for key in ("global_value", "var_value", "prop_value", "template_value")}
    values["condition"] = "true"
    key = {"prop": "prop_value", "template-file": "template_value", "global": "global_value", "if": "condition",
           "vars": "var_value"}[place]
    values[key] = json.dumps(template)  # a JSON string is a YAML double-quoted scalar
    own_props = "" if place == "template-file" else OWN_PROPS.format(**values)
    (directory / "stack.yaml").write_text(STACK.format(own_props=own_props, **values))
    (directory / "zendesk.yaml").write_text(TEMPLATE.format(**values))


def assert_located_limit(result: subprocess.CompletedProcess[str], place: str, message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    first = result.stderr.splitlines()[0]
    location = PLACES[place]
    assert location in first, first
    assert first.split(location, 1)[1] == message + FIX
    assert result.stderr.splitlines()[-1] == "Error: 1 problem in the stack; nothing was called or changed."


@pytest.mark.parametrize(("template", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_template_past_a_limit_is_a_located_error(template: str, message: str, tmp_path: Path) -> None:
    write_stack(tmp_path, template, "prop")
    assert_located_limit(run_cli("validate", str(tmp_path)), "prop", message)


@pytest.mark.parametrize(("case", "place"), IN_OTHER_PLACES, ids=[f"{c}-in-{p}" for c, p in IN_OTHER_PLACES])
def test_limits_hold_wherever_a_template_is(case: str, place: str, tmp_path: Path) -> None:
    _, template, message = next(c for c in CASES if c[0] == case)
    write_stack(tmp_path, template, place)
    assert_located_limit(run_cli("validate", str(tmp_path)), place, message)


@pytest.mark.parametrize("case", ["range-10**10", "repeat", "macro-recursion", "500-parentheses"])
def test_render_stops_at_the_same_limits(case: str, tmp_path: Path) -> None:
    _, template, message = next(c for c in CASES if c[0] == case)
    write_stack(tmp_path, template, "prop")
    result = run_cli("render", str(tmp_path))
    assert_located_limit(result, "prop", message)
    assert result.stdout == ""


def test_many_resources_exporting_one_name_are_reported_in_linear_time(tmp_path: Path) -> None:
    """Each resource used to work out every other resource's bare exports: 35 s for these 4,000."""
    count = 4000
    resources = "".join(
        f"  - {{name: r{i}, exports: [ConnectorProfileArn], props: [{{name: ConnectorProfileName, value: p{i}}}, "
        "{name: ConnectionMode, value: Public}, {name: ConnectorType, value: Zendesk}, "
        "{name: ConnectorProfileConfig, value: '{{ zendesk }}'}]}\n" for i in range(count))
    (tmp_path / "stack.yaml").write_text(f"""\
version: 1
name: many-exports
globals:
  - name: region
    value: us-east-1
  - name: zendesk
    value:
      ConnectorProfileProperties:
        Zendesk:
          InstanceUrl: https://acme.zendesk.com
      ConnectorProfileCredentials:
        Zendesk:
          ClientId: id
          ClientSecret: secret-value
resources:
{resources}""")
    result = run_cli("validate", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == count
    assert lines[0].endswith(
        "stack.yaml:17 resources[1].exports: export 'ConnectorProfileArn' is also exported by 'r0'; refer to them as "
        "resources.r0.ConnectorProfileArn and resources.r1.ConnectorProfileArn, and export the name from one only")
    assert lines[-1] == f"Error: {count - 1} problems in the stack; nothing was called or changed."


# Within the limits, templates behave as Jinja's do: the hooks change no result.

WITHIN = [
    ("loop", "{% for i in range(3) %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},{% endif %}{% endfor %}",
     "1/3,2/3,3/3"),
    ("loop-else", "{% for i in [] %}x{% else %}empty{% endfor %}", "empty"),
    ("loop-filtered", "{% for i in range(6) if i is even %}{{ i }}{% endfor %}", "024"),
    ("recursive-loop", "{% for x in [[1, [2]], 3] recursive %}{% if x is iterable %}({{ loop(x) }}){% else %}"
     "{{ x }}{% endif %}{% endfor %}", "(1(2))3"),
    ("concat", "{{ 'a' ~ 1 ~ none }}", "a1None"),
    ("slices", "{{ 'abcdef'[1:3] }}{{ 'abc'[::-1] }}{{ [1, 2, 3][1:]|join }}", "bccba23"),
    ("arithmetic", "{{ 2 ** 10 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 1.5 * 2 }} {{ [0] * 3 }} {{ 'ab' * 2 }}",
     "1024 3 1 3.0 [0, 0, 0] abab"),
    ("formats", "{{ '%05d' % 42 }} {{ '{}-{}'.format('a', 1) }} {{ '%s=%s'|format('k', 'v') }}", "00042 a-1 k=v"),
    ("filters", "{{ 'ab'|center(6) }}|{{ 'a\nb'|indent(2) }}|{{ 'x y'|replace(' ', '-') }}|"
     "{{ range(3)|map('string')|join(',') }}|{{ [[1], [2]]|sum(start=[]) }}|{{ 'abc'|batch(2)|list }}",
     "  ab  |a\n  b|x-y|0,1,2|[1, 2]|[['a', 'b'], ['c']]"),
    ("methods", "{{ 'a'.ljust(3, '.') }}{{ ','.join(['x', 'y']) }}{{ 'a\tb'.expandtabs(2) }}{{ dict(a=1).a }}",
     "a..x,ya b1"),
    ("macro", "{% macro tag(name) %}<{{ name }}>{{ caller() }}{% endmacro %}{% call tag('b') %}x{% endcall %}",
     "<b>x"),
    ("blocks", "{% set a %}one{% endset %}{% filter upper %}{{ a }}{% endfilter %}", "ONE"),
]


@pytest.mark.parametrize(("template", "expected"), [w[1:] for w in WITHIN], ids=[w[0] for w in WITHIN])
def test_templates_within_the_limits_render_as_jinja_does(template: str, expected: str) -> None:
    assert sandbox.template(template).render() == expected


EDGES = [
    ("string-of-1-MiB", "'a' * 1048576", 1048576, "'a' * 1048577", STRING),
    ("range-of-100000", "range(100000)|length", 100000, "range(100001)|length", RANGE),
    ("integer-of-4096-bits", "(2 ** 4095).bit_length()", 4096, "2 ** 4096", INTEGER),
]


@pytest.mark.parametrize(("within", "value", "past", "message"), [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_each_limit_is_exact(within: str, value: object, past: str, message: str) -> None:
    result = sandbox.expression(within)()
    assert (len(result) if isinstance(result, str) else result) == value
    with pytest.raises(sandbox.TemplateLimitError) as error:
        sandbox.expression(past)()
    assert str(error.value) == message


def test_a_loop_may_run_100000_times_and_no_more() -> None:
    assert sandbox.template("{% for i in range(100000) %}{% endfor %}done").render() == "done"
    with pytest.raises(sandbox.TemplateLimitError, match="more than 100,000 loop iterations"):
        sandbox.template("{% for i in range(100000) %}{% endfor %}{% for i in [1] %}{% endfor %}").render()


def test_each_value_has_a_budget_of_its_own() -> None:
    loop = sandbox.template("{% for i in range(60000) %}{% endfor %}ok")
    assert [loop.render(), loop.render()] == ["ok", "ok"]  # 120,000 iterations in all, 60,000 per value


def test_the_sandbox_still_refuses_internals() -> None:
    with pytest.raises(SecurityError, match="access to attribute '__globals__' of 'function' object is unsafe"):
        sandbox.template("{{ range.__globals__ }}").render()
