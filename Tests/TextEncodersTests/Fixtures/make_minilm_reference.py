#!/usr/bin/env python3
"""Reference fixtures for TextEncodersTests: all-MiniLM-L6-v2 token ids and sentence embeddings.

Token ids come from Hugging Face `tokenizers` (the reference implementation) reading the store's
`tokenizer.json`, with its built-in truncation to 128 and padding switched off (the Swift
tokenizer truncates only when asked). Embeddings come from an independent numpy implementation
of BERT in float64 reading `model.safetensors`, mean-pooled over the tokens and L2-normalised, as
sentence-transformers does for all-MiniLM-L6-v2 (max_seq_length 256).

Usage (needs `pip install tokenizers safetensors numpy`):

    python3 Tests/TextEncodersTests/Fixtures/make_minilm_reference.py [models/all-minilm-l6-v2]

Writes minilm_tokens.json and minilm_embeddings.json next to this script.
"""

import json
import math
import random
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent
MAX_LENGTH = 256  # sentence_bert_config.json's max_seq_length


def corpus():
    """Hand-written edge cases, then seeded random mixes of them (>= 300 strings in all)."""
    texts = [
        "", " ", "   ", "\t\n\r", "\u00a0", "\u3000", "\u200b", "\x00", "\ufffd", "a\x00b", "a\u200bb",
        "hello", "Hello, World!", "HELLO WORLD", "a photo of a cat", "kitty", "a truck", "tabby cat",
        "Egyptian Mau", "espresso", "CRT monitor", "German shepherd dog", "jack-o'-lantern",
        "don't can't won't it's I'm you're we've", "U.S.A. e.g. i.e. etc.", "3.14159", "1,000,000",
        "2024-01-15T10:30:00Z", "call 555-0123 now", "$100 + 50% = ?", "a+b=c", "x^2 <= y|z ~ w`q",
        "email@example.com", "https://example.com/path?query=1&b=2#frag", "C:\\Program Files\\x",
        "[CLS] [SEP] [PAD] [MASK] [UNK]", "[cls] lower", "a[MASK]b", "[SEP][SEP]", "##", "##ing", "#hashtag",
        "café", "naïve", "résumé", "Crème Brûlée", "Ångström", "Øresund", "Straße", "ǅemal", "ﬁne ﬂower",
        "İstanbul", "ΣΊΣΥΦΟΣ", "Ελληνικά", "Русский язык", "Україна", "עברית", "العربية", "हिन्दी",
        "বাংলা", "ไทย", "한국어", "日本語のテキスト", "ひらがな カタカナ", "中文测试", "我爱北京天安门",
        "𠀀𠀁", "𪜀", "豈更車", "㐀㐁", "汉字and English混合", "ｆｕｌｌｗｉｄｔｈ", "１２３",
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "I ❤ NY", "♥♦♣♠", "→ ← ↑ ↓", "©®™", "½ ¼ ¾", "²³¹", "Ⅳ Ⅻ",
        "e\u0301", "a\u0308o\u0308u\u0308", "n\u0303", "\u0301", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "\u0e01\u0e34",
        "ﷺ", "ﷻ", "Å", "K", "Ω", "ǈ", "ß", "ẞ", "ŉ", "ΐ",
        "supercalifragilisticexpialidocious", "antidisestablishmentarianism",
        "pneumonoultramicroscopicsilicovolcanoconiosis", "a" * 99, "a" * 100, "a" * 101, "b" * 150,
        "x" * 100 + " y", "é" * 100, "é" * 101, "ab" * 60, "word " * 50, "the cat sat on the mat. " * 45,
        "multiple   spaces\tand\ttabs\nand\nnewlines", "  leading and trailing  ", "a\r\nb", "a\x0bb\x0cc",
        "a\x85b", "a\u2028b\u2029c", "\u180e", "a\u00adb", "a\u200db", "a\ufeffb", "\ue000private",
        "\U000e0001tag", "a\x7fb", "\x1b[31mred\x1b[0m", "...", "?!?!", "—–-", "«quoted»", "“smart” ‘quotes’",
        "¿Qué?", "¡Hola!", "(parens) [brackets] {braces}", "<html><body>hi</body></html>", "@user #tag",
        "under_score", "camelCaseWord", "snake_case_word", "kebab-case-word", "ALLCAPS", "MiXeD CaSe",
        "The quick brown fox jumps over the lazy dog.", "A photograph of a golden retriever playing in the snow.",
        "1st 2nd 3rd 4th", "0.5mm 10kg 3GHz", "H2O CO2", "COVID-19", "R2-D2", "#1", "100%",
        "tab\there", "back\\slash", "quote\"d", "apostrophe's", "semi;colon:colon", "pipe|pipe",
        "nul\x00in\x00side", "bell\x07", "déjà vu", "piñata", "façade", "coöperate", "Zürich", "Kraków",
        "Dvořák", "Łódź", "Ærøskøbing", "Þórr", "ð", "ı", "ſ", "ﬀ", "Ǆ", "ǲ",
        "unaffable", "unbelievably", "tokenization", "transformers", "embeddings", "wordpiece",
        "xylophone zebra quokka", "qwertyuiop", "asdfghjkl", "zxcvbnm", "lorem ipsum dolor sit amet",
        "ǃxóõ", "ʻOkina", "a·b", "a…b", "a‰", "a′b″", "a※b", "§ ¶ †", "•bullet", "℃ ℉", "µ", "Ω", "№",
    ]
    pieces = [t for t in texts if 0 < len(t) < 40]
    rng = random.Random(1234)
    while len(texts) < 360:
        k = rng.randint(2, 5)
        sep = rng.choice([" ", "", "  ", "\t", "-", ", "])
        texts.append(sep.join(rng.choice(pieces) for _ in range(k)))
    return texts


SENTENCES = [
    "a photo of a cat", "kitty", "a truck", "a photo of a dog", "tabby cat", "pickup truck",
    "espresso", "a cup of coffee", "The quick brown fox jumps over the lazy dog.",
    "A man is riding a horse on the beach at sunset.", "Crème brûlée is a French dessert.",
    "日本語のテキスト", "I ❤ NY", "", "[UNK]", "supercalifragilisticexpialidocious",
    "Hello, World!", "the", "a red fire engine parked beside a yellow school bus",
    # Longer than 256 tokens: checks truncation.
    " ".join(["word%d" % i for i in range(200)]),
]


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def bert_embedding(ids, weights, config):
    """Mean-pooled, L2-normalised last hidden state of one sequence, in float64."""
    w = {k: v.astype(np.float64) for k, v in weights.items() if v.dtype != np.int64}
    eps = config["layer_norm_eps"]
    heads = config["num_attention_heads"]
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
        + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    d = x.shape[1] // heads

    def dense(v, name):
        return v @ w[name + ".weight"].T + w[name + ".bias"]

    for i in range(config["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        q = dense(x, p + "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
        k = dense(x, p + "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
        v = dense(x, p + "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, heads * d)
        x = layer_norm(dense(context, p + "attention.output.dense") + x,
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        hidden = gelu(dense(x, p + "intermediate.dense"))
        x = layer_norm(dense(hidden, p + "output.dense") + x,
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    pooled = x.mean(0)
    return pooled / max(np.linalg.norm(pooled), 1e-12)


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parents[2] / "models" / "all-minilm-l6-v2")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    texts = corpus()
    ids = [tokenizer.encode(t).ids for t in texts]
    tokenizer.enable_truncation(MAX_LENGTH)
    truncated = {str(i): tokenizer.encode(t).ids for i, t in enumerate(texts) if len(ids[i]) > MAX_LENGTH}
    (HERE / "minilm_tokens.json").write_text(json.dumps(
        {"max_length": MAX_LENGTH, "texts": texts, "ids": ids, "truncated": truncated},
        ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")

    config = json.loads((folder / "config.json").read_text())
    weights = load_file(str(folder / "model.safetensors"))
    embeddings = []
    for sentence in SENTENCES:
        sentence_ids = tokenizer.encode(sentence).ids  # truncated to MAX_LENGTH
        embeddings.append([round(float(v), 6) for v in bert_embedding(sentence_ids, weights, config)])
    (HERE / "minilm_embeddings.json").write_text(json.dumps(
        {"max_length": MAX_LENGTH, "sentences": SENTENCES, "embeddings": embeddings},
        ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print("%d token strings (%d truncated), %d embeddings" % (len(texts), len(truncated), len(embeddings)))


if __name__ == "__main__":
    main()
