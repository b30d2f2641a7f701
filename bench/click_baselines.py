"""The two baselines bench/click_latency.py sets Riposte beside, each its own process answering Teams'
`adaptiveCard/action` invoke on POST /api/messages with a fixed card (the card Riposte answered in the same run):

  botbuilder   a bare botbuilder 4.17.1 bot as the SDK's samples build it: CloudAdapter with
               ConfigurationBotFrameworkAuthentication (no app id: anonymous, like Riposte's
               RIPOSTE_ALLOW_UNAUTHENTICATED in the benchmark) and an ActivityHandler answering the invoke with the
               card; stock botbuilder, none of Riposte's patches (bot/teams/adapter.py)
  plain        a plain aiohttp handler: parse the JSON, check it is that invoke, answer the invoke response

    .venv/bin/python bench/click_baselines.py botbuilder|plain PORT CARD_FILE
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aiohttp import web

CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def botbuilder_app(card: dict[str, Any]) -> web.Application:
    from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import AdaptiveCardInvokeResponse

    class Config:
        APP_ID = ""
        APP_PASSWORD = ""
        APP_TYPE = "MultiTenant"
        APP_TENANTID = ""

    class FixedCardBot(ActivityHandler):  # type: ignore[misc]
        # Not on_adaptive_card_invoke: in 4.17.1 ActivityHandler serialises its answer to a dict and CloudAdapter
        # serialises that again, which fails ('dict' object has no attribute 'is_xml_model'; microsoft/teams-sdk
        # issue 2547). Answering from on_invoke_activity with the model, as Riposte's handler does, works.
        async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
            if turn_context.activity.name != "adaptiveCard/action":
                return await super().on_invoke_activity(turn_context)
            return InvokeResponse(status=200, body=AdaptiveCardInvokeResponse(status_code=200, type=CARD_TYPE,
                                                                              value=card))

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = FixedCardBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await adapter.process(request, bot)
        return response

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


def plain_app(card: dict[str, Any]) -> web.Application:
    answer = json.dumps({"statusCode": 200, "type": CARD_TYPE, "value": card}).encode()

    async def messages(request: web.Request) -> web.Response:
        try:
            activity = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "not JSON"}, status=400)
        if not isinstance(activity, dict) or activity.get("type") != "invoke" or \
                activity.get("name") != "adaptiveCard/action":
            return web.json_response({"error": "not an adaptiveCard/action invoke"}, status=400)
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    kind, port, card_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(card_file) as source:
        card = json.load(source)
    app = botbuilder_app(card) if kind == "botbuilder" else plain_app(card)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
