"""Running the rules: every target's and the topology's own target's, with the accept list applied."""

from __future__ import annotations

from ..pipeline import Checked
from ..targets import TARGETS, target_of
from .rule import SEVERITIES, Finding, Result, Rule
from .shared import SHARED_RULES


def _every_rule() -> tuple[Rule, ...]:
    """Each rule once, in id order: what --list-rules shows and what an accept entry may name."""
    rules = {rule.id: rule for rule in SHARED_RULES}
    for target in TARGETS.values():
        rules.update((rule.id, rule) for rule in target.lint_rules)
    return tuple(rules[rule_id] for rule_id in sorted(rules))


RULES = _every_rule()
RULES_BY_ID = {rule.id: rule for rule in RULES}


def run_lint(checked: Checked) -> list[Result]:
    """Every finding of every rule, located, with the topology's accept list applied, sorted by position."""
    accepted = {entry["rule"]: (index, entry["reason"]) for index, entry in enumerate(checked.document.get("lint", {}).get("accept", []))}
    results, fired = [], set()
    for rule in (*SHARED_RULES, *target_of(checked.cluster).lint_rules):
        for finding in rule.check(checked):
            fired.add(rule.id)
            reason = accepted[rule.id][1] if rule.id in accepted else None
            results.append(_located(checked, rule, finding, reason))
    for rule_id, (index, _) in accepted.items():
        path = ("lint", "accept", index, "rule")
        if rule_id not in RULES_BY_ID:
            finding = Finding(path, f"{rule_id} is no rule of harborgen lint", "this entry accepts nothing",
                              "correct the id (harborgen lint --list-rules) or remove the entry")
            results.append(_located(checked, RULES_BY_ID["HG001"], finding, None))
        elif rule_id not in fired:
            finding = Finding(path, f"{rule_id} ({RULES_BY_ID[rule_id].title}) does not fire on this topology",
                              "the entry would silence a later finding of that rule without review", "remove the entry")
            results.append(_located(checked, RULES_BY_ID["HG000"], finding, None))
    return sorted(results, key=lambda result: (result.line, result.column, result.rule.id))


def _located(checked: Checked, rule: Rule, finding: Finding, reason: str | None) -> Result:
    line, column = checked.located.position(finding.path)
    return Result(checked.located.file, line, column, rule, finding, reason)


def counts(results: list[Result]) -> dict[str, int]:
    tally = {severity: 0 for severity in (*SEVERITIES, "accepted")}
    for result in results:
        tally[result.severity] += 1
    return tally
