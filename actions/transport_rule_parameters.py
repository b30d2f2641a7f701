"""New-TransportRule's parameters in Exchange Online, as data: what restoring a transport rule may send, and what
the sandbox's Exchange accepts.

From the cmdlet reference (MicrosoftDocs/office-docs-powershell, exchange-ps/ExchangePowerShell/New-TransportRule.md):
every parameter whose "Applicable" line names Exchange Online, less the common -Confirm and -WhatIf. Get-TransportRule
returns much more (Guid, Identity, Conditions, Actions, State, DlpPolicyId, SenderNotificationType...), which
New-TransportRule refuses: "A parameter cannot be found that matches parameter name ...".
"""

from __future__ import annotations

# Accepted by Exchange Online, but the reference says each is "functional only in on-premises Exchange" (or only
# on Edge Transport servers): restoring never sends them, since they do nothing in Exchange Online.
ON_PREMISES_ONLY: frozenset[str] = frozenset({
    "Disconnect", "DlpPolicy", "ExceptIfHasSenderOverride", "ExceptIfMessageContainsDataClassifications",
    "HasSenderOverride", "LogEventText", "MessageContainsDataClassifications", "NotifySender",
    "SmtpRejectMessageRejectStatusCode", "SmtpRejectMessageRejectText",
})

# Every New-TransportRule parameter Exchange Online takes (Name is the rule's name; Enabled comes from State).
NEW_TRANSPORT_RULE: frozenset[str] = frozenset({
    "ActivationDate", "ADComparisonAttribute", "ADComparisonOperator", "AddManagerAsRecipientType",
    "AddToRecipients", "AnyOfCcHeader", "AnyOfCcHeaderMemberOf", "AnyOfRecipientAddressContainsWords",
    "AnyOfRecipientAddressMatchesPatterns", "AnyOfToCcHeader", "AnyOfToCcHeaderMemberOf", "AnyOfToHeader",
    "AnyOfToHeaderMemberOf", "ApplyClassification", "ApplyHtmlDisclaimerFallbackAction",
    "ApplyHtmlDisclaimerLocation", "ApplyHtmlDisclaimerText", "ApplyOME",
    "ApplyRightsProtectionCustomizationTemplate", "ApplyRightsProtectionTemplate", "AttachmentContainsWords",
    "AttachmentExtensionMatchesWords", "AttachmentHasExecutableContent", "AttachmentIsPasswordProtected",
    "AttachmentIsUnsupported", "AttachmentMatchesPatterns", "AttachmentNameMatchesPatterns",
    "AttachmentProcessingLimitExceeded", "AttachmentPropertyContainsWords", "AttachmentSizeOver",
    "BetweenMemberOf1", "BetweenMemberOf2", "BlindCopyTo", "Comments", "ContentCharacterSetContainsWords",
    "CopyTo", "DeleteMessage", "Disconnect", "DlpPolicy", "Enabled", "ExceptIfADComparisonAttribute",
    "ExceptIfADComparisonOperator", "ExceptIfAnyOfCcHeader", "ExceptIfAnyOfCcHeaderMemberOf",
    "ExceptIfAnyOfRecipientAddressContainsWords", "ExceptIfAnyOfRecipientAddressMatchesPatterns",
    "ExceptIfAnyOfToCcHeader", "ExceptIfAnyOfToCcHeaderMemberOf", "ExceptIfAnyOfToHeader",
    "ExceptIfAnyOfToHeaderMemberOf", "ExceptIfAttachmentContainsWords",
    "ExceptIfAttachmentExtensionMatchesWords", "ExceptIfAttachmentHasExecutableContent",
    "ExceptIfAttachmentIsPasswordProtected", "ExceptIfAttachmentIsUnsupported",
    "ExceptIfAttachmentMatchesPatterns", "ExceptIfAttachmentNameMatchesPatterns",
    "ExceptIfAttachmentProcessingLimitExceeded", "ExceptIfAttachmentPropertyContainsWords",
    "ExceptIfAttachmentSizeOver", "ExceptIfBetweenMemberOf1", "ExceptIfBetweenMemberOf2",
    "ExceptIfContentCharacterSetContainsWords", "ExceptIfFrom", "ExceptIfFromAddressContainsWords",
    "ExceptIfFromAddressMatchesPatterns", "ExceptIfFromMemberOf", "ExceptIfFromScope",
    "ExceptIfHasClassification", "ExceptIfHasNoClassification", "ExceptIfHasSenderOverride",
    "ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords", "ExceptIfHeaderMatchesMessageHeader",
    "ExceptIfHeaderMatchesPatterns", "ExceptIfManagerAddresses", "ExceptIfManagerForEvaluatedUser",
    "ExceptIfMessageContainsDataClassifications", "ExceptIfMessageSizeOver", "ExceptIfMessageTypeMatches",
    "ExceptIfRecipientADAttributeContainsWords", "ExceptIfRecipientADAttributeMatchesPatterns",
    "ExceptIfRecipientAddressContainsWords", "ExceptIfRecipientAddressMatchesPatterns",
    "ExceptIfRecipientDomainIs", "ExceptIfRecipientInSenderList", "ExceptIfSCLOver",
    "ExceptIfSenderADAttributeContainsWords", "ExceptIfSenderADAttributeMatchesPatterns",
    "ExceptIfSenderDomainIs", "ExceptIfSenderInRecipientList", "ExceptIfSenderIpRanges",
    "ExceptIfSenderManagementRelationship", "ExceptIfSentTo", "ExceptIfSentToMemberOf", "ExceptIfSentToScope",
    "ExceptIfSubjectContainsWords", "ExceptIfSubjectMatchesPatterns", "ExceptIfSubjectOrBodyContainsWords",
    "ExceptIfSubjectOrBodyMatchesPatterns", "ExceptIfWithImportance", "ExpiryDate", "From",
    "FromAddressContainsWords", "FromAddressMatchesPatterns", "FromMemberOf", "FromScope",
    "GenerateIncidentReport", "GenerateNotification", "HasClassification", "HasNoClassification",
    "HasSenderOverride", "HeaderContainsMessageHeader", "HeaderContainsWords", "HeaderMatchesMessageHeader",
    "HeaderMatchesPatterns", "IncidentReportContent", "LogEventText", "ManagerAddresses",
    "ManagerForEvaluatedUser", "MessageContainsDataClassifications", "MessageSizeOver", "MessageTypeMatches",
    "Mode", "ModerateMessageByManager", "ModerateMessageByUser", "Name", "NotifySender", "PrependSubject",
    "Priority", "Quarantine", "RecipientADAttributeContainsWords", "RecipientADAttributeMatchesPatterns",
    "RecipientAddressContainsWords", "RecipientAddressMatchesPatterns", "RecipientAddressType",
    "RecipientDomainIs", "RecipientInSenderList", "RedirectMessageTo", "RejectMessageEnhancedStatusCode",
    "RejectMessageReasonText", "RemoveHeader", "RemoveOME", "RemoveOMEv2", "RemoveRMSAttachmentEncryption",
    "RouteMessageOutboundConnector", "RouteMessageOutboundRequireTls", "RuleErrorAction", "RuleSubType",
    "SCLOver", "SenderADAttributeContainsWords", "SenderADAttributeMatchesPatterns", "SenderAddressLocation",
    "SenderDomainIs", "SenderInRecipientList", "SenderIpRanges", "SenderManagementRelationship", "SentTo",
    "SentToMemberOf", "SentToScope", "SetAuditSeverity", "SetHeaderName", "SetHeaderValue", "SetSCL",
    "SmtpRejectMessageRejectStatusCode", "SmtpRejectMessageRejectText", "StopRuleProcessing",
    "SubjectContainsWords", "SubjectMatchesPatterns", "SubjectOrBodyContainsWords",
    "SubjectOrBodyMatchesPatterns", "UseLegacyRegex", "WithImportance",
})

# What a restore sends: the parameters that mean something in Exchange Online.
RESTORABLE: frozenset[str] = NEW_TRANSPORT_RULE - ON_PREMISES_ONLY
