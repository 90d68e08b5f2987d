"""The words the emulated Mistral model writes, and how they are counted.

Theory of operation: every answer is a pure function of a seeded `random.Random`.
`seeded()` turns a canonical JSON dump of the request fields that matter into that RNG, so
the same request always reads the same and a different seed or prompt reads differently.

The tokenizer is deliberately simple and *lossless*: `tokens(text)` splits text into pieces
that concatenate back to the text, and `count_tokens(text) == len(tokens(text))`.  A piece is
a run of at most ten word characters, or one punctuation mark, each with the whitespace in
front of it; trailing whitespace is a piece of its own.  Streams send one piece per chunk, so
the usage numbers always equal the number of content chunks.

Prose is built from small word tables with a fixed sentence shape; the first sentence names a
topic taken from the prompt so a reader can tell which question was answered.  FIM answers are
code-shaped lines that reuse identifiers found around the gap.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import random
import re
from typing import Any

_TOKEN = re.compile(r"\s*(?:\w{1,10}|[^\w\s])|\s+")


def tokens(text: str) -> list[str]:
    """Lossless split of `text` into token pieces: `"".join(tokens(t)) == t`."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens `text` is worth; every usage number the emulator reports uses this."""
    return len(_TOKEN.findall(text))


def digest(material: Any) -> bytes:
    """16 bytes that identify `material` (any JSON-able value) independently of key order."""
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


def seeded(seed: bytes, salt: int = 0) -> random.Random:
    """A fresh RNG for one answer; `salt` tells the choices of an `n > 1` request apart."""
    return random.Random(int.from_bytes(seed, "big") + salt)


ADJECTIVES = (
    "quiet", "careful", "bright", "steady", "simple", "useful", "modern", "gentle", "clear",
    "robust", "practical", "early", "patient", "curious", "broad", "precise", "friendly", "small",
    "local", "shared", "open", "direct", "honest", "compact", "thorough", "calm", "lively",
)
NOUNS = (
    "river", "garden", "engine", "library", "market", "signal", "journey", "pattern", "harbor",
    "method", "lantern", "meadow", "system", "letter", "window", "compass", "bridge", "kitchen",
    "forest", "record", "answer", "question", "schedule", "network", "recipe", "workshop", "map",
    "council", "village", "process", "season", "model", "summary", "detail", "reason", "example",
)
VERBS = (
    "shapes", "supports", "explains", "follows", "improves", "connects", "reveals", "protects",
    "guides", "balances", "reflects", "organizes", "describes", "changes", "clarifies", "joins",
    "measures", "favors", "invites", "completes", "tracks", "frames", "steadies", "answers",
)
_PREPOSITIONS = ("across", "beside", "within", "around", "toward", "beyond", "under", "through")
_OPENERS = (
    "Regarding {topic},", "On the subject of {topic},", "When it comes to {topic},",
    "Thinking about {topic},", "As for {topic},", "Considering {topic},",
)
_LINKS = ("In practice,", "As a result,", "Meanwhile,", "Overall,", "Put simply,", "Even so,")
_STOPWORDS = frozenset(
    "about above after again also been before being below between could does doing down during "
    "each from further have having here just more most once only other over same should some "
    "such than that their them then there these they this those through under until very what "
    "when where which while whom will with would your yours please tell give make explain write "
    "describe show know like want need into onto".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'-]{3,}")


def words(rng: random.Random, count: int) -> str:
    """`count` vocabulary words in a plausible adjective/noun rhythm."""
    table = (ADJECTIVES, NOUNS)
    return " ".join(rng.choice(table[i % 2]) for i in range(count))


def topics(text: str) -> list[str]:
    """Content words of `text` in order of appearance, without repeats (ignoring case)."""
    seen: dict[str, str] = {}
    for match in _WORD.finditer(text):
        word = match.group()
        if word.lower() not in _STOPWORDS:
            seen.setdefault(word.lower(), word)
    return list(seen.values())


def _sentence(rng: random.Random, topic: str | None, opener: tuple[str, ...]) -> str:
    choice = rng.choice
    body = (
        f"the {choice(ADJECTIVES)} {choice(NOUNS)} {choice(VERBS)} the {choice(NOUNS)} "
        f"{choice(_PREPOSITIONS)} {topic or 'the ' + choice(NOUNS)}."
    )
    lead = choice(opener)
    return f"{lead.format(topic=topic)} {body}" if lead else body[0].upper() + body[1:]


def prose(rng: random.Random, subjects: list[str], target: int, lead: str = "") -> str:
    """Sentences until the text is at least `target` tokens long; the first names a subject."""
    subject = rng.choice(subjects[:6]) if subjects else None
    parts = [lead] if lead else []
    parts.append(_sentence(rng, subject, _OPENERS if subject else ("",)))
    count = count_tokens(" ".join(parts))
    others = ("",) * 3 + _LINKS
    while count < target:
        sentence = _sentence(rng, subject if rng.random() < 0.2 else None, others)
        parts.append(sentence)
        count += count_tokens(sentence)  # the joining space rides on the next piece
    return " ".join(parts)


_IDENT = re.compile(r"[A-Za-z_]\w*")
_CODE_LINES = (
    "{a} = {b}({c})",
    "if {a} is None:\n{inner}return {b}",
    "{a}.append({b})",
    "for item in {a}:\n{inner}{b}(item)",
    "result = {a} + {b}",
    "# the {noun} {verb} the {other}",
    "{a} = [{b} for {b} in {c} if {b}]",
    "return {a}",
)


def code(rng: random.Random, prompt: str, suffix: str, target: int) -> str:
    """Code-ish lines that continue `prompt` at its indentation and reuse its identifiers."""
    names = [n for n in dict.fromkeys(_IDENT.findall(prompt + "\n" + suffix)) if not keyword.iskeyword(n)]
    names = names or ["value", "items", "total"]
    *before, current = prompt.split("\n")
    if current.strip():  # the gap opens mid-line: carry on from the next line
        opener, start_at = current, None
    else:  # the prompt ends with (part of) the indentation of the line to write
        opener, start_at = next((line for line in reversed(before) if line.strip()), ""), current
    indent = opener[: len(opener) - len(opener.lstrip())]
    if opener.rstrip().endswith(":"):
        indent += "    "
    if start_at is None:
        start = "\n" + indent
    elif indent.startswith(start_at):
        start = indent[len(start_at):]
    else:
        start, indent = "", start_at
    lines: list[str] = []
    count = 0
    while count < target:
        line = rng.choice(_CODE_LINES).format(
            a=rng.choice(names), b=rng.choice(names), c=rng.choice(names), inner=indent + "    ",
            noun=rng.choice(NOUNS), verb=rng.choice(VERBS), other=rng.choice(NOUNS),
        )
        lines.append(line)
        count += count_tokens(line)
    return start + ("\n" + indent).join(lines)
