"""The output items of the OpenAI Responses API by who runs them: the server (web search, code
interpreter, ...), or the app (built-in tools such as shell or apply_patch); and what a
finished item says a call was asked and found. Used by :mod:`.responses_fold`."""

from __future__ import annotations

from typing import Any

from .history_wires import call_parts

#: Output item types the server runs itself, and the tool name shown for each.
SERVER_ITEMS = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation",
    "mcp_call": "mcp",
}
#: Built-in tools the model asks the *app* to run (finish ``tool_calls``), and their names.
APP_ITEMS = {
    "custom_tool_call": "custom",
    "local_shell_call": "local_shell",
    "shell_call": "shell",
    "apply_patch_call": "apply_patch",
}
#: Output items of calls the server ran in its container.
OUTPUT_ITEMS = frozenset({"shell_call_output"})
#: Prefixes of the progress events of server-run items (their end item carries everything).
SERVER_PROGRESS = (
    *(f"response.{t}" for t in SERVER_ITEMS),
    "response.code_interpreter_call_code.",
    "response.custom_tool_call_input.",
    "response.shell_call_command.",
    "response.shell_call_output_content.",
    "response.apply_patch_call_operation_diff.",
)


def in_container(raw: dict[str, Any]) -> bool:
    """A shell call OpenAI runs in its hosted container (not on the app's machine)."""
    environment = raw.get("environment")
    kind = environment.get("type") if isinstance(environment, dict) else None
    return raw.get("type") in APP_ITEMS and str(kind or "").startswith("container")


def app_arguments(itype: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a call of a built-in tool the app runs, from its finished item."""
    if itype == "custom_tool_call":
        return {"input": raw.get("input")}
    if itype == "apply_patch_call":
        return {"operation": raw.get("operation")}
    action = raw.get("action")
    return action if isinstance(action, dict) else {}


def server_call(itype: str, raw: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """What a server-run call was asked, and what it found, from its finished item."""
    if itype == "web_search_call":
        action = dict(raw.get("action") or {})
        sources = action.pop("sources", None)
        return action, {"sources": sources} if sources is not None else None
    if itype == "file_search_call":
        return {"queries": raw.get("queries")}, raw.get("results")
    if itype == "code_interpreter_call":
        return {"code": raw.get("code"), "container_id": raw.get("container_id")}, raw.get(
            "outputs"
        )
    if itype == "mcp_call":
        _, _, args = call_parts({"arguments": raw.get("arguments")})
        return {"server_label": raw.get("server_label"), **args}, raw.get("output")
    if itype == "image_generation_call":
        return {}, raw.get("result")
    rest = {k: v for k, v in raw.items() if k not in ("id", "type", "status")}
    return rest, None
