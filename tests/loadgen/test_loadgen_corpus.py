"""The bundled corpus is what KV routing is for: many distinct, real, permissively licensed long documents."""

from __future__ import annotations

import random
from collections import Counter
from importlib import resources

import pytest

from loadgen.workload.corpus import TokenScale, default_corpus, estimate_tokens
from loadgen.workload.followups import template_question
from loadgen.workload.sessions import SYSTEM_PROMPT, chat_opening

PERMISSIVE = ("MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "PSF-2.0", "ISC")


def test_enough_distinct_long_documents_of_code_and_prose():
    docs = default_corpus().documents
    assert len(docs) >= 120
    assert len({d.id for d in docs}) == len(docs) and len({d.text[:2000] for d in docs}) == len(docs)
    kinds = Counter(d.kind for d in docs)
    assert kinds["code"] >= 100 and kinds["doc"] >= 10
    for d in docs:
        assert d.tokens >= 7000, (d.id, d.tokens)  # every document can open a default conversation alone


def test_every_document_names_its_source_and_a_permissive_licence():
    listing = resources.files("loadgen.data").joinpath("CORPUS.md").read_text()
    for d in default_corpus().documents:
        assert d.source and all(part.strip() in PERMISSIVE for part in d.license.split("/")), (d.id, d.license)
        assert f"| {d.id} |" in listing


def test_corpus_stays_small_enough_to_ship():
    size = len(resources.files("loadgen.data").joinpath("corpus.jsonl").read_bytes())
    assert size < 4.5e6


@pytest.mark.parametrize("target", [500, 4000, 6000, 8000, 20000])
def test_opening_length_follows_the_target(target):
    corpus = default_corpus()
    rng = random.Random(target)
    for _ in range(20):
        opening = corpus.opening(rng, target)
        tokens = estimate_tokens(opening.text, opening.document.chars_per_token)
        assert 0.8 * target <= tokens <= target * 1.01, (opening.document.id, tokens)


def test_conversations_do_not_share_a_prefix_beyond_the_system_prompt():
    """Same document on two routers (A/B twins): the session id comes before the text."""
    opening = default_corpus().opening(random.Random(3), 6000)
    a, b = chat_opening("aaaaaaaaaaaa", opening), chat_opening("bbbbbbbbbbbb", opening)
    assert a[:9] == b[:9] == "[session " and a[9] != b[9]
    assert opening.text in a and SYSTEM_PROMPT


def test_follow_ups_ask_about_names_in_the_opening():
    corpus = default_corpus()
    rng = random.Random(5)
    for _ in range(30):
        opening = corpus.opening(rng, 6000)
        assert opening.anchors, opening.document.id
        question = template_question(opening.kind, opening.anchors, rng)
        assert len(question) < 120
        named = [a for a in opening.anchors if a in question]
        assert named or "summarise" in question.lower() or "document" in question.lower() or "refactor" in question.lower()
        assert all(a in opening.text for a in named)


def test_token_scale_learns_the_served_tokenizer():
    scale = TokenScale()
    for _ in range(30):  # the server counts half the tokens we estimated (a denser tokenizer)
        scale.observe("code", estimated_tokens=round(6000 / scale.of("code")), reported_tokens=3000)
    assert scale.of("code") == pytest.approx(2.0, rel=0.05) and scale.of("doc") == 1.0
    opening = default_corpus().opening(random.Random(1), 6000, scale)
    cpt = opening.document.chars_per_token * scale.of(opening.kind)
    assert estimate_tokens(opening.text, cpt) == pytest.approx(6000, rel=0.2)


def test_reasoning_prompts():
    prompts = default_corpus().prompts
    assert len(prompts) == 20 and len({p.prompt for p in prompts}) == 20
    assert all(p.expected_output_length >= 500 for p in prompts)
