"""Writes an ``llm`` logs database with ``llm``'s own Python API and a local model plugin.

``python tests/llm_logs.py OUT.db`` (with the ``llm`` to test installed) logs, through
``Response.log_to_db`` / ``ChainResponse.log_to_db`` as the ``llm`` command does:

1. a two-prompt conversation with a system prompt ("hello", then "again");
2. a tool chain: the model calls ``get_weather`` (which answers) and ``explode`` (which
   raises), then answers from the results.

tests/data/llm-0.27.1-logs.db was written by this script under llm 0.27.1 (the ``responses``
schema); the tests write a fresh one with the installed llm (the ``turns`` schema).
"""

from __future__ import annotations

import sys

import llm
import sqlite_utils
from llm.migrations import migrate


class Canned(llm.Model):
    """A local model with canned replies: echoes a prompt, or calls the tools it is given."""

    model_id = "canned"
    supports_tools = True
    can_stream = True

    def execute(self, prompt, stream, response, conversation):  # llm's plugin API
        if prompt.tool_results:
            yield "It is 14 °C in Paris; the other tool failed."
            response.set_usage(input=30, output=11)
        elif prompt.tools:
            yield "Let me check."
            for name, call_id in (("get_weather", "call_w"), ("explode", "call_x")):
                response.add_tool_call(
                    llm.ToolCall(name=name, arguments={"city": "Paris"}, tool_call_id=call_id)
                )
            response.set_usage(input=20, output=6)
        else:
            yield "Echo: " + (prompt.prompt or "")
            response.set_usage(input=3, output=4)


def get_weather(city: str) -> str:
    "Current weather for a city."
    return '{"temp": 14}'


def explode(city: str) -> str:
    "A tool that fails."
    raise ValueError(f"no sensor in {city}")


def write_logs(path: str) -> None:
    db = sqlite_utils.Database(path)
    migrate(db)  # as the llm command does before logging
    model = Canned()
    conversation = model.conversation()
    for text in ("hello", "again"):
        response = conversation.prompt(text, system="Be brief.")
        response.text()
        response.log_to_db(db)
    chain = model.chain("weather in Paris?", tools=[get_weather, explode])
    chain.text()
    chain.log_to_db(db)


if __name__ == "__main__":
    write_logs(sys.argv[1])
