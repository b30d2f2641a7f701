"""GraphTenant's mailbox methods: inbox rules (Graph's messageRules on the Inbox folder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgraph import GraphServiceClient
from msgraph.generated.models.message_rule import MessageRule

from actions.graph import Operation, call_method, get_json, get_json_pages
from actions.graph_json import from_json

READ_RULES = Operation("read inbox rules", "MailboxSettings.Read")
WRITE_RULES = Operation("change inbox rules", "MailboxSettings.ReadWrite")
READ_FOLDERS = Operation("read mail folder names", "Mail.ReadBasic.All")
# What a rule is made of; everything else Graph returns (id, hasError, isReadOnly) is assigned by Exchange.
RULE_FIELDS = ("displayName", "sequence", "isEnabled", "conditions", "actions", "exceptions")


class GraphMail:
    _client: GraphServiceClient

    def _rules(self, user_id: str) -> Any:
        return self._client.users.by_user_id(user_id).mail_folders.by_mail_folder_id("inbox").message_rules

    async def list_inbox_rules(self, user_id: str) -> list[dict[str, Any]]:
        return await get_json_pages(READ_RULES, user_id, self._rules(user_id))

    async def get_mail_folder(self, user_id: str, folder: str) -> dict[str, Any]:
        """A folder's id and display name, by id or by well-known name ("archive", "deleteditems", …)."""
        builder = self._client.users.by_user_id(user_id).mail_folders.by_mail_folder_id(folder)
        query = builder.MailFolderItemRequestBuilderGetQueryParameters(select=["id", "displayName"])
        return await get_json(READ_FOLDERS, user_id, builder, query)

    async def get_inbox_rule(self, user_id: str, rule_id: str) -> dict[str, Any]:
        return await get_json(READ_RULES, user_id, self._rules(user_id).by_message_rule_id(rule_id))

    async def set_inbox_rule_enabled(self, user_id: str, rule_id: str, enabled: bool) -> str | None:
        builder = self._rules(user_id).by_message_rule_id(rule_id)
        body = MessageRule(is_enabled=enabled)

        _, request_id = await call_method(WRITE_RULES, user_id, builder.patch, body)
        return request_id

    async def create_inbox_rule(self, user_id: str, rule: Mapping[str, Any]) -> tuple[str, str | None]:
        """Create a rule from its Graph JSON (only RULE_FIELDS are sent); return the new rule's id."""
        builder = self._rules(user_id)
        body = from_json({k: rule[k] for k in RULE_FIELDS if rule.get(k) is not None}, MessageRule)

        created, request_id = await call_method(WRITE_RULES, user_id, builder.post, body)
        return str(created.id), request_id

    async def delete_inbox_rule(self, user_id: str, rule_id: str) -> str | None:
        builder = self._rules(user_id).by_message_rule_id(rule_id)

        _, request_id = await call_method(WRITE_RULES, user_id, builder.delete)
        return request_id
