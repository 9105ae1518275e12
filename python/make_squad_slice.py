"""Writes the SQuAD v1.1 slices that `jbert train` uses by default, in the spirit of the reference
notebook's `train[:1%]` and `validation[:3%]` but sized to train in minutes on 2 cores: the first
0.7% of the training questions and the first 1% of the dev questions, in file order, keeping
SQuAD's JSON structure (a partial last paragraph included).

    python3 python/make_squad_slice.py ../shared/data/squad data/squad-slice
"""
import json
import math
import sys
from pathlib import Path


def first_questions(dataset, count):
    data = []
    for article in dataset["data"]:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            if count == 0:
                break
            qas = paragraph["qas"][:count]
            count -= len(qas)
            paragraphs.append({"context": paragraph["context"], "qas": qas})
        if paragraphs:
            data.append({"title": article["title"], "paragraphs": paragraphs})
        if count == 0:
            break
    return {"version": dataset.get("version", "1.1"), "data": data}


def main():
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.mkdir(parents=True, exist_ok=True)
    for name, fraction, out in (("train-v1.1.json", 0.007, "train.json"), ("dev-v1.1.json", 0.01, "dev.json")):
        dataset = json.loads((source / name).read_text(encoding="utf-8"))
        total = sum(len(p["qas"]) for a in dataset["data"] for p in a["paragraphs"])
        count = math.ceil(total * fraction)
        (target / out).write_text(json.dumps(first_questions(dataset, count), ensure_ascii=False), encoding="utf-8")
        print(f"{out}: {count} of {total} questions")


if __name__ == "__main__":
    main()
