"""The Jinja sandbox that templates render in, and the limits that keep one template from taking the machine.

A template is code from the stack's files, which may come from a pull request or a shared template library, so it
renders in Jinja's immutable sandbox (no attribute starting with ``_``, no changing lists or dicts, none of
``cycler``, ``joiner``, ``namespace`` or ``lipsum``) and within limits, each per value (one string of the
manifest, rendered once):

===================  ========================================================================================
``MAX_SOURCE``       64 KiB (65,536 characters) of template source in one string, so compiling stays cheap
``MAX_TEXT``         1 MiB (1,048,576 characters): any string, list or mapping a template makes or reads (a list
                     or mapping counts as its text, ``str(value)``), and the value it renders to
``MAX_BUILT``        16 MiB of such text made in all while rendering one value
``MAX_ITEMS``        100,000 items in a ``range()``, a ``batch`` or a ``slice``, and 100,000 loop iterations
``MAX_INT_BITS``     4,096 bits in an integer (about 1,233 digits)
``MAX_CPU_SECONDS``  2 s of CPU time
nesting              what Jinja and Python can compile (about 70 levels of brackets, 200 chained filters)
===================  ========================================================================================

Going past one raises ``TemplateLimitError``, whose message names the limit; ``render`` turns it into a diagnostic
at the value, like any template error.

How they are kept: every operator is intercepted (``call_binop``), and so are calls, filters, slices, ``~``,
``{{ }}`` output and the joining of output (``call``, the wrapped filters, ``getitem``, ``join_text``,
``finalize``, ``concat``); ``for`` loops iterate through ``iterate``. Where the size of a result can be known
before it is made (``'a' * 10**9``, ``2 ** (10**8)``, ``center(10**9)``, ``replace``, ``join``, ``format``) it is
checked first, so nothing too big is ever allocated; every result is checked after. Jinja's compile-time
evaluation of constant expressions is off, so no template code runs outside these checks. The CPU clock is read
at each of these points; a single step between two of them is bounded by the size limits.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import re
import string
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.runtime import LoopContext, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

KIB, MIB = 1 << 10, 1 << 20
MAX_SOURCE = 64 * KIB
MAX_TEXT = MIB
MAX_BUILT = 16 * MIB
MAX_ITEMS = 100_000
MAX_INT_BITS = 4096
MAX_CPU_SECONDS = 2.0
_TICK_EVERY = 256  # loop iterations between two readings of the CPU clock

FIX = "templates are for short values; see 'Limits on templates' in the README"


class TemplateLimitError(Exception):
    """A template went past one of the limits; the message says which.

    Not a ``ValueError`` or ``TypeError``: some filters catch those (``int``, ``float``) and would carry on.
    """


def _string_limit() -> TemplateLimitError:
    return TemplateLimitError(f"rendering stopped: a string longer than 1 MiB ({MAX_TEXT:,} characters)")


def _text_limit(value: Any) -> TemplateLimitError:
    if isinstance(value, (str, bytes)):
        return _string_limit()
    return TemplateLimitError(f"rendering stopped: a list or mapping longer than 1 MiB ({MAX_TEXT:,} characters) "
                              "as text")


def _int_limit() -> TemplateLimitError:
    return TemplateLimitError(f"rendering stopped: an integer larger than {MAX_INT_BITS:,} bits")


def _items_limit(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"rendering stopped: {what} of more than {MAX_ITEMS:,} items")


# The budget of the value being rendered -------------------------------------------------------------------------


class _Budget:
    """What one value's rendering has used so far. Once a limit is passed every later check fails too, so a
    filter that swallows the error (Jinja's ``int`` catches ``ValueError``) cannot carry on past it."""

    __slots__ = ("deadline", "iterations", "built", "stopped")

    def __init__(self) -> None:
        self.deadline = time.thread_time() + MAX_CPU_SECONDS  # this thread's CPU: parallel applies don't share it
        self.iterations = 0
        self.built = 0
        self.stopped: TemplateLimitError | None = None

    def stop(self, error: TemplateLimitError) -> TemplateLimitError:
        self.stopped = self.stopped or error
        return self.stopped

    def tick(self) -> None:
        if self.stopped is not None:
            raise self.stopped
        if time.thread_time() > self.deadline:
            raise self.stop(TemplateLimitError(f"rendering stopped: more than {MAX_CPU_SECONDS:g} s of CPU"))

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITEMS:
            raise self.stop(TemplateLimitError(f"rendering stopped: more than {MAX_ITEMS:,} loop iterations"))
        if self.iterations % _TICK_EVERY == 0:
            self.tick()

    def made(self, value: Any) -> Any:
        """``value``, a result the template just made, once it is within the limits."""
        if isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > MAX_INT_BITS:
                raise self.stop(_int_limit())
            return value
        if isinstance(value, _TEXTUAL):
            self.add(text_size(value), value)
        return value

    def add(self, size: int, value: Any) -> None:
        if size > MAX_TEXT:
            raise self.stop(_text_limit(value))
        self.built += size
        if self.built > MAX_BUILT:
            raise self.stop(TemplateLimitError("rendering stopped: more than 16 MiB of text made for one value"))


_local = threading.local()


def _budget() -> _Budget:
    """The budget of the value this thread is rendering; outside one (Jinja evaluating a constant at compile
    time), a fresh one, so that the size limits still hold."""
    budget: _Budget | None = getattr(_local, "budget", None)
    return budget if budget is not None else _Budget()


@contextlib.contextmanager
def _limited() -> Iterator[_Budget]:
    """A fresh budget for one value; running out of stack or memory is a limit like the others."""
    outer = getattr(_local, "budget", None)
    _local.budget = budget = _Budget()
    try:
        yield budget
    except RecursionError:
        raise TemplateLimitError("rendering stopped: nested too deeply (macros or loops calling themselves)") \
            from None
    except MemoryError:
        raise TemplateLimitError("rendering stopped: out of memory") from None
    finally:
        _local.budget = outer


# Sizes ---------------------------------------------------------------------------------------------------------

_TEXTUAL = (str, bytes, list, tuple, dict, set, frozenset)
_CONTAINERS: tuple[type[Collection[Any]], ...] = (
    dict, list, tuple, set, frozenset, type({}.keys()), type({}.values()), type({}.items()))


def text_size(value: Any, limit: int = MAX_TEXT) -> int:
    """About ``len(str(value))``: the length of the text that ``value`` makes.

    Lists and mappings count their items' text plus two characters each, walked without recursion. Counting
    stops once it passes ``limit``, so a list that holds a huge list many times over (``[a, a, a]``, or YAML
    aliases) costs no more than ``limit`` steps to measure. Other objects count as a short ``repr``.
    """
    total = 0
    pending: list[Any] = [value]
    while pending and total <= limit:
        item: Any = pending.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 30103 // 100000 + 2  # decimal digits, and a sign
        elif isinstance(item, _CONTAINERS):
            total += 2 + 4 * len(item)  # brackets, separators, quotes
            if total <= limit:
                pending.extend(itertools.chain.from_iterable(item.items()) if isinstance(item, dict) else item)
        else:
            total += 8
    return total


def _check_input(value: Any) -> None:
    """A value handed to a filter, a call or the output is within ``MAX_TEXT`` before anything turns it to text."""
    if isinstance(value, _TEXTUAL) and text_size(value) > MAX_TEXT:
        raise _budget().stop(_text_limit(value))


def _at_most(size: int) -> None:
    if size > MAX_TEXT:
        raise _budget().stop(_string_limit())


def _number(value: Any) -> int:
    return value if isinstance(value, int) else 0


# Predicting sizes before making them ----------------------------------------------------------------------------

_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]?")
_DIGITS = re.compile(r"\d+")


def _spec_number(digits: str) -> int:
    return int(digits) if len(digits) <= 8 else MAX_TEXT + 1  # a width past 8 digits is over the limit anyway


def _formatted_size(template: str, fields: Iterable[tuple[str | None, ...]], values: list[Any]) -> int:
    """At most the length of ``template`` with every field filled by the widest value and padded to every
    width or precision its spec names."""
    widest = max((text_size(v) for v in values), default=0)
    largest = max((abs(v) for v in values if isinstance(v, int)), default=0)
    size = len(template)
    for specs in fields:
        size += widest
        for spec in specs:
            size += sum(_spec_number(d) for d in _DIGITS.findall(spec or ""))
            size += largest if spec and ("*" in spec or "{" in spec) else 0  # a width taken from the arguments
        if size > MAX_TEXT:
            break
    return size


def _printf_size(template: str, arguments: Any) -> int:
    values = list(arguments.values()) if isinstance(arguments, Mapping) else \
        list(arguments) if isinstance(arguments, tuple) else [arguments]
    fields = (tuple(s for s in match.groups() if s) for match in _PRINTF_FIELD.finditer(template))
    return _formatted_size(template, fields, values)


def _format_size(template: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    fields = ((spec,) for _, name, spec, _ in string.Formatter().parse(template) if name is not None)
    return _formatted_size(template, fields, [*args, *kwargs.values()])


def _replaced_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    same = isinstance(text, str) and isinstance(old, str) and isinstance(new, str) or \
        isinstance(text, bytes) and isinstance(old, bytes) and isinstance(new, bytes)
    if not same:
        return 0  # a TypeError is coming
    found: int = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _joined(items: Any, separator: Any) -> list[Any]:
    """``items`` as a list, once the text of joining them with ``separator`` is known to be within the limit."""
    listed = list(items)
    size = len(separator) * max(len(listed) - 1, 0) if isinstance(separator, (str, bytes)) else 0
    for item in listed:
        size += text_size(item, MAX_TEXT - size)
        _at_most(size)
    return listed


def _padded_size(text: Any, width: Any) -> int:
    return max(len(text) if isinstance(text, (str, bytes)) else text_size(text), _number(width))


def _guard_str_method(owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Check a call of a ``str`` or ``bytes`` method that can make its result much longer than its input."""
    if name in ("center", "ljust", "rjust", "zfill"):
        _at_most(_padded_size(owner, args[0] if args else 0))
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        _at_most(len(owner) + tabs * max(_number(tab), 1))
    elif name == "replace" and len(args) >= 2:
        _at_most(_replaced_size(owner, *args[:3]))
    elif name == "join" and args:
        return (_joined(args[0], owner), *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        widest = max((len(v) for v in args[0].values() if isinstance(v, (str, bytes))), default=1)
        _at_most(len(owner) * max(widest, 1))
    return args


def _guard_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if isinstance(owner, (str, bytes)):
        return _guard_str_method(owner, name, args, kwargs)
    if isinstance(owner, int) and name == "to_bytes":
        _at_most(_number(args[0] if args else kwargs.get("length", 1)))
    return args


# Filters that can make much more than they are given, checked before they run. Each takes the filter's arguments
# and returns the value to filter: the same one, or for ``join`` the items listed, to measure them before joining.

def _center(value: Any, width: Any = 80, *_: Any, **__: Any) -> Any:
    _at_most(_padded_size(value, width))
    return value


def _indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> Any:
    text = str(value)
    pad = len(width) if isinstance(width, str) else _number(width)
    _at_most(len(text) + (text.count("\n") + 1) * pad)
    return value


def _wordwrap(value: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None,
              *_: Any, **__: Any) -> Any:
    text = str(value)
    if len(text) > MAX_SOURCE:  # textwrap takes quadratic time on long words: 17 s for 1 MiB at width 1
        raise _budget().stop(TemplateLimitError(f"rendering stopped: wordwrap of a string longer than 64 KiB "
                                                f"({MAX_SOURCE:,} characters)"))
    _at_most(len(text) * (1 + len(wrapstring if isinstance(wrapstring, str) else "\n")))  # a line per character
    return value


def _replace(value: Any, old: Any = "", new: Any = "", count: Any = None, *_: Any, **__: Any) -> Any:
    _at_most(_replaced_size(str(value), str(old), str(new), -1 if count is None else count))
    return value


def _format(value: Any, *args: Any, **kwargs: Any) -> Any:
    _at_most(_printf_size(str(value), kwargs or args))
    return value


def _join(value: Any, separator: Any = "", *_: Any, **__: Any) -> Any:
    return _joined(value, str(separator))


def _batch(value: Any, linecount: Any = 0, *_: Any, **__: Any) -> Any:
    if _number(linecount) > MAX_ITEMS:
        raise _budget().stop(_items_limit("a batch"))
    return value


def _slice(value: Any, slices: Any = 0, *_: Any, **__: Any) -> Any:
    if _number(slices) > MAX_ITEMS:
        raise _budget().stop(_items_limit("a slice"))
    return value


_FILTER_GUARDS: dict[str, Callable[..., Any]] = {
    "center": _center, "indent": _indent, "wordwrap": _wordwrap, "replace": _replace, "format": _format,
    "join": _join, "batch": _batch, "slice": _slice,
}


def _limited_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (a Jinja filter) with its inputs and result checked, and its guard run first."""
    passes = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0  # context, eval_ctx or environment
    guard = _FILTER_GUARDS.get(name)

    @functools.wraps(function)  # keeps jinja_pass_arg, which tells Jinja what to pass
    def limited(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        passed, given = args[:passes], args[passes:]
        for value in (*given, *kwargs.values()):
            _check_input(value)
        if guard is not None and given:
            given = (guard(*given, **kwargs), *given[1:])
        return budget.made(function(*passed, *given, **kwargs))

    return limited


@jinja2.pass_environment
def _sum(environment: jinja2.Environment, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """Jinja's ``sum``, in linear time when it adds up lists or tuples (Python's ``sum`` copies the total again for
    every item: minutes for 100,000 one-item lists)."""
    if not isinstance(start, (list, tuple)):
        return FILTERS["sum"](environment, iterable, attribute, start)
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    total, size = list(start), text_size(start)
    for item in iterable:
        if not isinstance(item, type(start)):
            raise TypeError(f'can only concatenate {type(start).__name__} (not "{type(item).__name__}") to '
                            f'{type(start).__name__}')
        size += text_size(item, MAX_TEXT - size)
        if size > MAX_TEXT:
            raise _budget().stop(_text_limit(total))
        total.extend(item)
    return type(start)(total)


def _range(*args: Any) -> range:
    """``range`` of at most ``MAX_ITEMS`` items."""
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise _budget().stop(_items_limit("a range"))
    return numbers


@jinja2.pass_context
def _finalize(context: jinja2.runtime.Context, value: Any) -> Any:
    """Every ``{{ }}`` of a template, before it becomes text. Taking the context keeps Jinja from evaluating
    constant output when it compiles, outside the limits."""
    budget = _budget()
    budget.tick()
    budget.add(text_size(value), value)
    return value


# The environment -----------------------------------------------------------------------------------------------


class _LimitedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with loops, ``~`` and slices going through the environment."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        counted = isinstance(node.iter, nodes.Call) and isinstance(node.iter.node, nodes.EnvironmentAttribute)
        if not counted:  # what the loop iterates over, through environment.iterate(...)
            node.iter = nodes.Call(nodes.EnvironmentAttribute("iterate"), [node.iter], [], None, None,
                                   lineno=node.iter.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_text(context.eval_ctx, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if not isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.getitem(")
        self.visit(node.node, frame)
        self.write(", slice(")
        for index, part in enumerate((node.arg.start, node.arg.stop, node.arg.step)):
            self.write(", " if index else "")
            if part is None:
                self.write("None")
            else:
                self.visit(part, frame)
        self.write("))")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, within the limits of this module."""

    code_generator_class = _LimitedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, optimized=False, finalize=_finalize)
        # Jinja's default globals include cycler, joiner, namespace and lipsum, the usual footholds of sandbox
        # escapes; templates here need none of them.
        self.globals = {"range": _range, "dict": dict}
        self.filters = {name: _limited_filter(name, function)
                        for name, function in {**FILTERS, "sum": _sum}.items()}

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.tick()
        _check_input(left)
        _check_input(right)
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if right * math.log2(abs(left)) > MAX_INT_BITS + 1:
                raise budget.stop(_int_limit())
        elif operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(times, int) and sequence:
                    if text_size(sequence) * times > MAX_TEXT:
                        raise budget.stop(_text_limit(sequence))
        elif operator == "+" and isinstance(left, (str, bytes, list, tuple)):
            if text_size(left) + text_size(right) > MAX_TEXT:
                raise budget.stop(_text_limit(left))
        elif operator == "%" and isinstance(left, str):
            _at_most(_printf_size(left, right))
        return budget.made(self.binop_table[operator](left, right))

    def call(self, context: jinja2.runtime.Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        for name, value in itertools.chain(enumerate(args), kwargs.items()):
            if name not in ("_loop_vars", "_block_vars"):  # Jinja's own: the loop's and block's variables
                _check_input(value)
        if isinstance(obj, LoopContext):  # loop(children) of a recursive loop iterates too
            args = tuple(self.iterate(arg) for arg in args)
        args = _guard_call(obj, args, kwargs)
        return budget.made(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        template: str = value.__self__
        is_format_map = value.__name__ == "format_map"

        @functools.wraps(formatter)
        def limited(*args: Any, **kwargs: Any) -> str:
            if is_format_map and len(args) == 1 and isinstance(args[0], Mapping):
                _at_most(_format_size(template, (), args[0]))
            else:
                _at_most(_format_size(template, args, kwargs))
            return formatter(*args, **kwargs)

        return limited

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        return _budget().made(value) if isinstance(argument, slice) else value

    def iterate(self, iterable: Any) -> Iterator[Any]:
        budget = _budget()
        for item in iterable:
            budget.iterate()
            yield item

    def join_text(self, eval_ctx: jinja2.nodes.EvalContext, parts: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``."""
        size = 0
        for part in parts:
            size += text_size(part, MAX_TEXT - size)
            _at_most(size)
        budget = _budget()
        budget.tick()
        text: str = markup_join(parts) if eval_ctx.autoescape else str_join(parts)
        return budget.made(text)  # type: ignore[no-any-return]

    def concat(self, chunks: Iterable[str]) -> str:
        """The output of a template, a macro or a ``{% set %}`` block, joined."""
        budget = _budget()
        kept: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            _at_most(size)
            kept.append(chunk)
            if len(kept) % _TICK_EVERY == 0:
                budget.tick()
        budget.add(size, "")
        return "".join(kept)


ENVIRONMENT = LimitedSandbox()


# Compiling and rendering ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _compiling(source: str) -> Iterator[None]:
    """The source within ``MAX_SOURCE``; too deep a nesting for Jinja's parser or Python's compiler is a limit."""
    if len(source) > MAX_SOURCE:
        raise TemplateLimitError(f"template too long: {len(source):,} characters, more than 64 KiB "
                                 f"({MAX_SOURCE:,})")
    try:
        yield
    except RecursionError:
        raise TemplateLimitError("template nested too deeply to compile") from None
    except SyntaxError as error:  # Python's compiler (Jinja's own are TemplateSyntaxError): too many parentheses
        raise TemplateLimitError(f"template nested too deeply to compile ({error.msg})") from None
    except MemoryError:
        raise TemplateLimitError("template too big to compile: out of memory") from None


class Expression:
    """A one-expression template (``{{ IsSandbox }}``): calling it gives the value itself, not its text."""

    def __init__(self, compiled: jinja2.environment.TemplateExpression) -> None:
        self._compiled = compiled

    def __call__(self, **names: Any) -> Any:
        with _limited() as budget:
            return budget.made(self._compiled(**names))


class Template:
    """A template string that renders to text."""

    def __init__(self, compiled: jinja2.Template) -> None:
        self._compiled = compiled

    def render(self, **names: Any) -> str:
        with _limited():
            return self._compiled.render(**names)


@functools.lru_cache(maxsize=4096)
def expression(source: str) -> Expression:
    """``source`` (the inside of ``{{ }}``) compiled; stacks repeat the same few thousand strings, so each once."""
    with _compiling(source):
        return Expression(ENVIRONMENT.compile_expression(source, undefined_to_none=False))


@functools.lru_cache(maxsize=4096)
def template(source: str) -> Template:
    with _compiling(source):
        return Template(ENVIRONMENT.from_string(source))


@functools.lru_cache(maxsize=4096)
def names_read(source: str) -> frozenset[str]:
    """The top-level names ``source`` reads."""
    with _compiling(source):
        return frozenset(jinja2.meta.find_undeclared_variables(ENVIRONMENT.parse(source)))
