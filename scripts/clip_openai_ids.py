#!/usr/bin/env python3
"""OpenAI's CLIP tokenizer ids for the CLIP fixture's strings, from OpenAI's algorithm, written out here.

vsearch tokenises CLIP text with the `tokenizers` library from a tokenizer.json, and so does transformers'
CLIPTokenizer: comparing the two checks one library against itself. This script is the independent side. It
implements the byte-pair encoding of OpenAI's CLIP (`clip/simple_tokenizer.py`) as its paper and code
describe it, with no tokenizer library: clean the text (ftfy's fixes, HTML entities unescaped twice, runs of
whitespace made one space, lower case), split it with CLIP's pattern, map each word's UTF-8 bytes to CLIP's
printable byte alphabet, merge byte pairs by rank (the merge list of the fixture's tokenizer.json, which the
fixture script builds from OpenAI's bpe_simple_vocab_16e6.txt.gz), then wrap in <|startoftext|> ...
<|endoftext|> and cut to 77 as `clip.tokenize` does. It writes the fixture's strings and a few more that the cleaning changes into
reference.json as `openai_strings`, and their ids as `openai_ids`;
crates/embed/tests/it/clip_fixture.rs fails when vsearch's ids differ from them.

Needs `ftfy` and `regex` (PyPI): python3 -m venv /tmp/bpe && /tmp/bpe/bin/pip install ftfy regex &&
/tmp/bpe/bin/python scripts/clip_openai_ids.py
"""
import gzip
import html
import json
import os

import ftfy
import regex

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "clip-tiny")
CONTEXT = 77
START, END = "<|startoftext|>", "<|endoftext|>"
# Beside the fixture's strings: text OpenAI's cleaning changes (ftfy's fixes, HTML entities).
CLEANING = [
    "ﬁne ﬂour and ﬃ",
    "ＡＢＣ　ｆｕｌｌ　ｗｉｄｔｈ　１２３！",
    "ｶﾀｶﾅ half width",
    "“curly” ‘quotes’ it’s",
    "fish &amp; chips &lt;3 &eacute;t&eacute; &#233; &#x263A;",
    "a &amp;amp;amp;amp; b",
    "<b>bold &amp;amp; html</b>",
]
# CLIP's word pattern: the two special tokens, English contractions, letter runs, single digits, and runs of
# anything else that is not whitespace.
PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def byte_alphabet():
    """CLIP's (GPT-2's) map from the 256 byte values to printable characters: printable Latin-1 bytes map to
    themselves, the others to code points from 256 up, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def clean(text):
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


class OpenAiBpe:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.rank = {tuple(m): i for i, m in enumerate(merges)}
        self.bytes = byte_alphabet()

    def word(self, token):
        """The BPE pieces of one word (already in the byte alphabet); the last piece ends in </w>."""
        if token in (START, END):
            return [token]
        parts = list(token[:-1]) + [token[-1] + "</w>"]
        while len(parts) > 1:
            pairs = {(parts[i], parts[i + 1]) for i in range(len(parts) - 1)}
            best = min(pairs, key=lambda p: self.rank.get(p, float("inf")))
            if best not in self.rank:
                break
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode(self, text):
        ids = []
        for token in PATTERN.findall(clean(text)):
            mapped = token if token in (START, END) else "".join(self.bytes[b] for b in token.encode("utf-8"))
            ids.extend(self.vocab[p] for p in self.word(mapped))
        return ids

    def tokenize(self, text):
        """`clip.tokenize`'s ids, without the padding: start, the text's ids, end; cut to 77 with end last."""
        ids = [self.vocab[START], *self.encode(text), self.vocab[END]]
        if len(ids) > CONTEXT:
            ids = ids[:CONTEXT]
            ids[-1] = self.vocab[END]
        return ids


def load(folder=FIXTURE):
    with gzip.open(os.path.join(folder, "tokenizer.json.gz"), "rt", encoding="utf-8") as f:
        model = json.load(f)["model"]
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    return OpenAiBpe(model["vocab"], merges)


def main():
    bpe = load()
    path = os.path.join(FIXTURE, "reference.json")
    with open(path, encoding="utf-8") as f:
        reference = json.load(f)
    reference["openai_strings"] = reference["strings"] + CLEANING
    reference["openai_ids"] = [bpe.tokenize(s) for s in reference["openai_strings"]]
    differ = [s for s, a, b in zip(reference["strings"], reference["ids"], reference["openai_ids"]) if a != b]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False, indent=1)
    print(f"wrote openai_ids for {len(reference['strings'])} strings; transformers' CLIPTokenizer differs on"
          f" {len(differ)}: {differ!r}")


if __name__ == "__main__":
    main()
