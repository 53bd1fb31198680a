#!/usr/bin/python3
"""make_tiny_bert.py -- tiny BERT models with random weights and their
expected outputs, for the C encoder's reference tests (tests/encoder/).

numpy only (no torch, no transformers). Writes, under OUT (default
tests/encoder/data):
  tiny-st/     BertModel tensor names without prefix, vocab.txt, F32,
               sentence-transformers files: mean pooling + Normalize
  tiny-cls/    "bert."-prefixed names, LayerNorm gamma/beta, F16 weights,
               tokenizer.json instead of vocab.txt, CLS pooling, no Normalize
  tiny-cross/  BertForSequenceClassification (bert. prefix, pooler,
               classifier [1, H]), vocab.txt
  tiny-xlmr-cross/  XLMRobertaForSequenceClassification (roberta. prefix,
               positions from pad_token_id + 1, classifier.dense/out_proj),
               tokenizer.json with a SentencePiece Unigram model
  expected.json  golden tokenizations of hard strings, embeddings for each
                 bi-encoder and logits for (query, passage) pairs
The reference forward pass below is a plain padded-batch implementation in
float64 with an additive attention mask (independent of the C code's packed
layout). The tokenizer is a line-by-line port of transformers'
BasicTokenizer + WordpieceTokenizer (tokenization_bert.py).

Run: /usr/bin/python3 scripts/make_tiny_bert.py [OUT]
     /usr/bin/python3 scripts/make_tiny_bert.py --shape H,LAYERS,HEADS,INTER DIR
        (a random model of that shape, no expected outputs: for bench/)
"""
import json
import math
import os
import struct
import sys
import unicodedata

import numpy as np

# ---------------------------------------------------------------- tokenizer
# (port of transformers/models/bert/tokenization_bert.py, v4.3x)


def _is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese_char(cp):
    return ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF) or (0x20000 <= cp <= 0x2A6DF)
            or (0x2A700 <= cp <= 0x2B73F) or (0x2B740 <= cp <= 0x2B81F) or (0x2B820 <= cp <= 0x2CEAF)
            or (0xF900 <= cp <= 0xFAFF) or (0x2F800 <= cp <= 0x2FA1F))


def basic_tokenize(text, lower=True):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        out.append(" " if _is_whitespace(ch) else ch)
    text = "".join(out)
    out = []
    for ch in text:
        if _is_chinese_char(ord(ch)):
            out += [" ", ch, " "]
        else:
            out.append(ch)
    text = unicodedata.normalize("NFC", "".join(out))
    split = []
    for tok in text.split():
        if lower:
            tok = tok.lower()
            tok = "".join(c for c in unicodedata.normalize("NFD", tok) if unicodedata.category(c) != "Mn")
        cur = []
        words = []
        for ch in tok:
            if _is_punctuation(ch):
                if cur:
                    words.append("".join(cur))
                    cur = []
                words.append(ch)
            else:
                cur.append(ch)
        if cur:
            words.append("".join(cur))
        split += words
    return " ".join(split).split()


def wordpiece(tokens, vocab, max_chars=100):
    out = []
    for tok in tokens:
        chars = list(tok)
        if len(chars) > max_chars:
            out.append("[UNK]")
            continue
        start, subs, bad = 0, [], False
        while start < len(chars):
            end, cur = len(chars), None
            while start < end:
                s = "".join(chars[start:end])
                if start > 0:
                    s = "##" + s
                if s in vocab:
                    cur = s
                    break
                end -= 1
            if cur is None:
                bad = True
                break
            subs.append(cur)
            start = end
        out += ["[UNK]"] if bad else subs
    return out


def encode(text, vocab, max_len, pair=None, prefix=""):
    a = [vocab[t] for t in wordpiece(basic_tokenize(prefix + text), vocab)]
    if pair is None:
        a = a[: max_len - 2]
        return [vocab["[CLS]"]] + a + [vocab["[SEP]"]], [0] * (len(a) + 2)
    b = [vocab[t] for t in wordpiece(basic_tokenize(pair), vocab)]
    while len(a) + len(b) > max_len - 3:  # longest first; ties cut the second
        if len(a) > len(b):
            a = a[:-1]
        else:
            b = b[:-1]
    ids = [vocab["[CLS]"]] + a + [vocab["[SEP]"]] + b + [vocab["[SEP]"]]
    return ids, [0] * (len(a) + 2) + [1] * (len(b) + 1)


# ---------------------------------------------------------------- Unigram (tokenizers' Unigram model)
# Normaliser approximated as in encoder/unigram.c: NFKC, Cc/Cf removed, whitespace
# split, U+2581 prefix per word; Viterbi with strict improvement (earliest start
# wins ties), unknown characters at min_score - 10, consecutive unknowns fused.


def unigram_encode(text, pieces, unk_id):
    table = {}
    for i, (p, _) in enumerate(pieces):
        table[p] = i  # a later duplicate wins
    min_score = min(sc for _, sc in pieces)
    maxlen = max(len(p) for p, _ in pieces)
    text = unicodedata.normalize("NFKC", text)
    words, cur = [], []
    for ch in text + " ":
        cat = unicodedata.category(ch)
        if ch in " \t\n\r" or cat in ("Zs", "Zl", "Zp"):
            if cur:
                words.append("\u2581" + "".join(cur))
            cur = []
        elif cat not in ("Cc", "Cf"):
            cur.append(ch)
    out = []
    for w in words:
        n = len(w)
        best = [0.0] * (n + 1)
        frm = [-1] * (n + 1)
        pid = [-1] * (n + 1)
        frm[0] = 0
        for st in range(n):
            if frm[st] < 0:
                continue
            single = False
            for l in range(1, min(maxlen, n - st) + 1):
                i = table.get(w[st:st + l])
                if i is None:
                    continue
                single = single or l == 1
                sc = best[st] + pieces[i][1]
                if frm[st + l] < 0 or sc > best[st + l]:
                    best[st + l], frm[st + l], pid[st + l] = sc, st, i
            if not single:
                sc = best[st] + min_score - 10.0
                if frm[st + 1] < 0 or sc > best[st + 1]:
                    best[st + 1], frm[st + 1], pid[st + 1] = sc, st, unk_id
        ids, e = [], n
        while e > 0:
            ids.append(pid[e])
            e = frm[e]
        prev = False
        for i in reversed(ids):
            if not (prev and i == unk_id):
                out.append(i)
            prev = i == unk_id
    return out


def xlmr_encode(a, b, pieces, max_len):
    s, e = 0, 2  # <s>, </s>
    x = unigram_encode(a, pieces, 3)
    if b is None:
        return [s] + x[: max_len - 2] + [e]
    y = unigram_encode(b, pieces, 3)
    while len(x) + len(y) > max_len - 4:
        if len(x) > len(y):
            x = x[:-1]
        else:
            y = y[:-1]
    return [s] + x + [e, e] + y + [e]


def build_unigram_vocab(rng):
    v = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]]
    seen = set(p for p, _ in v)
    cands = ["\u2581" + w for w in WORDS if not w.startswith("#")] + [w for w in WORDS if not w.startswith("#")]
    cands += ["\u2581"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + list(".,!?;:'()-") + CJK
    cands += ["\u2581" + chr(c) for c in range(ord("a"), ord("z") + 1)] + ["ing", "ed", "er", "un", "aff", "able", "é"]
    for p in cands:
        if p not in seen:
            seen.add(p)
            v.append([p, float(np.round(-rng.uniform(2, 12), 4))])
    return v


# ---------------------------------------------------------------- vocabulary

WORDS = """the a an of and to in is for on with what how why who query passage search retrieval dense
index model vector hello world cafe naive resume quick brown fox jumps over lazy dog un ##aff ##able
play ##ing ##ed ##s ##er token ##izer deep learning neural network protein cell cancer gene study
results show that this we are was were be by as at from it its not no yes data test""".split()
CJK = list("中文字符测试日本語")


def build_vocab():
    v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    v += [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    v += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    v += ["##" + chr(c) for c in range(ord("0"), ord("9") + 1)]
    v += CJK + ["é", "ß", "¿", "—", "…"]
    for w in WORDS:
        if w not in v:
            v.append(w)
    return v


# ---------------------------------------------------------------- reference forward


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def forward(W, cfg, batch_ids, batch_types, pos_offset=0):
    """Padded batch, additive mask (-1e9 on padded keys), float64."""
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = H // nh
    eps = cfg["layer_norm_eps"]
    B = len(batch_ids)
    L = max(len(x) for x in batch_ids)
    ids = np.zeros((B, L), dtype=np.int64)
    types = np.zeros((B, L), dtype=np.int64)
    mask = np.zeros((B, L))
    for i, (x, t) in enumerate(zip(batch_ids, batch_types)):
        ids[i, : len(x)] = x
        types[i, : len(t)] = t
        mask[i, : len(x)] = 1
    g = lambda n: W[n].astype(np.float64)
    x = g("embeddings.word_embeddings.weight")[ids] \
        + g("embeddings.position_embeddings.weight")[pos_offset + np.arange(L)][None] \
        + g("embeddings.token_type_embeddings.weight")[types]
    x = layer_norm(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    bias = (1.0 - mask)[:, None, None, :] * -1e9
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        lin = lambda t, n: t @ g(p + n + ".weight").T + g(p + n + ".bias")
        q = lin(x, "attention.self.query").reshape(B, L, nh, dh).transpose(0, 2, 1, 3)
        k = lin(x, "attention.self.key").reshape(B, L, nh, dh).transpose(0, 2, 1, 3)
        v = lin(x, "attention.self.value").reshape(B, L, nh, dh).transpose(0, 2, 1, 3)
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh) + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        c = (s @ v).transpose(0, 2, 1, 3).reshape(B, L, H)
        x = layer_norm(x + lin(c, "attention.output.dense"), g(p + "attention.output.LayerNorm.weight"),
                       g(p + "attention.output.LayerNorm.bias"), eps)
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(x + lin(h, "output.dense"), g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias"),
                       eps)
    return x, mask


def pool(x, mask, mode, normalize):
    if mode == "cls":
        e = x[:, 0]
    else:
        e = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    if normalize:
        e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return e


# ---------------------------------------------------------------- writers


def write_safetensors(path, tensors, dtype="F32"):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr.astype("<f4" if dtype == "F32" else "<f2"))
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def random_weights(rng, cfg, vocab_size, classifier=False):
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    n = lambda *s: rng.normal(0, 0.2, size=s).astype(np.float32)
    ln = lambda: (1.0 + rng.normal(0, 0.1, size=H)).astype(np.float32)
    W = {
        "embeddings.word_embeddings.weight": n(vocab_size, H),
        "embeddings.position_embeddings.weight": n(cfg["max_position_embeddings"], H),
        "embeddings.token_type_embeddings.weight": n(cfg["type_vocab_size"], H),
        "embeddings.LayerNorm.weight": ln(),
        "embeddings.LayerNorm.bias": n(H),
    }
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        for m in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            W[p + m + ".weight"] = n(H, H)
            W[p + m + ".bias"] = n(H)
        W[p + "attention.output.LayerNorm.weight"] = ln()
        W[p + "attention.output.LayerNorm.bias"] = n(H)
        W[p + "intermediate.dense.weight"] = n(I, H)
        W[p + "intermediate.dense.bias"] = n(I)
        W[p + "output.dense.weight"] = n(H, I)
        W[p + "output.dense.bias"] = n(H)
        W[p + "output.LayerNorm.weight"] = ln()
        W[p + "output.LayerNorm.bias"] = n(H)
    if classifier:
        W["pooler.dense.weight"] = n(H, H)
        W["pooler.dense.bias"] = n(H)
        W["classifier.weight"] = n(1, H)
        W["classifier.bias"] = n(1)
    return W


def config(vocab_size, **kw):
    c = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2,
         "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2,
         "vocab_size": vocab_size, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
         "position_embedding_type": "absolute"}
    c.update(kw)
    return c


def st_files(d, mode, normalize):
    mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        mods.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    json.dump(mods, open(os.path.join(d, "modules.json"), "w"), indent=1)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": mode == "cls",
               "pooling_mode_mean_tokens": mode == "mean", "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False},
              open(os.path.join(d, "1_Pooling", "config.json"), "w"), indent=1)


HARD = [
    "Hello, World!",
    "Héllo Wörld: CAFÉ naïve résumé",
    "中文字符测试 and 日本語",
    "I ❤️ pizza 🍕 and emoji 👍🏽",
    "ctrl\u0000chars\u0007here\u200bzero\u00adsoft\ttab\nnewline\r\n",
    "a" * 101 + " ok " + "b" * 100,
    "unaffable playing played players",
    "what's the query? (dense) [retrieval] {index} #1 $2 50% a&b",
    "¿Qué tal? «quotes» — dash … ellipsis",
    "Straße STRASSE ǅemal ﬁne",
    "   leading and trailing spaces   ",
    "",
    "tokenizer tokenizers zzzqqq x1y2",
    "the quick brown fox jumps over the lazy dog " * 8,
    "\u023a\u023a\u023a\u023a grows when lower-cased; \u0130stanbul \u212b",
]
PAIRS = [
    ("what is dense retrieval?", "dense retrieval uses a neural network model to index vectors."),
    ("protein study", "results show that the protein is not in the cell."),
    ("", "empty query"),
    ("the quick brown fox " * 10, "jumps over the lazy dog " * 12),
    ("hello world", ""),
]


def bench_model(shape, d):
    """A random BERT of the given shape with the test vocabulary (for throughput only)."""
    H, nl, nh, inter = (int(x) for x in shape.split(","))
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    vocab_list = build_vocab()
    cfg = config(len(vocab_list), hidden_size=H, num_hidden_layers=nl, num_attention_heads=nh,
                 intermediate_size=inter, max_position_embeddings=512)
    write_safetensors(os.path.join(d, "model.safetensors"), random_weights(rng, cfg, len(vocab_list)))
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab_list) + "\n")
    st_files(d, "mean", True)
    print("wrote", d)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--shape":
        return bench_model(sys.argv[2], sys.argv[3])
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "encoder",
                                                                "data")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261127)
    vocab_list = build_vocab()
    vocab = {p: i for i, p in enumerate(vocab_list)}
    V = len(vocab_list)
    expected = {"vocab_size": V, "max_len": 64, "models": {}}
    expected["tokenize"] = [{"text": t, "ids": encode(t, vocab, 64)[0]} for t in HARD]
    expected["tokenize_pairs"] = [{"a": a, "b": b, "ids": encode(a, vocab, 64, b)[0],
                                   "types": encode(a, vocab, 64, b)[1]} for a, b in PAIRS]

    def vocab_txt(d):
        with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(vocab_list) + "\n")

    # tiny-st: no prefix, F32, mean + Normalize
    d = os.path.join(out, "tiny-st")
    os.makedirs(d, exist_ok=True)
    cfg = config(V)
    W = random_weights(rng, cfg, V)
    write_safetensors(os.path.join(d, "model.safetensors"), W)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
    json.dump({"do_lower_case": True}, open(os.path.join(d, "tokenizer_config.json"), "w"))
    vocab_txt(d)
    st_files(d, "mean", True)
    ids = [encode(t, vocab, 64)[0] for t in HARD]
    ids_q = [encode(t, vocab, 64, prefix="query: ")[0] for t in HARD]
    x, mask = forward(W, cfg, ids, [[0] * len(i) for i in ids])
    xq, maskq = forward(W, cfg, ids_q, [[0] * len(i) for i in ids_q])
    expected["models"]["tiny-st"] = {"texts": HARD, "embeddings": pool(x, mask, "mean", True).tolist(),
                                     "query_prefix": "query: ",
                                     "query_embeddings": pool(xq, maskq, "mean", True).tolist()}

    # tiny-cls: bert. prefix, gamma/beta, F16, tokenizer.json, CLS, no Normalize, erf gelu, eps 1e-5
    d = os.path.join(out, "tiny-cls")
    os.makedirs(d, exist_ok=True)
    cfg = config(V, layer_norm_eps=1e-5, num_hidden_layers=3, num_attention_heads=2)
    W = random_weights(rng, cfg, V)
    W = {k: v.astype(np.float16).astype(np.float32) for k, v in W.items()}
    named = {}
    for k, v in W.items():
        k2 = "bert." + k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        named[k2] = v
    write_safetensors(os.path.join(d, "model.safetensors"), named, dtype="F16")
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
    tj = {"version": "1.0", "normalizer": {"type": "BertNormalizer", "clean_text": True,
                                           "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
          "pre_tokenizer": {"type": "BertPreTokenizer"},
          "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                    "max_input_chars_per_word": 100, "vocab": vocab}}
    json.dump(tj, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
    st_files(d, "cls", False)
    x, mask = forward(W, cfg, ids, [[0] * len(i) for i in ids])
    expected["models"]["tiny-cls"] = {"texts": HARD, "embeddings": pool(x, mask, "cls", False).tolist()}

    # tiny-cross: BertForSequenceClassification
    d = os.path.join(out, "tiny-cross")
    os.makedirs(d, exist_ok=True)
    cfg = config(V, architectures=["BertForSequenceClassification"], id2label={"0": "LABEL_0"},
                 label2id={"LABEL_0": 0})
    W = random_weights(rng, cfg, V, classifier=True)
    named = {("" if k.startswith("classifier") else "bert.") + k: v for k, v in W.items()}
    write_safetensors(os.path.join(d, "model.safetensors"), named)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
    vocab_txt(d)
    pids = [encode(a, vocab, 64, b) for a, b in PAIRS]
    x, mask = forward(W, cfg, [p[0] for p in pids], [p[1] for p in pids])
    pooled = np.tanh(x[:, 0] @ W["pooler.dense.weight"].astype(np.float64).T + W["pooler.dense.bias"])
    logits = pooled @ W["classifier.weight"].astype(np.float64).T + W["classifier.bias"]
    expected["models"]["tiny-cross"] = {"pairs": [list(p) for p in PAIRS], "logits": logits.tolist()}

    # tiny-xlmr-cross: XLMRobertaForSequenceClassification with a Unigram tokenizer.json
    d = os.path.join(out, "tiny-xlmr-cross")
    os.makedirs(d, exist_ok=True)
    pieces = build_unigram_vocab(rng)
    U = len(pieces)
    cfg = config(U, architectures=["XLMRobertaForSequenceClassification"], model_type="xlm-roberta",
                 pad_token_id=1, bos_token_id=0, eos_token_id=2, max_position_embeddings=66, type_vocab_size=1,
                 layer_norm_eps=1e-5)
    W = random_weights(rng, cfg, U)
    H = cfg["hidden_size"]
    W["classifier.dense.weight"] = rng.normal(0, 0.2, size=(H, H)).astype(np.float32)
    W["classifier.dense.bias"] = rng.normal(0, 0.2, size=H).astype(np.float32)
    W["classifier.out_proj.weight"] = rng.normal(0, 0.2, size=(1, H)).astype(np.float32)
    W["classifier.out_proj.bias"] = rng.normal(0, 0.2, size=1).astype(np.float32)
    named = {("" if k.startswith("classifier") else "roberta.") + k: v for k, v in W.items()}
    write_safetensors(os.path.join(d, "model.safetensors"), named)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
    tj = {"version": "1.0",
          "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}]},
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
              {"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]},
          "model": {"type": "Unigram", "unk_id": 3, "vocab": pieces}}
    json.dump(tj, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
    xp = [xlmr_encode(a, b, pieces, 64) for a, b in PAIRS]
    x, mask = forward(W, cfg, xp, [[0] * len(i) for i in xp], pos_offset=2)
    pooled = np.tanh(x[:, 0] @ W["classifier.dense.weight"].astype(np.float64).T + W["classifier.dense.bias"])
    logits = pooled @ W["classifier.out_proj.weight"].astype(np.float64).T + W["classifier.out_proj.bias"]
    expected["models"]["tiny-xlmr-cross"] = {"pairs": [list(p) for p in PAIRS], "logits": logits.tolist(),
                                             "ids": xp}
    expected["tokenize_unigram"] = [{"text": t, "ids": xlmr_encode(t, None, pieces, 64)} for t in HARD]

    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=0)
    print("wrote", out)


if __name__ == "__main__":
    main()
