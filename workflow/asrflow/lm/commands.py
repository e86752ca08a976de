"""Command grammars (templates with slots, e.g. `TURN {ON|OFF} THE {LIGHT|FAN}`) compiled into a grammar FST G.

Grammar file, one item a line (`#` starts a comment):
  `$NAME = <expansion>`   a rule, used as `$NAME` in later lines;
  `<expansion>`           a command template: one sentence pattern.
An expansion is a sequence of WORDs, `$NAME`s, `{a|b c|d}` (one of the alternatives, each a sequence) and
`[a b]` (optional), any of them followed by `+` (one or more) or `*` (zero or more). Every choice point
shares its probability equally among its branches (templates, alternatives, optional, repeat-or-stop), so G
is a stochastic grammar whose costs are -ln p, as an n-gram G's are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import kaldifst

from asrflow.common import AsrflowError, atomic_path
from asrflow.lang.langdir import read_symbols

TOKEN = re.compile(r"\s*(\$[A-Za-z0-9_]+|[{}\[\]|+*]|[^\s{}\[\]|+*$]+)")
Node = tuple  # ("word", w) | ("seq", [nodes]) | ("alt", [nodes]) | ("opt", node) | ("plus", node) | ("ref", name)


@dataclass(frozen=True)
class Grammar:
    """A parsed grammar: its templates (with the line each came from) and named rules."""

    templates: list[tuple[int, Node]]
    rules: dict[str, tuple[int, Node]]
    path: Path

    def words(self) -> dict[str, int]:
        """Every word the grammar can produce, with the first line using it."""
        found: dict[str, int] = {}

        def visit(node: Node, line: int) -> None:
            kind = node[0]
            if kind == "word":
                found.setdefault(node[1], line)
            elif kind in ("seq", "alt"):
                for child in node[1]:
                    visit(child, line)
            elif kind in ("opt", "plus"):
                visit(node[1], line)

        for line, node in self.templates:
            visit(node, line)
        for line, node in self.rules.values():
            visit(node, line)
        return found


def _parse_expansion(text: str, where: str) -> Node:
    """Parse one expansion (recursive descent over the tokens of `text`)."""
    tokens = [m.group(1) for m in TOKEN.finditer(text)]
    if "".join(tokens) != re.sub(r"\s+", "", text):
        raise AsrflowError(f"{where}: cannot read {text!r} (a stray '$'?)")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: str) -> None:
        nonlocal pos
        if peek() != expected:
            raise AsrflowError(f"{where}: expected {expected!r} in {text!r}, found {peek() or 'end of line'!r}")
        pos += 1

    def alternatives(close: str) -> Node:
        branches = [sequence()]
        while peek() == "|":
            take("|")
            branches.append(sequence())
        take(close)
        return ("alt", branches) if len(branches) > 1 else branches[0]

    def sequence() -> Node:
        nonlocal pos
        items = []
        while peek() not in (None, "|", "}", "]"):
            token = peek()
            pos += 1
            if token == "{":
                item = alternatives("}")
            elif token == "[":
                item = ("opt", alternatives("]"))
            elif token in ("+", "*"):
                raise AsrflowError(f"{where}: {token!r} must follow a word, a $rule or a group in {text!r}")
            elif token.startswith("$"):
                item = ("ref", token[1:])
            else:
                item = ("word", token)
            if peek() in ("+", "*"):
                item = ("plus", item) if peek() == "+" else ("opt", ("plus", item))
                pos += 1
            items.append(item)
        if not items:
            raise AsrflowError(f"{where}: empty expansion (or empty alternative) in {text!r}")
        return ("seq", items) if len(items) > 1 else items[0]

    node = sequence()
    if peek() is not None:
        raise AsrflowError(f"{where}: unexpected {peek()!r} in {text!r}")
    return node


def read_grammar(path: Path) -> Grammar:
    """Parse a grammar file; errors name the file and line."""
    if not Path(path).is_file():
        raise AsrflowError(f"grammar {path} does not exist: set the LM's `grammar` to a command grammar file")
    templates, rules = [], {}
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{n}"
        rule = re.fullmatch(r"\$([A-Za-z0-9_]+)\s*=\s*(.*)", line)
        if rule:
            if rule.group(1) in rules:
                raise AsrflowError(f"{where}: rule ${rule.group(1)} is defined twice")
            rules[rule.group(1)] = (n, _parse_expansion(rule.group(2), where))
        else:
            templates.append((n, _parse_expansion(line, where)))
    if not templates:
        raise AsrflowError(f"grammar {path} has no command template (only rules or comments)")
    return Grammar(templates, rules, Path(path))


class _Builder:
    """An epsilon-NFA in AT&T text form, built by Thompson's construction with -ln p branch costs."""

    def __init__(self, grammar: Grammar, symbols: dict[str, int]) -> None:
        self.grammar, self.symbols = grammar, symbols
        self.num_states, self.arcs = 1, []

    def state(self) -> int:
        self.num_states += 1
        return self.num_states - 1

    def arc(self, src: int, dst: int, label: int = 0, cost: float = 0.0) -> None:
        self.arcs.append(f"{src} {dst} {label} {label} {cost:.6f}")

    def build(self, node: Node, src: int, line: int, active: tuple[str, ...] = ()) -> int:
        """Add `node` starting at state `src`; return its end state."""
        kind = node[0]
        if kind == "word":
            dst = self.state()
            self.arc(src, dst, self.symbols[node[1]])
            return dst
        if kind == "seq":
            for child in node[1]:
                src = self.build(child, src, line, active)
            return src
        if kind == "alt":
            dst, cost = self.state(), math.log(len(node[1]))
            for child in node[1]:
                start = self.state()
                self.arc(src, start, cost=cost)
                self.arc(self.build(child, start, line, active), dst)
            return dst
        if kind == "opt":
            dst, start = self.state(), self.state()
            self.arc(src, dst, cost=math.log(2))
            self.arc(src, start, cost=math.log(2))
            self.arc(self.build(node[1], start, line, active), dst)
            return dst
        if kind == "plus":
            start, dst = self.state(), self.state()
            self.arc(src, start)
            end = self.build(node[1], start, line, active)
            self.arc(end, start, cost=math.log(2))
            self.arc(end, dst, cost=math.log(2))
            return dst
        name = node[1]  # "ref"
        if name not in self.grammar.rules:
            raise AsrflowError(f"{self.grammar.path}:{line}: ${name} is not defined (define it as `${name} = ...`)")
        if name in active:
            raise AsrflowError(f"{self.grammar.path}:{line}: ${name} refers to itself (use + or * to repeat)")
        return self.build(self.grammar.rules[name][1], src, line, (*active, name))


def compile_grammar(grammar: Grammar, symbols: dict[str, int]) -> kaldifst.StdVectorFst:
    """The grammar as a deterministic, epsilon-free word acceptor (uniform choice between templates)."""
    missing = {w: n for w, n in grammar.words().items() if w not in symbols}
    if missing:
        shown = ", ".join(f"{w} (line {n})" for w, n in sorted(missing.items(), key=lambda x: x[1])[:20])
        raise AsrflowError(f"{grammar.path}: words not in the lexicon's words.txt: {shown}; add them to the lexicon "
                           "(or set lexicon.oov: g2p) or fix the grammar")
    builder = _Builder(grammar, symbols)
    final, cost = builder.state(), math.log(len(grammar.templates))
    for line, node in grammar.templates:
        start = builder.state()
        builder.arc(0, start, cost=cost)
        builder.arc(builder.build(node, start, line), final)
    fst = kaldifst.compile("\n".join([*builder.arcs, str(final)]) + "\n")
    kaldifst.rmepsilon(fst)
    fst = kaldifst.determinize(fst)
    kaldifst.minimize(fst)
    return fst


def accepts(fst: kaldifst.StdVectorFst, word_ids: list[int]) -> bool:
    """Whether the deterministic acceptor `fst` (from `compile_grammar`) accepts the word sequence."""
    state = fst.start
    for word in word_ids:
        state = next((arc.nextstate for arc in kaldifst.ArcIterator(fst, state) if arc.ilabel == word), None)
        if state is None:
            return False
    return fst.final(state).value != float("inf")


def grammar_to_G(grammar_path: Path, words_txt: Path, out_fst: Path) -> None:
    """Write G.fst for the grammar file over the ids of `words_txt` (atomically)."""
    fst = compile_grammar(read_grammar(grammar_path), read_symbols(words_txt))
    with atomic_path(out_fst) as tmp:
        fst.write(str(tmp))
