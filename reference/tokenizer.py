"""Byte-level BPE: train, encode, decode, special tokens, tiktoken rank files.

Text is first split into chunks by a regex (GPT-4's by default), so that no token
spans a word and the following space, a letter and a digit, and so on. Each chunk
becomes its UTF-8 bytes, token ids 0..255. Training then repeats one step: find
the most frequent adjacent pair of ids over all chunks and replace it everywhere
with a new id (256, 257, ...). Encoding replays those merges in the order they
were learned; decoding concatenates each id's bytes.

A worked example, training on "aaab aab" with the default pattern. The chunks are
"aaab" and " aab", i.e. [97, 97, 97, 98] and [32, 97, 97, 98]:

    pair counts   (97, 97): 3   (97, 98): 2   (32, 97): 1
    merge 256 = (97, 97)   ->   [256, 97, 98]   [32, 256, 98]
                                 ("aaa" merges left to right: "aa" + "a")
    pair counts   (256, 97): 1   (97, 98): 1   (32, 256): 1   (256, 98): 1
    merge 257 = (32, 256)  ->   four pairs tie at 1; the smallest pair of ids wins

Ties are broken by the smallest pair of ids, (a, b) < (c, d) as tuples: the
project's convention, which makes training deterministic.

The rank file (`save`, `load`) is tiktoken's: one line per token, the token's
bytes in base64, a space, its rank. Ranks are the token ids, so
`tiktoken.Encoding(..., mergeable_ranks=tok.mergeable_ranks())` encodes text to
exactly the ids this class produces.
"""

from __future__ import annotations

import base64
import heapq
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from collections.abc import Set as AbstractSet
from itertools import chain, pairwise, repeat
from pathlib import Path
from typing import Literal

import regex

# GPT-4's (cl100k) split: contractions, words with one leading non-letter, runs of at
# most three digits, punctuation runs, newlines, and spaces (a run of spaces leaves
# its last one to the word that follows it, so " world" stays one chunk).
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

Pair = tuple[int, int]
_NONE = 1 << 62  # the rank of a pair that never merges


def merge_pair(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace each occurrence of `pair` in `ids` by `new_id`, left to right.

    Overlaps resolve to the left: [97, 97, 97] with pair (97, 97) gives [256, 97].
    """
    a, b = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if ids[i] == a and i + 1 < n and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_merges(chunk_counts: Mapping[bytes, int], num_merges: int) -> dict[Pair, int]:
    """Learn up to `num_merges` merges from chunks (as bytes) and their frequencies.

    The obvious loop recounts every pair of every chunk for each merge: O(merges x
    corpus). Here each distinct chunk is stored once with its frequency, and three
    structures make a merge cost only as much as the chunks it changes:

    - `counts`: pair -> occurrences over the corpus (chunk frequency included).
    - `where`: pair -> indices of the chunks that contain it (the pair index). A
      merge visits only these. Entries go stale when a chunk loses the pair; a
      stale index costs one scan of that chunk and changes nothing.
    - `heap`: (-count, a, b), so that the top is the most frequent pair and, among
      equal counts, the smallest pair of ids. Counts change far more often than
      merges happen, so entries are never removed from the middle (lazy deletion):
      a popped entry whose count no longer matches `counts` is stale, and is pushed
      back with its current count if the pair still occurs. A merge of (a, b) into z
      can raise only the counts of pairs that contain z; those are pushed at once.
      Every other count only falls, so every pair always has an entry at least as
      high as its true count, and a popped entry that matches is the true maximum.

    Returns fewer than `num_merges` merges when no chunk has two ids left.
    """
    words = [list(chunk) for chunk in chunk_counts]
    freqs = list(chunk_counts.values())
    counts: defaultdict[Pair, int] = defaultdict(int)
    where: defaultdict[Pair, set[int]] = defaultdict(set)
    for w, (word, freq) in enumerate(zip(words, freqs, strict=True)):
        for pair in pairwise(word):
            counts[pair] += freq
            where[pair].add(w)
    heap = [(-count, a, b) for (a, b), count in counts.items()]
    heapq.heapify(heap)

    merges: dict[Pair, int] = {}
    while heap and len(merges) < num_merges:
        neg_count, a, b = heapq.heappop(heap)
        pair = (a, b)
        count = counts.get(pair, 0)
        if count != -neg_count:  # stale entry: requeue at its current count
            if count > 0:
                heapq.heappush(heap, (-count, a, b))
            continue
        new_id = 256 + len(merges)
        merges[pair] = new_id
        del counts[pair]
        born: set[Pair] = set()  # pairs that contain new_id: their counts only rose
        for w in where.pop(pair):
            word = words[w]
            new_word = merge_pair(word, pair, new_id)
            if len(new_word) == len(word):
                continue  # stale index: the chunk lost the pair to an earlier merge
            freq = freqs[w]
            # Recount this chunk's pairs rather than patch neighbours: chunks are
            # short, and overlaps ("aaaa") need no special cases this way.
            for old in pairwise(word):
                if old != pair:
                    counts[old] -= freq
            for new in pairwise(new_word):
                counts[new] += freq
                if new_id in new:
                    born.add(new)
                    where[new].add(w)
            words[w] = new_word
        for p in born:
            heapq.heappush(heap, (-counts[p], p[0], p[1]))
    return merges


class BPETokenizer:
    """A byte-level BPE tokenizer: ids 0..255 are bytes, then one id per merge.

    `merges` maps a pair of ids to the id it merges into, in the order learned
    (so also in id order). `special_tokens` maps strings such as "<|endoftext|>"
    to ids outside the ordinary range; they are never produced by merges.
    """

    def __init__(
        self,
        merges: Mapping[Pair, int],
        pattern: str = GPT4_PATTERN,
        special_tokens: Mapping[str, int] | None = None,
    ) -> None:
        self.merges: dict[Pair, int] = dict(merges)
        self.pattern = pattern
        self._split = regex.compile(pattern).findall
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():
            if new_id != len(self.vocab) or a >= new_id or b >= new_id:
                raise ValueError(f"merge {(a, b)} -> {new_id}: ids must count up from 256")
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        # bytes -> id of the ordinary tokens. A chunk that is itself a token encodes to
        # that token: training learned it from an occurrence of exactly those bytes, so
        # the merges rebuild it. tiktoken takes the same shortcut.
        self._ranks: dict[bytes, int] = {v: k for k, v in self.vocab.items()}
        if len(self._ranks) != len(self.vocab):
            raise ValueError("two merges produce the same bytes")
        self.special_tokens: dict[str, int] = {}
        self._decoder: dict[int, bytes] = dict(self.vocab)
        self._special_split: dict[frozenset[str], regex.Pattern[str]] = {}
        self._cache: dict[str, list[int]] = {}
        if special_tokens:
            self.register_special_tokens(special_tokens)

    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        pattern: str = GPT4_PATTERN,
        special_tokens: Mapping[str, int] | None = None,
    ) -> BPETokenizer:
        """Learn `vocab_size - 256` merges from `text` (fewer if it runs out of pairs).

        Special tokens given here are cut out of the training text first, so no merge
        spans or includes them, and are registered with their ids.
        """
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the byte tokens), got {vocab_size}")
        split = regex.compile(pattern).findall
        pieces = [text]
        if special_tokens:
            pieces = _special_regex(special_tokens).split(text)[::2]
        chunk_counts = Counter(
            chunk.encode("utf-8") for chunk in chain.from_iterable(map(split, pieces))
        )
        merges = train_merges(chunk_counts, vocab_size - 256)
        return cls(merges, pattern, special_tokens)

    def register_special_tokens(self, tokens: Mapping[str, int]) -> None:
        """Add special tokens, e.g. {"<|endoftext|>": 4096}; ids must be unused."""
        for token, token_id in tokens.items():
            taken = token_id in self.vocab or token_id in self.special_tokens.values()
            if self.special_tokens.get(token) != token_id and taken:
                raise ValueError(f"special token {token!r}: id {token_id} is already in use")
            if not token:
                raise ValueError("a special token cannot be empty")
            self.special_tokens[token] = token_id
            self._decoder[token_id] = token.encode("utf-8")
        self._special_split.clear()

    # Encoding

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Token ids of `text`, with tiktoken's rules for special tokens.

        - `allowed_special`: the special tokens that become their id when they occur
          in `text` ("all" for every registered one).
        - `disallowed_special`: special tokens whose occurrence raises ValueError
          ("all": every registered one not allowed). Text from users can contain
          "<|endoftext|>"; refusing it by default keeps it from ending a document.
        - A special token that is neither is encoded as ordinary text:
          `encode(s, disallowed_special=())` never raises.
        """
        specials = frozenset(self.special_tokens)
        # Names that are not registered are ignored, as tiktoken does.
        allowed = specials if allowed_special == "all" else specials & allowed_special
        if disallowed_special == "all":
            disallowed = specials - allowed
        else:
            disallowed = frozenset(disallowed_special)
        if disallowed:
            match = self._special_regex(disallowed).search(text)
            if match:
                raise ValueError(
                    f"text contains the special token {match.group()!r}, which is not allowed: "
                    "pass it in allowed_special to encode it as a special token, or "
                    "disallowed_special=() to encode it as ordinary text"
                )
        text = _fix_surrogates(text)
        if not allowed:
            return self._encode_ordinary(text)
        # The regex never sees across a special token: split on them first.
        parts = self._special_regex(allowed).split(text)
        ids: list[int] = []
        for i, part in enumerate(parts):
            if i % 2:
                ids.append(self.special_tokens[part])
            elif part:
                ids.extend(self._encode_ordinary(part))
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of `text`, special tokens treated as ordinary text."""
        return self._encode_ordinary(_fix_surrogates(text))

    def _encode_ordinary(self, text: str) -> list[int]:
        cache = self._cache
        if len(cache) > 1 << 17:  # bounded: a long-lived tokenizer sees unbounded text
            cache.clear()
        get, encode_chunk = cache.get, self._encode_chunk
        ids: list[int] = []
        extend = ids.extend
        for chunk in self._split(text):
            chunk_ids = get(chunk)
            if chunk_ids is None:
                chunk_ids = cache[chunk] = encode_chunk(chunk.encode("utf-8"))
            extend(chunk_ids)
        return ids

    def _encode_chunk(self, data: bytes) -> list[int]:
        """Apply the merges to one chunk: repeatedly merge its lowest-ranked pair."""
        token = self._ranks.get(data)
        if token is not None:
            return [token]
        return _bpe(list(data), self.merges)

    def clear_cache(self) -> None:
        """Forget the chunk -> ids cache (it is only ever a speed-up)."""
        self._cache.clear()

    def _special_regex(self, tokens: frozenset[str]) -> regex.Pattern[str]:
        compiled = self._special_split.get(tokens)
        if compiled is None:
            compiled = self._special_split[tokens] = _special_regex(tokens)
        return compiled

    # Decoding

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of `ids`, concatenated (a token may hold part of a character)."""
        try:
            return b"".join(map(self._decoder.__getitem__, ids))
        except KeyError as e:
            raise ValueError(f"unknown token id {e.args[0]}") from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; bytes that are not valid UTF-8 become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # tiktoken's format

    def mergeable_ranks(self) -> dict[bytes, int]:
        """bytes -> rank for every ordinary token, as `tiktoken.Encoding` takes them."""
        return dict(self._ranks)

    def save(self, path: str | Path) -> None:
        """Write the ranks as a tiktoken rank file (special tokens are not part of it)."""
        lines = (f"{base64.b64encode(tok).decode()} {rank}\n" for tok, rank in self._ranks.items())
        Path(path).write_text("".join(lines))

    @classmethod
    def load(
        cls,
        path: str | Path,
        pattern: str = GPT4_PATTERN,
        special_tokens: Mapping[str, int] | None = None,
    ) -> BPETokenizer:
        """Read a tiktoken rank file whose first 256 ranks are the bytes 0..255."""
        ranks: dict[bytes, int] = {}
        for line in Path(path).read_text().splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
        return cls(merges_from_ranks(ranks), pattern, special_tokens)


def merges_from_ranks(ranks: Mapping[bytes, int]) -> dict[Pair, int]:
    """Recover the merges behind tiktoken ranks.

    A token of rank r was made by merging two tokens; which two is found by running
    BPE on its bytes with only the merges of rank < r, which must stop at exactly
    two tokens.
    """
    if any(ranks.get(bytes([i])) != i for i in range(256)):
        raise ValueError("ranks 0..255 must be the single bytes 0..255, in order")
    merges: dict[Pair, int] = {}
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1])[256:]:
        if rank != 256 + len(merges):
            raise ValueError(f"ranks must count up from 256 without gaps; found {rank}")
        parts = _bpe(list(token), merges)
        if len(parts) != 2:
            raise ValueError(f"token {token!r} (rank {rank}) is not a merge of two tokens")
        merges[(parts[0], parts[1])] = rank
    return merges


def _bpe(ids: list[int], merges: Mapping[Pair, int]) -> list[int]:
    """Merge the lowest-ranked adjacent pair, one occurrence at a time, until none is left.

    The leftmost occurrence of the best pair goes first, so "aaa" with (a, a) gives
    [aa, a], as in training. A pair's rank is the id it merges into. `ranks[i]` is
    the rank of (ids[i], ids[i + 1]); a merge changes only its two neighbours. Each
    step is a few Python operations plus min/index/del over the chunk in C: cheap
    for words, quadratic only for very long chunks (as in tiktoken).

        ids [104, 105, 104, 105]   merges (104, 105) -> 256, (256, 256) -> 257
        ranks [256, none, 256]  -> merge at 0 -> ids [256, 104, 105], ranks [none, 256]
                                -> merge at 1 -> ids [256, 256],      ranks [257]
                                -> merge at 0 -> ids [257]
    """
    get = merges.get
    ranks = list(map(get, pairwise(ids), repeat(_NONE)))
    while ranks:
        best = min(ranks)
        if best == _NONE:
            break
        i = ranks.index(best)
        ids[i] = best
        del ids[i + 1]
        del ranks[i]
        if i > 0:
            ranks[i - 1] = get((ids[i - 1], best), _NONE)
        if i < len(ranks):
            ranks[i] = get((best, ids[i + 1]), _NONE)
    return ids


def _special_regex(tokens: Iterable[str]) -> regex.Pattern[str]:
    """One capturing alternation of the tokens, longest first (so a token that
    extends another wins)."""
    alternatives = sorted(tokens, key=lambda t: (-len(t), t))
    return regex.compile("(" + "|".join(map(regex.escape, alternatives)) + ")")


def _fix_surrogates(text: str) -> str:
    """Lone surrogates cannot be UTF-8: replace them with U+FFFD, as tiktoken does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
