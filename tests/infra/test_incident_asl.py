"""``statemachines/incident.asl.json`` checked as cfn-lint cannot (it does not read a ``DefinitionUri`` file): every
state reachable and every transition landing on a state, every Task retried and caught, every ``${...}`` one of
the template's ``DefinitionSubstitutions`` and every substitution used. It is executed in
``tests/security/test_incident_workflow.py``; this file also proves the checks catch what they look for."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from infra import template as tpl

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachines" / "incident.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
TERMINAL = {"Succeed", "Fail"}


def machine() -> dict:
    resource = tpl.load()["Resources"]["IncidentStateMachine"]
    assert resource["Type"] == "AWS::Serverless::StateMachine"
    assert resource["Properties"]["DefinitionUri"] == "statemachines/incident.asl.json"
    return resource["Properties"]


def targets(state: dict) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [choice["Next"] for choice in state.get("Choices", [])]
    found += [state["Default"]] if "Default" in state else []
    found += [catch["Next"] for catch in state.get("Catch", [])]
    return found


def problems(definition: dict, path: str = "") -> list[str]:
    """What is wrong with a (sub-)machine: unknown targets, unreachable states, dead ends, Tasks without Retry or
    Catch (or a Catch that lets some error through), and the same inside Parallel branches."""
    states, found = definition["States"], []
    if definition["StartAt"] not in states:
        found.append(f"{path}StartAt names no state")
    for name, state in states.items():
        where = f"{path}{name}"
        found += [f"{where} -> {target}: no such state" for target in targets(state) if target not in states]
        ends = state["Type"] in TERMINAL or state.get("End") is True or state["Type"] == "Choice"
        if not ends and "Next" not in state:
            found.append(f"{where}: neither Next nor End")
        if state["Type"] == "Choice" and "Default" not in state:
            found.append(f"{where}: a Choice without Default")
        if state["Type"] in ("Task", "Parallel", "Map"):
            if state["Type"] == "Task" and not state.get("Retry"):
                found.append(f"{where}: a Task without Retry")
            if not any("States.ALL" in catch["ErrorEquals"] for catch in state.get("Catch", [])):
                found.append(f"{where}: no Catch for States.ALL")
        for n, branch in enumerate(state.get("Branches", [])):
            found += problems(branch, f"{where}[{n}].")
    seen, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo += targets(states[name])
    found += [f"{path}{name}: unreachable" for name in states if name not in seen]
    return found


def test_every_state_is_reachable_and_every_task_retries_and_catches():
    assert problems(json.loads(ASL.read_text())) == []


def test_every_placeholder_is_substituted_and_every_substitution_used():
    text = ASL.read_text()
    used = set(PLACEHOLDER.findall(text))
    substitutions = machine()["DefinitionSubstitutions"]
    assert used == set(substitutions)
    resources = tpl.load()["Resources"]
    for name, value in substitutions.items():  # each the deployed alias of one of the template's incident functions
        logical, _, alias = value["Ref"].partition(".")
        assert alias == "Alias", name
        assert resources[logical]["Type"] == "AWS::Serverless::Function"
        assert resources[logical]["Properties"]["Handler"].startswith("incidents.")


def test_the_state_machine_may_invoke_exactly_its_functions_and_logs_no_execution_data():
    properties = machine()
    invoked = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in properties["Policies"] if "LambdaInvokePolicy" in p
    }
    substituted = {value["Ref"].removesuffix(".Alias") for value in properties["DefinitionSubstitutions"].values()}
    assert invoked == substituted
    assert properties["Logging"]["IncludeExecutionData"] is False  # execution data names people


def test_the_72_hour_watch_waits_for_the_deadline_from_the_input():
    respond = json.loads(ASL.read_text())["States"]["Respond"]
    watch = next(branch for branch in respond["Branches"] if "WaitForNoticeDeadline" in branch["States"])
    assert watch["States"]["WaitForNoticeDeadline"] == {
        **watch["States"]["WaitForNoticeDeadline"],
        "Type": "Wait",
        "TimestampPath": "$.notify_deadline",
    }


def test_the_regular_updates_loop_on_a_wait_of_the_input_until_the_incident_is_resolved():
    respond = json.loads(ASL.read_text())["States"]["Respond"]
    (updates,) = [branch for branch in respond["Branches"] if "SendUpdate" in branch["States"]]
    states = updates["States"]
    assert states["UpdatesNeeded"]["Choices"][0]["Variable"] == "$.assessment.needs_notice"  # after a notice only
    assert states["WaitForUpdate"]["SecondsPath"] == "$.update_interval_seconds"
    assert states["SendUpdate"]["Resource"] == "${NotifyFunctionArn}"
    assert states["SendUpdate"]["Parameters"]["period.$"] == "$.updates.period"  # a redelivery names its period
    assert states["SendUpdate"]["Next"] == "StillOpen" and states["UpdateFailed"]["Next"] == "WaitForUpdate"
    (still_open,) = states["StillOpen"]["Choices"]
    assert (still_open["Variable"], still_open["Next"]) == ("$.updates.open", "WaitForUpdate")
    assert states["StillOpen"]["Default"] == "UpdatesDone" and states["UpdatesDone"]["Type"] == "Succeed"
    # the interval every execution starts with: 24 hours, declared by the template
    variables = tpl.load()["Resources"]["IncidentDetectFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["INCIDENT_UPDATE_SECONDS"] == "86400"


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda d: d["States"]["Contain"].pop("Retry"), "Contain: a Task without Retry"),
        (lambda d: d["States"]["Assess"].pop("Catch"), "Assess: no Catch for States.ALL"),
        (lambda d: d["States"]["Classify"]["Choices"].pop(0), "Contain: unreachable"),
        (lambda d: d["States"]["Alert"].update(Next="Nowhere"), "Alert -> Nowhere: no such state"),
        (
            lambda d: d["States"]["Respond"]["Branches"][0]["States"]["Notify"].pop("Retry"),
            "Respond[0].Notify: a Task without Retry",
        ),
        (
            lambda d: d["States"]["Respond"]["Branches"][2]["States"]["SendUpdate"].pop("Catch"),
            "Respond[2].SendUpdate: no Catch for States.ALL",
        ),
    ],
)
def test_the_checks_catch_a_broken_definition(break_it, expected):
    definition = copy.deepcopy(json.loads(ASL.read_text()))
    break_it(definition)
    assert expected in problems(definition)


# ------------------------------------------------------------------------------------------------ the template
def incident_functions() -> dict[str, dict]:
    return {
        name: resource["Properties"]
        for name, resource in tpl.load()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource["Properties"]["Handler"].startswith("incidents.")
    }


def statements(properties: dict) -> list[dict]:
    return [s for policy in properties.get("Policies", []) if "Statement" in policy for s in policy["Statement"]]


def test_incident_functions_touch_incident_records_directly_and_company_data_only_through_the_tenant_role():
    functions = incident_functions()
    assert set(functions) == {
        "IncidentDetectFunction",
        "IncidentContainFunction",
        "IncidentAssessFunction",
        "IncidentNotifyFunction",
        "IncidentStepFunction",
    }
    for name, properties in functions.items():
        for statement in statements(properties):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(action.startswith("dynamodb:") for action in actions):
                keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                assert keys in (["INCIDENT#*"], ["RL#block#*"]), name  # never a company's partition
            assert "*" not in str(statement["Resource"]), name


def test_the_functions_that_mail_owners_may_read_the_mailgun_keys():
    functions = incident_functions()
    for name in ("IncidentNotifyFunction", "IncidentStepFunction"):  # the notice and updates; the closing update
        readers = [s for s in statements(functions[name]) if "secretsmanager:GetSecretValue" in s["Action"]]
        assert [s["Resource"] for s in readers] == [{"Ref": "MailgunKeys"}], name


def test_only_the_workflow_pages_on_call_through_an_encrypted_topic():
    resources = tpl.load()["Resources"]
    assert resources["OnCallTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    publishers = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for statement in statements(resource["Properties"])
        if "sns:Publish" in statement["Action"]
    }
    assert publishers == {"IncidentStepFunction"}


def test_only_new_security_signals_wake_the_detector():
    detect = incident_functions()["IncidentDetectFunction"]
    (event,) = detect["Events"].values()
    assert event["Type"] == "DynamoDB" and event["Properties"]["StartingPosition"] == "LATEST"
    (pattern,) = event["Properties"]["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"record_type": {"S": ["security_signal"]}}},
    }
    assert detect["Environment"]["Variables"]["INCIDENT_STATE_MACHINE"] == {"Ref": "IncidentStateMachine"}
