"""The byte-level BPE tokenizer: training, exact round trips, and GPT-2's published encoding
(checked against Hugging Face's ``GPT2Tokenizer``, GPT-2's own algorithm, on exported files)."""

from __future__ import annotations

import json
import random
import re

import pytest

from nnanatomy.data.bpe import GPT2_SPLIT, BytePairTokenizer, gpt2_byte_alphabet

TEXT = ("The cat sat on the mat. The dog sat on the log, and the cat didn't mind; it's 2026 -- "
        "naïve café owners say \"hello\" twice:  hello, hello!\n\tTabs,   spaces   and snake_case_names.\n") * 20


def _random_text(rng: random.Random, n: int) -> str:
    pool = "abcdefghij ABC  \n\t'.,;!?_-0123456789éüß中文😀²"
    return "".join(rng.choice(pool) for _ in range(n))


def test_first_merge_is_the_most_frequent_pair_inside_chunks():
    tok = BytePairTokenizer.train("ab ab ab cd", 257)
    assert tok.vocab[256] == b"ab" and tok.vocab_size == 257  # 3 × "ab" beats 2 × " a"
    assert tok.encode(" ab") == [32, 256]
    # merges never cross a chunk: "b." never merges although it occurs as often as "ab"
    tok = BytePairTokenizer.train("ab. ab. ab.", 300)
    assert b"b." not in tok.vocab and b" ab" in tok.vocab


def test_training_is_deterministic_and_stops_when_no_pair_repeats():
    a, b = BytePairTokenizer.train(TEXT, 320), BytePairTokenizer.train(TEXT, 320)
    assert a.vocab == b.vocab and a.ranks == b.ranks and a.vocab_size == 320
    whole = BytePairTokenizer.train(TEXT, 10_000)  # every distinct chunk of TEXT is one token
    assert whole.vocab_size < 400 and len(whole.encode(TEXT)) == len(re.findall(GPT2_SPLIT, TEXT))
    tiny = BytePairTokenizer.train("abc", 1000)
    assert tiny.vocab_size == 256  # no pair occurs twice: nothing to learn
    assert len(a.encode(TEXT)) < len(TEXT.encode()) / 2  # a text it was trained on compresses


def test_pretokenizer_covers_every_character():
    rng = random.Random(0)
    for _ in range(200):
        text = _random_text(rng, rng.randint(0, 60))
        assert "".join(re.findall(GPT2_SPLIT, text)) == text


def test_round_trips_on_any_text_and_any_bytes():
    tok = BytePairTokenizer.train(TEXT, 420)
    rng = random.Random(1)
    for _ in range(200):
        text = _random_text(rng, rng.randint(0, 80))
        assert tok.decode(tok.encode(text)) == text
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
        assert tok.decode_bytes(tok.encode_bytes(data)) == data
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert "".join(tok.tokens("the cat")) == "the cat"


def test_encoding_applies_merges_in_rank_order():
    # "abc" with merges (b, c) learned before (a, b): the earlier merge wins
    vocab = [bytes([b]) for b in range(256)] + [b"bc", b"ab", b"abc"]
    tok = BytePairTokenizer(vocab, [(98, 99, 256), (97, 98, 257), (97, 256, 258)])
    assert tok.encode("abc") == [258] and tok.encode("ab") == [257] and tok.encode("abab") == [257, 257]


def test_bad_inputs_are_named():
    tok = BytePairTokenizer.train("ab ab ab", 258)
    with pytest.raises(TypeError, match="text must be a str"):
        tok.encode(b"ab")
    with pytest.raises(TypeError, match="data must be bytes"):
        tok.encode_bytes("ab")
    with pytest.raises(ValueError, match="token ids"):
        tok.decode([0, 999])
    with pytest.raises(ValueError, match="token ids"):
        tok.decode([1.5])
    with pytest.raises(ValueError, match="vocab_size"):
        BytePairTokenizer.train("ab", 10)
    with pytest.raises(ValueError, match="non-empty"):
        BytePairTokenizer.train("", 300)
    with pytest.raises(ValueError, match="all 256 single bytes"):
        BytePairTokenizer([bytes([b]) for b in range(255)], [])
    with pytest.raises(ValueError, match="is not token"):
        BytePairTokenizer([bytes([b]) for b in range(256)] + [b"ab"], [(97, 99, 256)])


def test_gpt2_alphabet_is_a_printable_bijection():
    table = gpt2_byte_alphabet()
    assert len(set(table.values())) == 256 and all(c.isprintable() and not c.isspace() for c in table.values())
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"  # GPT-2's familiar Ġ and Ċ


def _export_gpt2_files(tok: BytePairTokenizer, folder) -> tuple[str, str]:
    """Write ``tok`` as GPT-2's vocab.json and merges.txt."""
    alphabet = gpt2_byte_alphabet()
    name = ["".join(alphabet[b] for b in token) for token in tok.vocab]
    encoder = {n: i for i, n in enumerate(name)}
    encoder["<|endoftext|>"] = len(name)
    merges = sorted(tok.ranks, key=tok.ranks.get)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(encoder), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n" + "".join(f"{name[a]} {name[b]}\n" for a, b in merges), encoding="utf-8")
    return str(vocab_file), str(merges_file)


def test_gpt2_files_encode_as_gpt2s_own_tokenizer(tmp_path):
    transformers = pytest.importorskip("transformers")
    trained = BytePairTokenizer.train(TEXT + _random_text(random.Random(2), 3000), 500)
    vocab_file, merges_file = _export_gpt2_files(trained, tmp_path)
    reference = transformers.GPT2Tokenizer(vocab_file, merges_file)
    ours = BytePairTokenizer.from_gpt2(json.loads(open(vocab_file, encoding="utf-8").read()),
                                       open(merges_file, encoding="utf-8").read().splitlines())
    assert ours.special == {"<|endoftext|>": 500}
    texts = [TEXT, "Hello  world!\n\n  it's 2026 -- a naïve café, x_1 = 3.14\n", "   leading spaces and trailing   "]
    for text in texts:
        expected = reference.encode(text)
        assert ours.encode(text) == expected
        assert ours.decode(expected) == reference.decode(expected) == text
    assert ours.decode([500]) == "<|endoftext|>"
    with pytest.raises(ValueError, match="merges line"):
        BytePairTokenizer.from_gpt2(json.loads(open(vocab_file, encoding="utf-8").read()), ["zzz qqq"])
