"""Generates the Hugging Face reference fixtures that nabla's hub (BERT and GPT-2 checkpoint) tests compare
against.

    python3 scripts/reference/make_hub_fixtures.py /work/minilm    # writes tests/fixtures/hub/

The argument is an all-MiniLM-L6-v2 folder, made by `python3 scripts/get_minilm.py DIR` (its
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
  hub/tiny_bert_cls/        a tiny random BertForSequenceClassification (the same BertConfig plus
                            3 labels negative/neutral/positive) as save_pretrained writes it:
                            config.json, model.safetensors (float32, every name under `bert.` plus
                            classifier.weight/bias, pooler included); the tiny_bert tokenizer files
  hub/tiny_bert_cls_reference.json
                            the safetensors' tensor names/dtypes/shapes, the token ids of the
                            tiny_bert sentences (tokenized the same way) and their eval-mode
                            logits [8, 3]
  hub/minilm_reference.json the sentence-transformers embeddings of 100 sentences, the token ids
                            of each (truncated at the model's max_seq_length) and, under
                            tokenizer_cases, untruncated ids of tricky strings
  hub/tiny_gpt2/            a tiny random GPT2LMHeadModel as a Hugging Face folder: config.json,
                            generation_config.json, model.safetensors (bfloat16, tied: only
                            transformer.wte.weight, no lm_head.weight, as save_pretrained writes it),
                            tokenizer.json (a byte-level BPE of vocab 400 trained here, exactly as
                            GPT-2's is built, on the first 200,000 characters of
                            data/shakespeare/plays.txt.gz), tokenizer_config.json
  hub/tiny_gpt2_reference.json
                            the safetensors' tensor names/dtypes/shapes, token ids and token strings
                            of a few sentences, the logits of a batch of two of them (cut to the
                            same length, no padding) and 20 greedy generate() tokens after "ROMEO:";
                            computed from the bfloat16 weights read back as float32

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
# tiny random BERT with a sequence-classification head

TINY_CLS = os.path.join(OUT, "tiny_bert_cls")
CLS_LABELS = ["negative", "neutral", "positive"]


def tiny_cls_config():
    from transformers import BertConfig

    config = BertConfig(**TINY_CONFIG, num_labels=len(CLS_LABELS),
                        id2label=dict(enumerate(CLS_LABELS)),
                        label2id={label: i for i, label in enumerate(CLS_LABELS)},
                        problem_type="single_label_classification")
    config.architectures = ["BertForSequenceClassification"]
    return config


def make_tiny_cls_model():
    from safetensors import safe_open
    from transformers import BertForSequenceClassification

    torch.manual_seed(2)
    model = BertForSequenceClassification(tiny_cls_config())
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            assert p.dtype == torch.float32, name
            # move every value off its init (LayerNorm 1/0, zero biases) so each one is tested
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if os.path.isdir(TINY_CLS):
        shutil.rmtree(TINY_CLS)  # only what save_pretrained writes, nothing left from a rerun
    # transformers 5 writes safetensors only (safe_serialization is accepted and ignored)
    model.save_pretrained(TINY_CLS, safe_serialization=True)
    assert sorted(os.listdir(TINY_CLS)) == ["config.json", "model.safetensors"], os.listdir(TINY_CLS)
    with safe_open(os.path.join(TINY_CLS, "model.safetensors"), "pt") as f:
        assert sorted(f.keys()) == sorted(state), sorted(f.keys())  # the state_dict names as they are
        for name in f.keys():
            t = f.get_tensor(name)
            assert t.dtype == torch.float32 and torch.equal(t, state[name]), name
    for name in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(TINY, name), os.path.join(TINY_CLS, name))
    return state


def tiny_cls_fixture():
    import tokenizers
    import transformers
    from safetensors import safe_open
    from transformers import AutoTokenizer, BertForSequenceClassification

    state = make_tiny_cls_model()
    model, info = BertForSequenceClassification.from_pretrained(
        TINY_CLS, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    assert not any(info.values()), info  # nothing missing, unexpected or mismatched
    model.eval()
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for name, p in state.items():
        assert loaded[name].dtype == torch.float32 and torch.equal(loaded[name], p), name
    assert model.config.id2label == dict(enumerate(CLS_LABELS)), model.config.id2label
    assert model.config.problem_type == "single_label_classification"

    tok = AutoTokenizer.from_pretrained(TINY_CLS)
    kw = dict(padding=True, truncation=True, max_length=TINY_MAX_LENGTH, return_tensors="pt")
    enc = tok(TINY_SENTENCES, **kw)
    tiny_enc = AutoTokenizer.from_pretrained(TINY)(TINY_SENTENCES, **kw)
    for key in ("input_ids", "token_type_ids", "attention_mask"):  # the tiny_bert_reference.json ids
        assert torch.equal(enc[key], tiny_enc[key]), key
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"],
                    attention_mask=enc["attention_mask"])
        logits = out.logits
        assert logits.shape == (len(TINY_SENTENCES), len(CLS_LABELS))
        # the head: tanh pooler on the [CLS] row, then classifier (weight [num_labels, hidden]);
        # dropout is off in eval
        hidden = model.bert(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"],
                            attention_mask=enc["attention_mask"]).last_hidden_state
        pooled = torch.tanh(hidden[:, 0] @ state["bert.pooler.dense.weight"].T
                            + state["bert.pooler.dense.bias"])
        by_hand = pooled @ state["classifier.weight"].T + state["classifier.bias"]
        assert torch.allclose(by_hand, logits, atol=1e-6, rtol=1e-6)

    with safe_open(os.path.join(TINY_CLS, "model.safetensors"), "pt") as f:
        slices = [(k, f.get_slice(k)) for k in f.keys()]
        tensors = [{"name": k, "dtype": t.get_dtype(), "shape": list(t.get_shape())} for k, t in slices]
    dump("tiny_bert_cls_reference.json", {
        "model": "tiny_bert_cls", "weights_dtype": "float32",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__},
        "max_length": TINY_MAX_LENGTH,
        "tokenizer_call": "tokenizer(batch, padding=True, truncation=True, max_length=32)",
        "id2label": {str(i): label for i, label in enumerate(CLS_LABELS)},
        "tensors": tensors,
        "sentences": TINY_SENTENCES,
        "input_ids": enc["input_ids"].tolist(),
        "token_type_ids": enc["token_type_ids"].tolist(),
        "attention_mask": enc["attention_mask"].tolist(),
        "logits_call": "BertForSequenceClassification (eval, eager attention)(input_ids, "
                       "token_type_ids, attention_mask).logits",
        "logits_shape": list(logits.shape),
        "logits": rows(logits),
        "predictions": [CLS_LABELS[i] for i in logits.argmax(-1).tolist()],
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


# --------------------------------------------------------------------------------------------
# tiny random GPT-2

GPT2 = os.path.join(OUT, "tiny_gpt2")
SHAKESPEARE = os.path.join(os.path.dirname(OUT), "..", "..", "data", "shakespeare", "plays.txt.gz")
GPT2_TRAIN_CHARS = 200_000
GPT2_VOCAB = 400
EOT = "<|endoftext|>"

GPT2_SENTENCES = [
    "ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.",
    "   Three leading spaces, then the café opens.",
    "Emoji test 🙂👍🏽 and a naïve crème brûlée!",
    "First line\nSecond line\n\n\tTabbed third line   ",
    "Numbers 3.14 and 1,000; it's done." + EOT + "A new document begins.",
]
GPT2_BATCH = [0, 1]  # the sentences whose first L ids (L = the shorter length) give the logits
GPT2_PROMPT = "ROMEO:"
GPT2_NEW_TOKENS = 20


def gpt2_tokenizer():
    """GPT-2's tokenizer as transformers' GPT2Converter builds it: byte-level BPE, no normalizer,
    no unk token, ByteLevel pre-tokenizer (GPT-2's split regex, no prefix space), decoder and
    post-processor (here with trim_offsets=True, which moves offsets only, never ids); the trainer
    starts from the 256-byte alphabet, so every string encodes."""
    import gzip
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    with gzip.open(SHAKESPEARE, "rt", encoding="utf-8") as f:
        text = f.read(GPT2_TRAIN_CHARS)
    assert len(text) == GPT2_TRAIN_CHARS
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(vocab_size=GPT2_VOCAB, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer)  # one sequence: runs of newlines are seen whole
    assert tok.get_vocab_size() == GPT2_VOCAB and tok.padding is None and tok.truncation is None
    return tok


def gpt2_config(eot_id):
    from transformers import GPT2Config

    config = GPT2Config(vocab_size=GPT2_VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        n_inner=None, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                        bos_token_id=eot_id, eos_token_id=eot_id, tie_word_embeddings=True)
    config.architectures = ["GPT2LMHeadModel"]
    return config


def make_gpt2_model():
    import tempfile
    from safetensors import safe_open
    from safetensors.torch import save_file
    from transformers import GenerationConfig, GPT2LMHeadModel

    os.makedirs(GPT2, exist_ok=True)
    tok = gpt2_tokenizer()
    tok.save(os.path.join(GPT2, "tokenizer.json"))
    eot_id = tok.token_to_id(EOT)
    with open(os.path.join(GPT2, "tokenizer_config.json"), "w") as f:
        json.dump({"add_prefix_space": False, "bos_token": EOT, "eos_token": EOT, "unk_token": EOT,
                   "model_max_length": 64, "tokenizer_class": "GPT2Tokenizer"}, f, indent=2)
        f.write("\n")

    config = gpt2_config(eot_id)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    assert model.lm_head.weight is model.transformer.wte.weight  # tied
    assert not list(model.buffers())  # transformers 5 keeps no attn.bias / attn.masked_bias mask
    full = model.state_dict()
    names = sorted(n for n in full if n != "lm_head.weight")
    with tempfile.TemporaryDirectory() as tmp:  # the names save_pretrained writes for a tied GPT-2
        model.save_pretrained(tmp)
        with safe_open(os.path.join(tmp, "model.safetensors"), "pt") as f:
            assert sorted(f.keys()) == names, sorted(f.keys())
    gen = torch.Generator().manual_seed(1)
    state = {}
    for name in names:
        p = full[name]
        assert p.dtype == torch.float32, name
        # move every value off its init (LayerNorm 1/0, zero biases) so each one is tested
        state[name] = (p + 0.1 * torch.randn(p.shape, generator=gen)).to(torch.bfloat16).contiguous()
    save_file(state, os.path.join(GPT2, "model.safetensors"), metadata={"format": "pt"})
    config.dtype = torch.bfloat16  # as save_pretrained records a bfloat16 model (model init set float32)
    config.to_json_file(os.path.join(GPT2, "config.json"))
    GenerationConfig.from_model_config(config).to_json_file(os.path.join(GPT2, "generation_config.json"))
    return tok, state


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh((2.0 / torch.pi) ** 0.5 * (x + 0.044715 * x ** 3)))


def gpt2_by_hand(state, ids, n_layer=2, n_head=2, eps=1e-5):
    """The GPT-2 forward written out from the stored tensors, to pin down their layouts: Conv1D
    weights are [in, out] (y = x @ W + b); c_attn's 3*n_embd outputs are q | k | v, each split
    into n_head consecutive chunks of head_dim; the head is wte transposed (tied)."""
    w = {k: v.float() for k, v in state.items()}
    ln = lambda x, p: F.layer_norm(x, x.shape[-1:], w[p + ".weight"], w[p + ".bias"], eps)
    conv1d = lambda x, p: x @ w[p + ".weight"] + w[p + ".bias"]
    b, t = ids.shape
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:t]
    d = x.shape[-1]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    for i in range(n_layer):
        h = f"transformer.h.{i}."
        q, k, v = conv1d(ln(x, h + "ln_1"), h + "attn.c_attn").split(d, dim=-1)
        q, k, v = (z.view(b, t, n_head, d // n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / (d // n_head) ** 0.5
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        x = x + conv1d((att @ v).transpose(1, 2).reshape(b, t, d), h + "attn.c_proj")
        x = x + conv1d(gelu_new(conv1d(ln(x, h + "ln_2"), h + "mlp.c_fc")), h + "mlp.c_proj")
    return ln(x, "transformer.ln_f") @ w["transformer.wte.weight"].T


def gpt2_fixture():
    import tokenizers
    import transformers
    from safetensors import safe_open
    from transformers import AutoTokenizer, GPT2LMHeadModel, PreTrainedTokenizerFast

    raw, state = make_gpt2_model()
    model, info = GPT2LMHeadModel.from_pretrained(GPT2, dtype=torch.float32, attn_implementation="eager",
                                                  output_loading_info=True)
    assert not any(info.values()), info  # nothing missing, unexpected or mismatched
    model.eval()
    loaded = model.state_dict()
    assert set(loaded) == set(state) | {"lm_head.weight"}
    for name, p in state.items():  # the reference runs on exactly the stored bf16 values
        assert loaded[name].dtype == torch.float32 and torch.equal(loaded[name], p.float()), name
    assert torch.equal(loaded["lm_head.weight"], state["transformer.wte.weight"].float())

    tok = AutoTokenizer.from_pretrained(GPT2)
    fast = PreTrainedTokenizerFast(tokenizer_file=os.path.join(GPT2, "tokenizer.json"),
                                   bos_token=EOT, eos_token=EOT, unk_token=EOT)
    eot_id = raw.token_to_id(EOT)
    assert tok.eos_token_id == tok.bos_token_id == eot_id == model.config.eos_token_id
    assert len(tok) == GPT2_VOCAB == model.config.vocab_size
    ids, tokens = [], []
    for s in GPT2_SENTENCES:
        row = tok(s)["input_ids"]  # GPT-2 adds no special tokens
        assert row == tok(s, add_special_tokens=False)["input_ids"] == fast(s)["input_ids"], s
        assert row == raw.encode(s).ids == raw.encode(s, add_special_tokens=False).ids, s
        assert tok.decode(row) == s, s  # byte-level BPE round-trips
        ids.append(row)
        tokens.append(tok.convert_ids_to_tokens(row))
    assert eot_id in ids[-1]  # the special token in the text is matched whole

    length = min(len(ids[i]) for i in GPT2_BATCH)
    batch = torch.tensor([ids[i][:length] for i in GPT2_BATCH])
    with torch.no_grad():
        logits = model(input_ids=batch).logits
        assert torch.allclose(gpt2_by_hand(state, batch), logits, atol=1e-5, rtol=1e-5)

    prompt = tok(GPT2_PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=GPT2_NEW_TOKENS,
                             do_sample=False)
        new = out[0, prompt.shape[1]:].tolist()
        assert len(new) == GPT2_NEW_TOKENS, new  # no <|endoftext|> stopped it early
        seq = prompt[0].tolist()
        for _ in range(GPT2_NEW_TOKENS):  # the same greedy tokens without a KV cache
            seq.append(int(model(input_ids=torch.tensor([seq])).logits[0, -1].argmax()))
        assert seq[prompt.shape[1]:] == new, (seq, new)

    with safe_open(os.path.join(GPT2, "model.safetensors"), "pt") as f:
        slices = [(k, f.get_slice(k)) for k in f.keys()]
        tensors = [{"name": k, "dtype": t.get_dtype(), "shape": list(t.get_shape())} for k, t in slices]
    dump("tiny_gpt2_reference.json", {
        "model": "tiny_gpt2", "weights_dtype": "bfloat16",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__},
        "vocab_size": GPT2_VOCAB, "eos_token": EOT, "eos_token_id": eot_id,
        "tensors": tensors,
        "tokenizer_call": "tokenizer(sentence)  (no special tokens are added)",
        "sentences": GPT2_SENTENCES, "input_ids": ids, "tokens": tokens,
        "logits_call": "model(input_ids=batch).logits, batch = the first L ids of each sentence in "
                       "batch_sentences, L the shorter length; no padding, no attention_mask",
        "batch_sentences": GPT2_BATCH, "batch_input_ids": batch.tolist(),
        "logits_shape": list(logits.shape), "logits": flat(logits),
        "generate": {
            "call": f"model.generate(prompt_ids, max_new_tokens={GPT2_NEW_TOKENS}, do_sample=False)",
            "prompt": GPT2_PROMPT, "prompt_ids": prompt[0].tolist(), "new_ids": new,
            "text": tok.decode(out[0].tolist()), "new_text": tok.decode(new),
        },
    })


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_hub_fixtures.py MINILM_DIR   (made by scripts/get_minilm.py)")
    minilm_dir = sys.argv[1]
    tiny_fixture(minilm_dir)
    tiny_cls_fixture()
    minilm_fixture(minilm_dir)
    gpt2_fixture()
    print("wrote", os.path.normpath(OUT))
