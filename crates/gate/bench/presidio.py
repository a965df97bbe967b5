#!/usr/bin/env python3
"""Scores Microsoft Presidio's pattern recognizers on the gate's held-out
corpus (tests/corpus/holdout.jsonl), for comparison with
`cargo test -p detente-gate --test quality -- --nocapture`.

No spaCy model is installed here (no network besides package registries),
so Presidio runs with a stub NLP engine: its regex/checksum recognizers
(credit card, IBAN, e-mail, phone, IP, SSN, passport, crypto) work as
usual, while NER-based context words and names are off. Entity types with
no Presidio recognizer (MAC, IMEI, coordinates) are reported as such.

Setup: python3 -m venv /tmp/presidio && /tmp/presidio/bin/pip install presidio-analyzer
Run:   /tmp/presidio/bin/python crates/gate/bench/presidio.py [corpus.jsonl]
"""
import json
import os
import sys
import time

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

MAP = {
    "CREDIT_CARD": "payment_card",
    "IBAN_CODE": "iban",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "IP_ADDRESS": "ip_address",
    "US_SSN": "us_ssn",
    "US_PASSPORT": "us_passport",
    "CRYPTO": "btc_address",
}


class StubNlp(NlpEngine):
    """Tokenless engine: Presidio's pattern recognizers need no NLP."""

    def load(self):
        pass

    def is_loaded(self):
        return True

    def process_text(self, text, language):
        return NlpArtifacts(entities=[], tokens=[], tokens_indices=[], lemmas=[], nlp_engine=self, language=language)

    def process_batch(self, texts, language, **kwargs):
        for t in texts:
            yield t, self.process_text(t, language)

    def is_stopword(self, word, language):
        return False

    def is_punct(self, word, language):
        return False

    def get_supported_entities(self):
        return []

    def get_supported_languages(self):
        return ["en"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "corpus", "holdout.jsonl")
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    engine = AnalyzerEngine(registry=registry, nlp_engine=StubNlp(), supported_languages=["en"])
    engine.analyze(text="warm-up a@example.org", language="en")
    scores = {}
    total_chars = 0
    start = time.perf_counter()
    for line in open(path, encoding="utf-8"):
        doc = json.loads(line)
        text = doc["text"]
        total_chars += len(text.encode())
        # Presidio reports character offsets; the corpus uses UTF-8 bytes.
        b = [len(text[:i].encode()) for i in range(len(text) + 1)]
        found = set()
        for r in engine.analyze(text=text, language="en", entities=list(MAP)):
            if r.score >= 0.3 and r.entity_type in MAP:
                found.add((MAP[r.entity_type], b[r.start], b[r.end]))
        gold = {(t, s, e) for s, e, t in doc["spans"]}
        for item in found | gold:
            s = scores.setdefault(item[0], [0, 0, 0])
            s[0 if item in found and item in gold else 1 if item in found else 2] += 1
    secs = time.perf_counter() - start
    print(f"{'type':<16} {'tp':>5} {'fp':>5} {'fn':>5} {'precision':>9} {'recall':>7} {'f1':>6}")
    micro = [0, 0, 0]
    for t in sorted(scores):
        tp, fp, fn = scores[t]
        micro = [micro[0] + tp, micro[1] + fp, micro[2] + fn]
        print(row(t, tp, fp, fn) + ("" if t in MAP.values() else "   (no Presidio recognizer)"))
    print(row("micro", *micro))
    shared = [sum(scores[t][i] for t in scores if t in MAP.values()) for i in range(3)]
    print(row("micro (shared)", *shared) + "   (types Presidio recognizes)")
    print(f"throughput: {total_chars / secs / 1e6:.3f} MB/s over {total_chars} bytes")


def row(name, tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return f"{name:<16} {tp:>5} {fp:>5} {fn:>5} {p:>9.3f} {r:>7.3f} {f:>6.3f}"


if __name__ == "__main__":
    main()
