"""A command typed without its user ("revoke") asks which user, and takes the person's next message as the
answer. The dialog's state lives in Redis (RedisStorage), keyed by conversation and person, so whichever
replica receives the answer continues it, and it survives a restart."""

from __future__ import annotations

from typing import Any

from botbuilder.core import MessageFactory, PrivateConversationState, TurnContext
from botbuilder.dialogs import (
    DialogSet,
    DialogTurnResult,
    DialogTurnStatus,
    PromptOptions,
    TextPrompt,
    WaterfallDialog,
    WaterfallStepContext,
)

from bot.commands.parse import safe_echo
from bot.teams.storage import RedisStorage

ASK_USER = "ask_user"
PROMPT = "user_prompt"
CANCEL_WORDS = {"cancel", "stop", "never mind", "nevermind"}


async def _ask(step: WaterfallStepContext) -> DialogTurnResult:
    syntax = str(step.options["syntax"])
    step.values["syntax"] = syntax
    question = (f"Which user should I `{syntax}`? Type their UPN (alice@contoso.com) or Entra object id, "
                "or `cancel`.")
    return await step.prompt(PROMPT, PromptOptions(prompt=MessageFactory.text(question)))


async def _answer(step: WaterfallStepContext) -> DialogTurnResult:
    answer = str(step.result or "").strip()
    if answer.lower() in CANCEL_WORDS:
        await step.context.send_activity(f"OK, no `{step.values['syntax']}`: nothing was done.")
        return await step.end_dialog(None)
    if len(answer) > 200:
        await step.context.send_activity(f"That is not a user: {safe_echo(answer)}. Nothing was done.")
        return await step.end_dialog(None)
    return await step.end_dialog(f"{step.values['syntax']} {answer}")


class AskUser:
    """Owns the dialog set and its Redis-backed state."""

    def __init__(self, storage: RedisStorage) -> None:
        self._state = PrivateConversationState(storage)
        self._dialogs = DialogSet(self._state.create_property("dialog_state"))
        self._dialogs.add(TextPrompt(PROMPT))
        self._dialogs.add(WaterfallDialog(ASK_USER, [_ask, _answer]))

    async def continue_pending(self, turn_context: TurnContext) -> tuple[bool, str | None]:
        """(handled, completed command): handled is True when this message answered a pending question."""
        dialog_context = await self._dialogs.create_context(turn_context)
        result = await dialog_context.continue_dialog()
        await self._state.save_changes(turn_context)
        if result.status == DialogTurnStatus.Empty:
            return False, None
        if result.status == DialogTurnStatus.Complete:
            return True, result.result
        return True, None

    async def start(self, turn_context: TurnContext, syntax: str) -> None:
        dialog_context = await self._dialogs.create_context(turn_context)
        options: dict[str, Any] = {"syntax": syntax}
        await dialog_context.begin_dialog(ASK_USER, options)
        await self._state.save_changes(turn_context)
