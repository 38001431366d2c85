"""When a task runs: the safe condition language and the trigger rules.

`language` parses a condition with an `ast` whitelist into closures (never `eval`);
`runtime` holds the checked values those closures compute with; `workflow` parses a
workflow's conditions and checks each reads only upstream tasks; `trigger_rules` are the
Airflow-style rules over the dependencies' statuses.
"""

from deeptui.conditions.language import Condition, parse_condition
from deeptui.conditions.workflow import validate_workflow_conditions, workflow_conditions
from deeptui.conditions.trigger_rules import TRIGGER_RULE_MEANINGS, TRIGGER_RULES, trigger_rule_met

__all__ = ["TRIGGER_RULES", "TRIGGER_RULE_MEANINGS", "Condition", "parse_condition",
           "trigger_rule_met", "validate_workflow_conditions", "workflow_conditions"]
