"""Automation rules: what each condition matches, the default rule, and a policy file's rules refused when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.access.policy import PolicyError, load_policy
from bot.automation.rules import AutomationRule, default_rule, first_match
from bot.intake.alerts import Alert, Evidence, parse_alert

NATIVE = Alert(id="a", source="defender", title="Impossible travel to 203.0.113.7", severity="high",
               user="alice@contoso.com", category="InitialAccess", confidence="high",
               evidence=(Evidence("ip", "203.0.113.7"),))
GRAPH_BODY = {
    "@odata.type": "#microsoft.graph.security.alert", "id": "g1", "title": "Atypical travel",
    "severity": "high", "category": "InitialAccess", "detectionSource": "azureAdIdentityProtection",
    "evidence": [{"@odata.type": "#microsoft.graph.security.userEvidence",
                  "userAccount": {"userPrincipalName": "alice@contoso.com"}}],
}


def test_the_default_rule_is_the_behaviour_before_rules() -> None:
    rule = default_rule(["revoke_sessions"])
    assert rule.matches(NATIVE) and rule.actions == ("revoke_sessions",)
    assert rule.matches(NATIVE.model_copy(update={"severity": "critical"}))
    assert not rule.matches(NATIVE.model_copy(update={"confidence": "medium"}))
    assert not rule.matches(NATIVE.model_copy(update={"severity": "medium"}))
    graph = parse_alert(GRAPH_BODY)
    assert graph.origin == "graph" and graph.confidence == ""
    assert not rule.matches(graph), "a Graph alert has no confidence: the default rule never takes it"


def test_each_condition() -> None:
    assert AutomationRule("t", title="impossible TRAVEL").matches(NATIVE)
    assert not AutomationRule("t", title="^travel").matches(NATIVE)
    assert AutomationRule("s", origins=("native",)).matches(NATIVE)
    assert not AutomationRule("s", origins=("graph",)).matches(NATIVE)
    assert AutomationRule("d", detection_sources=("defender", "mcas")).matches(NATIVE)
    assert AutomationRule("c", categories=("initialaccess",)).matches(NATIVE)
    assert not AutomationRule("c", categories=("exfiltration",)).matches(NATIVE)
    assert AutomationRule("e", evidence=("ip",)).matches(NATIVE)
    assert not AutomationRule("e", evidence=("ip", "inbox_rule")).matches(NATIVE), "every kind listed"
    assert not AutomationRule("v", min_severity="critical").matches(NATIVE)
    graph = parse_alert(GRAPH_BODY)
    graph_rule = AutomationRule("g", origins=("graph",), detection_sources=("azureadidentityprotection",),
                                title="travel", min_severity="high")
    assert graph_rule.matches(graph)
    assert not AutomationRule("g", origins=("graph",), min_confidence="low").matches(graph)


def test_first_matching_rule_wins() -> None:
    rules = [AutomationRule("never", title="nothing like this"), AutomationRule("first", min_severity="low"),
             AutomationRule("second")]
    assert (rule := first_match(rules, NATIVE)) is not None and rule.name == "first"
    assert first_match(rules[:1], NATIVE) is None


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_rules_are_read_from_the_policy_file_in_order(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, '''
[[automation.rules]]
name = "impossible travel"
source = "graph"
detection_source = "azureAdIdentityProtection"
title = "impossible travel|atypical travel"
min_severity = "medium"
actions = ["revoke_sessions", "block_signin"]

[[automation.rules]]
name = "forwarding"
category = ["Exfiltration", "InitialAccess"]
evidence = ["inbox_rule"]
min_confidence = "high"
'''))
    first, second = policy.automation_rules
    assert first.name == "impossible travel" and first.actions == ("revoke_sessions", "block_signin")
    assert first.origins == ("graph",) and first.matches(parse_alert(GRAPH_BODY))
    assert second.actions == () and second.evidence == ("inbox_rule",)


@pytest.mark.parametrize(("toml", "problem"), [
    ('[[automation.rules]]\nactions = ["revoke_sessions"]\n', "needs a name"),
    ('[[automation.rules]]\nname = "x"\nactions = ["reset_password"]\n', "needs a person"),
    ('[[automation.rules]]\nname = "x"\nactions = ["enable_account_please"]\n', "is not an action"),
    ('[[automation.rules]]\nname = "x"\nactions = ["delete_inbox_rule"]\n', "one listed item"),
    ('[[automation.rules]]\nname = "x"\ntitle = "(unclosed"\n', "not a regular expression"),
    ('[[automation.rules]]\nname = "x"\nmin_severity = "severe"\n', "min_severity must be one of"),
    ('[[automation.rules]]\nname = "x"\nsource = "email"\n', "source email unknown"),
    ('[[automation.rules]]\nname = "x"\nevidence = ["cookie"]\n', "evidence cookie unknown"),
    ('[[automation.rules]]\nname = "x"\nseverity = "high"\n', "unknown key(s) severity"),
    ('[[automation.rules]]\nname = "x"\n[[automation.rules]]\nname = "X"\n', "names must be unique"),
    ('[automation]\nenabled = true\n', "may hold only [[automation.rules]]"),
])
def test_a_wrong_rule_is_refused_saying_what_is_wrong(tmp_path: Path, toml: str, problem: str) -> None:
    with pytest.raises(PolicyError) as refused:
        load_policy(write(tmp_path, toml))
    assert problem in str(refused.value)


def test_the_readme_example_policy_file_loads_and_means_what_it_says(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("An example policy file:", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    loaded = load_policy(write(tmp_path, example))
    assert [rule.name for rule in loaded.automation_rules] == ["identity protection", "impossible travel",
                                                               "confident"]
    graph = parse_alert(GRAPH_BODY)
    assert (rule := first_match(loaded.automation_rules, graph)) is not None and rule.name == "identity protection"
    assert (rule := first_match(loaded.automation_rules, NATIVE)) is not None and rule.name == "impossible travel"
