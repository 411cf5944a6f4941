"""Generates the Hugging Face reference fixtures that nabla's hub (BERT checkpoint) tests compare against.

    python3 scripts/reference/make_hub_fixtures.py /work/minilm    # writes tests/fixtures/hub/

The argument is an all-MiniLM-L6-v2 folder, made by `bash shared/bench/get_minilm.sh DIR` (its
tokenizer files are copied into the tiny model; its weights give minilm_reference.json). Needs
torch, numpy, transformers 5.x, safetensors and sentence-transformers (not needed by CI: the
fixtures are committed). Everything is seeded, so a rerun writes the same files. It writes:

  hub/tiny_bert/            a tiny random BertModel as a Hugging Face folder: config.json,
                            model.safetensors (float16, pooler included), tokenizer.json,
                            tokenizer_config.json, vocab.txt (the MiniLM tokenizer)
  hub/tiny_bert_reference.json
                            token ids, last_hidden_state, masked mean pooling, its L2 norm and
                            pooler_output for a batch of single sentences and a batch of pairs;
                            computed from the float16 weights read back as float32
  hub/minilm_reference.json the sentence-transformers embeddings of 100 sentences, the token ids
                            of each (truncated at the model's max_seq_length) and, under
                            tokenizer_cases, untruncated ids of tricky strings

Floats are rounded to 7 significant digits.
"""

import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "hub")
TINY = os.path.join(OUT, "tiny_bert")
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]
TINY_MAX_LENGTH = 32


def r7(v):
    return float(f"{float(v):.7g}")


def flat(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().numpy()
    return [r7(v) for v in np.asarray(t, dtype=np.float32).ravel()]


def rows(t):
    return [flat(row) for row in t]


def dump(name, obj):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def mean_pool(hidden, mask):
    """sentence-transformers' mean pooling: the average of the unmasked tokens."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


# --------------------------------------------------------------------------------------------
# tiny random BERT

TINY_CONFIG = {
    "architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 16,
    "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
    "max_position_embeddings": 64, "type_vocab_size": 2, "hidden_act": "gelu",
    "layer_norm_eps": 1e-12, "pad_token_id": 0, "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    "position_embedding_type": "absolute",
}

TINY_SENTENCES = [
    "Hello world!",
    "The café was naïve about the crème brûlée.",
    "I love this so much 😍 honestly",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "Order #4521 cost $1,299.99 on 2024-03-15 (incl. 20% VAT)?!",
    "a",
    "Is this the question? Yes, and this is the answer.",
    "This long text keeps going well past the limit of thirty-two tokens, so the tokenizer has "
    "to cut it: it talks about rivers, mountains, old libraries, quiet trains at night, the smell "
    "of rain on warm stone, and many other things that nobody will ever read in full.",
]

TINY_PAIRS = [
    ["What is the capital of France?", "Paris is the capital and largest city of France."],
    ["A man is playing a guitar.", "Someone plays music on a stringed instrument, loudly!"],
]


def make_tiny_model(minilm):
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    config = BertConfig(**TINY_CONFIG)
    torch.manual_seed(0)
    model = BertModel(config)
    gen = torch.Generator().manual_seed(1)
    state = {}
    for name, p in sorted(model.state_dict().items()):
        assert p.dtype == torch.float32, name
        # move every value off its init (LayerNorm 1/0, zero biases) so each one is tested
        state[name] = (p + 0.1 * torch.randn(p.shape, generator=gen)).to(torch.float16).contiguous()
    os.makedirs(TINY, exist_ok=True)
    save_file(state, os.path.join(TINY, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(TINY, "config.json"), "w") as f:
        json.dump(TINY_CONFIG, f, indent=2)
        f.write("\n")
    for name in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(minilm, name), os.path.join(TINY, name))
    return state


def tiny_outputs(model, enc):
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"],
                    attention_mask=enc["attention_mask"])
    hidden = out.last_hidden_state
    pooled = mean_pool(hidden, enc["attention_mask"])
    return {
        "input_ids": enc["input_ids"].tolist(),
        "token_type_ids": enc["token_type_ids"].tolist(),
        "attention_mask": enc["attention_mask"].tolist(),
        "last_hidden_state_shape": list(hidden.shape),
        "last_hidden_state": flat(hidden),
        "mean_pooled": rows(pooled),
        "normalized": rows(F.normalize(pooled, p=2, dim=1)),
        "pooler_output": rows(out.pooler_output),
    }


def tiny_fixture(minilm):
    from transformers import AutoTokenizer, BertModel

    state = make_tiny_model(minilm)
    model, info = BertModel.from_pretrained(TINY, dtype=torch.float32, attn_implementation="eager",
                                            output_loading_info=True)
    assert not any(info.values()), info  # nothing missing, unexpected or mismatched
    model.eval()
    loaded = model.state_dict()
    for name, p in state.items():  # the reference runs on exactly the stored f16 values
        assert loaded[name].dtype == torch.float32 and torch.equal(loaded[name], p.float()), name

    tok = AutoTokenizer.from_pretrained(TINY)
    kw = dict(padding=True, truncation=True, max_length=TINY_MAX_LENGTH, return_tensors="pt")
    single = tiny_outputs(model, tok(TINY_SENTENCES, **kw))
    pairs = tiny_outputs(model, tok([a for a, _ in TINY_PAIRS], text_pair=[b for _, b in TINY_PAIRS], **kw))
    assert len(single["input_ids"][-1]) == TINY_MAX_LENGTH  # the long text was cut
    dump("tiny_bert_reference.json", {
        "model": "tiny_bert", "weights_dtype": "float16", "max_length": TINY_MAX_LENGTH,
        "tokenizer_call": "tokenizer(batch, padding=True, truncation=True, max_length=32)",
        "pooling": "mean over attention_mask; normalized = L2 (eps 1e-12)",
        "sentences": TINY_SENTENCES, **single,
        "pairs": {"pairs": TINY_PAIRS, **pairs},
    })


# --------------------------------------------------------------------------------------------
# all-MiniLM-L6-v2

LONG_WORDS = ("the history of the river valley is long and full of small surprises that people "
              "found while walking along its banks in spring summer autumn and winter with maps "
              "notebooks cameras and old stories told by their grandparents about floods bridges "
              "mills markets festivals and quiet evenings").split()
LONG_600 = " ".join(LONG_WORDS[(7 * i) % len(LONG_WORDS)] for i in range(600)) + "."

MINILM_SENTENCES = [
    "a",
    "Hi",
    "Hello, world!",
    "This is a test.",
    "The cat sat on the mat.",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "I love machine learning.",
    "Deep learning frameworks compute gradients automatically.",
    "Rust is a systems programming language focused on safety and speed.",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.",
    "tHe QuIcK bRoWn FoX jUmPs OvEr ThE lAzY dOg.",
    "She sent her résumé to a company in Zürich.",
    "Crème brûlée and café au lait at the naïve façade.",
    "Señor Muñoz visited São Paulo and Kraków last year.",
    "Ångström, Øresund, and Æsir are Nordic words.",
    "I'm so happy today 🙂",
    "That was hilarious 😂😂😂",
    "Let's go to the beach 🏖️ this weekend ☀️!",
    "❤️ love it",
    "Call me at 555-123-4567 or +1 (800) 555-0199.",
    "The meeting is at 10:30 a.m. on 2024-06-01.",
    "Pi is approximately 3.14159265358979.",
    "He paid $1,234.56 for 3 items (a 15% discount).",
    "The population grew from 7,800,000,000 to 8 billion.",
    "Version 2.0.1-beta was released on 12/31/2023.",
    "What's the weather like in New York?",
    "How do I reset my password?",
    "Where can I buy cheap flights to Tokyo?",
    "Why is the sky blue?",
    "Is it going to rain tomorrow?",
    "Wait... what?!",
    "No way!!! Really???",
    "Hmm; well: maybe -- or maybe not.",
    "\"Quotes\" and 'apostrophes' and `backticks`.",
    "Email me at john.doe@example.com, thanks.",
    "Visit https://www.example.org/path?query=1&x=2 for details.",
    "#hashtag @mention and some_snake_case identifiers",
    "don't can't won't shouldn't y'all",
    "The U.S.A. and the U.K. signed the treaty.",
    "e.g. i.e. etc. vs. Dr. Mr. Mrs.",
    "antidisestablishmentarianism",
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word.",
    "Supercalifragilisticexpialidocious!",
    "Tabs\tand\tnewlines\nare\nwhitespace too.",
    "   leading and trailing spaces   ",
    "multiple     spaces     between     words",
    "ALL CAPS SENTENCE ABOUT NOTHING IN PARTICULAR",
    "lowercase sentence without any punctuation at all",
    "Python, Rust, C++, and C# are programming languages.",
    "x = y + 2 * z - (a / b)",
    "if (a < b && c > d) { return; }",
    "The Eiffel Tower is in Paris.",
    "Mount Everest is the highest mountain on Earth.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Photosynthesis converts light energy into chemical energy.",
    "The mitochondria is the powerhouse of the cell.",
    "Shakespeare wrote Hamlet around the year 1600.",
    "Beethoven composed nine symphonies.",
    "The stock market fell sharply on Monday.",
    "Interest rates are expected to rise next quarter.",
    "The new smartphone has a faster processor and a better camera.",
    "My laptop battery drains too quickly.",
    "The restaurant's pasta was delicious but the service was slow.",
    "I would not recommend this hotel to anyone.",
    "Best purchase I've ever made, five stars!",
    "The movie was boring and way too long.",
    "Children are playing in the park.",
    "A dog is running through the snow.",
    "The train to Berlin departs at 8 pm.",
    "Please turn off the lights when you leave.",
    "Thank you very much for your help.",
    "Good morning! How are you doing?",
    "It's raining cats and dogs.",
    "Actions speak louder than words.",
    "Knowledge is power.",
    "To be, or not to be, that is the question.",
    "All that glitters is not gold.",
    "The only thing we have to fear is fear itself.",
    "One small step for man, one giant leap for mankind.",
    "Neural networks approximate functions from data.",
    "Gradient descent minimizes a loss function step by step.",
    "Attention is all you need.",
    "Sentence embeddings map text to dense vectors for semantic search.",
    "Cosine similarity measures the angle between two vectors.",
    "The 2nd, 3rd and 4th runners finished within 0.5 seconds.",
    "Beijing (北京) and Tokyo (東京) are large cities.",
    "Привет, как дела?",
    "Γειά σου κόσμε",
    "Long sentences with many clauses, such as this one, which goes on and on, describing a "
    "walk through a city at dusk, past shops, cafés, bridges and markets, before finally "
    "arriving at a small quiet square where an old fountain still runs, test the model's "
    "handling of longer inputs that stay under the limit.",
    "ok",
    LONG_600,
]

TOKENIZER_CASES = [
    "Crème brûlée, résumé, naïve café in Zürich — Ångström!",
    "Emoji: 🙂😂👍🏽 ❤️ 🇫🇷",
    "中文字符测试：我爱机器学习。日本語もあります。",
    "Pneumonoultramicroscopicsilicovolcanoconiosis " + "x" * 120 + " supercalifragilisticexpialidocious",
    "don't won't it's O'Neill rock'n'roll",
    "U.S.A. e.g. 3.14 1,000,000 $5.99 50% 10:30",
    "tabs\there\tand\nnewlines\r\nand\u00a0nbsp\u200bzero-width",
    "Control\x00chars\x07and\ufffdreplacement",
    "MiXeD CaSe HTTPS://Example.COM/Path?Q=1 user@Mail.org #tag @who",
    "",
    ("The tokenizer must handle a long input without truncation; " * 40)[:2000],
]


def minilm_fixture(minilm):
    import tokenizers
    import transformers
    import sentence_transformers
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    assert len(MINILM_SENTENCES) == 100 and len(TOKENIZER_CASES[-1]) == 2000
    with open(os.path.join(minilm, "sentence_bert_config.json")) as f:
        max_seq_length = json.load(f)["max_seq_length"]

    torch.manual_seed(0)
    st = SentenceTransformer(minilm, device="cpu")
    st.eval()
    assert st.max_seq_length == max_seq_length, (st.max_seq_length, max_seq_length)
    emb = st.encode(MINILM_SENTENCES, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    assert emb.shape == (100, 384)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)  # the folder's Normalize module

    tok = AutoTokenizer.from_pretrained(minilm)
    ids = [tok(s, truncation=True, max_length=max_seq_length)["input_ids"] for s in MINILM_SENTENCES]
    st_ids = st.preprocess(MINILM_SENTENCES)
    for i, row in enumerate(ids):  # the ids sentence-transformers itself fed the model
        n = int(st_ids["attention_mask"][i].sum())
        assert st_ids["input_ids"][i][:n].tolist() == row, i
    assert len(ids[-1]) == max_seq_length  # the 600-word text was cut

    # the raw tokenizers library on tokenizer.json, with the file's own padding/truncation
    # (Fixed 128 / 128) turned off, must agree with transformers' untruncated ids
    raw = tokenizers.Tokenizer.from_file(os.path.join(minilm, "tokenizer.json"))
    raw.no_padding()
    raw.no_truncation()
    cases = []
    for s in TOKENIZER_CASES:
        case_ids = tok(s, add_special_tokens=True, truncation=False)["input_ids"]
        assert raw.encode(s, add_special_tokens=True).ids == case_ids, s
        cases.append({"text": s, "input_ids": case_ids, "tokens": tok.convert_ids_to_tokens(case_ids)})
    assert len(cases[-1]["input_ids"]) > 128

    dump("minilm_reference.json", {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__,
                     "sentence_transformers": sentence_transformers.__version__},
        "max_seq_length": max_seq_length,
        "encode_call": "encode(sentences, batch_size=16, normalize_embeddings=False)"
                       " (modules.json: Transformer, mean Pooling, Normalize)",
        "tokenizer_call": f"tokenizer(sentence, truncation=True, max_length={max_seq_length})",
        "dim": int(emb.shape[1]),
        "sentences": MINILM_SENTENCES,
        "input_ids": ids,
        "embeddings": rows(emb),
        "tokenizer_cases": cases,
    })


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_hub_fixtures.py MINILM_DIR   (made by shared/bench/get_minilm.sh)")
    minilm_dir = sys.argv[1]
    tiny_fixture(minilm_dir)
    minilm_fixture(minilm_dir)
    print("wrote", os.path.normpath(OUT))
