"""Signing in before a typed command's Confirm (delegated mode): a typed command is a message, which cannot be
answered with a sign-in request as a click can, so botbuilder's OAuthPrompt posts its sign-in card. Teams
exchanges silently (`signin/tokenExchange`, deduplicated by botbuilder's TeamsSSOTokenExchangeMiddleware) or, after
a sign-in by the link, sends `signin/verifyState`; either way the token service then holds the person's token,
which the Confirm click takes (bot/signin/handle.py). The token itself is dropped here: Riposte keeps none.

The prompt's state lives in Redis (RedisStorage), per conversation and person, like the ask-user dialog."""

from __future__ import annotations

from botbuilder.core import MessageFactory, PrivateConversationState, TurnContext
from botbuilder.dialogs import DialogSet, DialogTurnStatus, OAuthPrompt, OAuthPromptSettings, PromptOptions

from bot.teams.storage import RedisStorage

PROMPT = "sign_in"
TIMEOUT_MS = 15 * 60 * 1000  # botbuilder's default: a sign-in card older than this is ignored


class SignInFirst:
    """Owns the OAuthPrompt and its Redis-backed state."""

    def __init__(self, storage: RedisStorage, connection: str) -> None:
        self._state = PrivateConversationState(storage)
        self._dialogs = DialogSet(self._state.create_property("sign_in_state"))
        self._dialogs.add(OAuthPrompt(PROMPT, OAuthPromptSettings(
            connection_name=connection, title="Sign in", timeout=TIMEOUT_MS,
            text="Confirm runs with your own Entra rights: sign in first.")))

    async def start(self, turn_context: TurnContext, why: str) -> bool:
        """Post the sign-in card (unless the token service already holds this person's token: True)."""
        dialog_context = await self._dialogs.create_context(turn_context)
        result = await dialog_context.begin_dialog(PROMPT, PromptOptions(prompt=MessageFactory.text(why)))
        await self._state.save_changes(turn_context)
        return result.status == DialogTurnStatus.Complete and result.result is not None

    async def continue_invoke(self, turn_context: TurnContext) -> bool | None:
        """A `signin/tokenExchange` or `signin/verifyState` for the pending prompt: whether it signed them in (the
        prompt answers the invoke itself); None when no sign-in card is pending for this person here."""
        dialog_context = await self._dialogs.create_context(turn_context)
        result = await dialog_context.continue_dialog()
        await self._state.save_changes(turn_context)
        if result.status == DialogTurnStatus.Empty:
            return None
        return result.status == DialogTurnStatus.Complete and result.result is not None
