"""The dev backend's "models": pure, deterministic functions of the input, so tests can compute exact answers.

Every function here is what `infernet-kit backend` answers; tests import the same functions to know the
expected output of a service without hard-coding it.

- `generate_tokens(prompt, max_new_tokens, model)`: the first token is `"<" + sha256(model + "\\n" + prompt)[:8]
  + ">"`, then one token `" " + word[::-1]` per whitespace-separated word of the prompt, in order, cycling
  through the words again if there are fewer words than tokens asked for; cut at `max_new_tokens` tokens
  (default 20). `generate(...)` is the tokens joined (with the prompt in front when `return_full_text`).
- `classify(text)`: labels POSITIVE and NEGATIVE; POSITIVE's score is `k / 1e6` with
  `k = int(sha256(text)[:8], 16) % 1_000_001`, NEGATIVE's is `(1e6 - k) / 1e6`; highest score first.
  Both scale back to integers exactly with `round(score * 1e6)`.
- `token_classify(text)`: one entity per word that starts with an upper-case letter (words are runs of
  non-space characters with surrounding punctuation `.,;:!?"'()` stripped); `entity_group` is one of
  PER, ORG, LOC, MISC picked by `sha256(word)[0] % 4`, `score = (int(sha256(word)[:8], 16) % 1_000_001) / 1e6`,
  `start`/`end` are character offsets of the word in `text`.
- `summarize(text, max_length)`: the first `max_length` words (default 8) of the text joined by one space,
  with the first letter upper-cased.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

DEFAULT_MAX_NEW_TOKENS = 20
DEFAULT_SUMMARY_WORDS = 8
ENTITY_GROUPS = ("PER", "ORG", "LOC", "MISC")
_WORD = re.compile(r"\S+")
_STRIP = ".,;:!?\"'()"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _unit_score(text: str) -> int:
    """A deterministic integer in [0, 1_000_000]: a score in millionths."""
    return int.from_bytes(_digest(text)[:4], "big") % 1_000_001


def generate_tokens(prompt: str, max_new_tokens: int | None = None, model: str = "") -> list[str]:
    """The tokens the fake text generator emits for `prompt` (see module docstring)."""
    return list(_tokens(prompt, _limit(max_new_tokens), model))


def _limit(max_new_tokens: int | None) -> int:
    return DEFAULT_MAX_NEW_TOKENS if max_new_tokens is None else max(0, max_new_tokens)


@functools.lru_cache(maxsize=1024)
def _tokens(prompt: str, limit: int, model: str) -> tuple[str, ...]:
    """Remembered: a benchmark asks the same prompt thousands of times, and the stand-in's own CPU per request
    counts against every figure measured through it."""
    tokens = ["<" + _digest(f"{model}\n{prompt}").hex()[:8] + ">"]
    words = prompt.split()
    index = 0
    while words and len(tokens) < limit:
        tokens.append(" " + words[index % len(words)][::-1])
        index += 1
    return tuple(tokens[:limit])


def generate(prompt: str, max_new_tokens: int | None = None, model: str = "", return_full_text: bool = False) -> str:
    """The fake generated text: the tokens joined, with the prompt in front when `return_full_text`."""
    text = "".join(_tokens(prompt, _limit(max_new_tokens), model))
    return prompt + text if return_full_text else text


def classify(text: str) -> list[dict[str, Any]]:
    """Fake sentiment classification: POSITIVE/NEGATIVE with scores summing to 1, best first."""
    k = _unit_score(text)
    labels = [{"label": "POSITIVE", "score": k / 1e6}, {"label": "NEGATIVE", "score": (1_000_000 - k) / 1e6}]
    return sorted(labels, key=lambda item: -float(item["score"]))


def token_classify(text: str) -> list[dict[str, Any]]:
    """Fake named-entity recognition: every capitalised word is an entity."""
    entities: list[dict[str, Any]] = []
    for match in _WORD.finditer(text):
        raw = match.group(0)
        word = raw.strip(_STRIP)
        if not word or not word[0].isupper():
            continue
        start = match.start() + raw.index(word)
        entities.append(
            {
                "entity_group": ENTITY_GROUPS[_digest(word)[0] % len(ENTITY_GROUPS)],
                "score": _unit_score(word) / 1e6,
                "word": word,
                "start": start,
                "end": start + len(word),
            }
        )
    return entities


def summarize(text: str, max_length: int | None = None) -> dict[str, str]:
    """Fake summary: the first `max_length` words, first letter upper-cased."""
    limit = DEFAULT_SUMMARY_WORDS if max_length is None else max(0, max_length)
    summary = " ".join(text.split()[:limit])
    return {"summary_text": summary[:1].upper() + summary[1:]}
