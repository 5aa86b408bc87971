"""No chat-template tokens reach the document: real replies from the llama.cpp server the live
tests start (conftest), through provider → manager → store, as notebook 02 asks them.

Under ``--chat_format gemma`` the bundled pretrained Gemma wrote made-up turns as text
("... mendatanguser\\nWrite a story ..."); with ``scripts/gemma-base-chat.json`` a reply ends
where the answer does. Sampled replies (several seeds) as well as greedy ones: the leak showed
when sampling, as the notebook does.
"""

from __future__ import annotations

import re

import pytest

from streamwidget import Store, start
from streamwidget.providers.base import ChatRequest
from streamwidget.providers.models import resolve_model

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PROMPTS = [  # notebook 02's, and one that asks for a longer answer
    "In two sentences, what does a lighthouse keeper do?",
    "Write a long story about a lighthouse.",
    "Describe a lighthouse keeper's day in detail.",
]
#: Gemma's special tokens, its turn markers as text, and the Q/A template's own markers.
TEMPLATE_TOKENS = re.compile(
    r"<(?:start_of_turn|end_of_turn|bos|eos|pad)>"
    r"|(?:user|model)\s*\n"
    r"|(?:^|\n)\s*[QA]:"
)


def leaks(text: str) -> list[str]:
    return [m.group(0) for m in TEMPLATE_TOKENS.finditer(text)]


def test_the_pattern_finds_the_leak_seen_in_notebook_02() -> None:
    seen = "A lighthouse keeper works at night. mendatanguser\nWrite a story about a lighthouse."
    assert leaks(seen) == ["user\n"]
    assert leaks("<start_of_turn>model\nHi") == ["<start_of_turn>", "model\n"]
    assert leaks("Sure.\nQ: next?") == ["\nQ:"]
    assert leaks("The user manual is at the model shop.\nA modeler's A: grade.") == []


async def test_replies_carry_no_chat_template_tokens(llama_url: str) -> None:
    store = Store(":memory:")
    provider = resolve_model(f"openai:gemma@{llama_url}")
    samplings = [{"temperature": 0}] + [{"temperature": 0.8, "seed": s} for s in range(4)]
    replies = []
    for prompt in PROMPTS:
        for options in samplings:
            request = ChatRequest(
                messages=[{"role": "user", "content": prompt}],
                options={"max_tokens": 160, **options},
            )
            doc = await start(provider, request=request, store=store)
            assert doc.status == "complete", doc.error
            replies.append((prompt, options, doc.finish_reason, doc.text))
    found = [(p, o, text) for p, o, _, text in replies if leaks(text)]
    assert not found, "chat-template tokens in replies:\n" + "\n".join(map(repr, found))
    # replies are answers that end, not runs to the token limit
    assert all(text.strip() for *_, text in replies)
    ended = sum(reason == "stop" for _, _, reason, _ in replies)
    assert ended >= len(replies) - 2, [r[2] for r in replies]
    store.close()
