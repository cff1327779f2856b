"""A scenario test per default rule and per release path (data/rulesets/default.json via domain.status).

Every scenario runs in Asia/Shanghai with fixed clocks. The trigger ``T`` is 00:30 local on 4 May 2022,
which is still 3 May in UTC, so each rendered date shows whether it was computed in local time.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.features import iso
from civicpass.domain.rules.errors import RULE_EVALUATION_FAILED, RuleError
from civicpass.domain.rulesets import RuleSet, parse_ruleset
from civicpass.domain.status import REVIEW_AT_LEAST, REVIEW_WHILE_RAISED, Evaluation, evaluate

ZONE = ZoneInfo("Asia/Shanghai")
BUNDLED = bundled_ruleset()


def ruleset(yellow_release: str = "tests", **parameters: Any) -> RuleSet:
    document = copy.deepcopy(BUNDLED)
    document["parameters"] = {**document["parameters"], "yellow_release": yellow_release, **parameters}
    return parse_ruleset(document)


TESTS = ruleset("tests")
CHECKINS = ruleset("checkins")


def local(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A moment in May 2022, Shanghai time."""
    return datetime(2022, 5, day, hour, minute, second, tzinfo=ZONE)


T = local(4, 0, 30)  # 2022-05-03T16:30:00Z
assert T.astimezone(UTC).date().isoformat() == "2022-05-03"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
_ids = itertools.count(1)


def fact(
    kind: FactKind,
    at: datetime,
    data: Mapping[str, Any] | None = None,
    *,
    state: FactState = FactState.ACTIVE,
    expires: datetime | None = None,
) -> Fact:
    return Fact(
        id=f"fact-{next(_ids)}",
        subject_id="r-1",
        kind=kind,
        data=dict(data or {}),
        source=FactSource.STAFF,
        authority="s-1",
        effective_at=at,
        expires_at=expires,
        recorded_at=at,
        state=state,
    )


def negative_test(sampled: datetime, result: str = "negative") -> Fact:
    data = {"test": "pcr", "result": result, "sampled_at": iso(sampled)}
    return fact(FactKind.TEST_RESULT, sampled, data)


def checkin(
    at: datetime, temperature: float = 36.5, *, feels_well: bool = True, symptoms: Sequence[str] = ()
) -> Fact:
    data = {"temperature_c": temperature, "feels_well": feels_well, "symptoms": list(symptoms)}
    return fact(FactKind.DAILY_CHECKIN, at, data, expires=at + 14 * DAY)


def case(classification: str, at: datetime = T) -> Fact:
    return fact(FactKind.CASE, at, {"classification": classification})


def declaration(at: datetime = T) -> Fact:
    data = {"temperature_c": 38.2, "symptoms": ["fever", "cough"]}
    return fact(FactKind.HEALTH_DECLARATION, at, data, expires=at + 14 * DAY)


def arrival(at: datetime = T, level: str = "medium") -> Fact:
    data = {"region": "420106", "level": level, "arrived_at": iso(at)}
    return fact(FactKind.RISK_AREA_ARRIVAL, at, data, expires=at + 21 * DAY)


def companion(at: datetime = T) -> Fact:
    return fact(FactKind.SPATIOTEMPORAL_COMPANION, at, {"venue_id": "v-1"})


def secondary(at: datetime = T) -> Fact:
    return fact(FactKind.SECONDARY_CONTACT, at, {"contact_of": "r-9"})


def close_contact(at: datetime = T) -> Fact:
    return fact(FactKind.CLOSE_CONTACT, at, {"case_id": "c-1"})


def isolation(until: datetime, at: datetime = T, place: str = "home") -> Fact:
    return fact(FactKind.ISOLATION_ORDER, at, {"place": place, "until": iso(until)})


def peer(color: str, at: datetime = T) -> Fact:
    return fact(FactKind.PEER_STATUS, at, {"issuer": "粤康码", "color": color})


def status(facts: Sequence[Fact], now: datetime, rules: RuleSet = TESTS) -> Evaluation:
    return evaluate(facts, rules, now, ZONE)


def fired(evaluation: Evaluation) -> list[str]:
    return [r.rule_id for r in evaluation.reasons]


# The four yellow triggers: (trigger maker, rule identifier without its -TESTS/-CHECKINS suffix).
YELLOW: dict[str, tuple[Callable[[datetime], Fact], str]] = {
    "declared_symptoms": (declaration, "YELLOW-DECLARED-SYMPTOMS"),
    "risk_area_arrival": (arrival, "YELLOW-RISK-AREA-ARRIVAL"),
    "spatiotemporal_companion": (companion, "YELLOW-SPATIOTEMPORAL-COMPANION"),
    "secondary_contact": (secondary, "YELLOW-SECONDARY-CONTACT"),
}
WINDOWED = ["risk_area_arrival", "spatiotemporal_companion", "secondary_contact"]


# --- every rule fires, with its color, reason code and texts in local dates ------------------------

FIRES: list[tuple[str, RuleSet, list[Fact], str, str, str, str]] = [
    (
        "RED-CASE-CONFIRMED",
        TESTS,
        [case("confirmed")],
        "red",
        "confirmed_case",
        "red: confirmed case since 2022-05-04",
        "红码：自2022-05-04起为确诊病例",
    ),
    (
        "RED-CASE-SUSPECTED",
        TESTS,
        [case("suspected")],
        "red",
        "suspected_case",
        "red: suspected case since 2022-05-04",
        "红码：自2022-05-04起为疑似病例",
    ),
    (
        "RED-CASE-ASYMPTOMATIC",
        TESTS,
        [case("asymptomatic")],
        "red",
        "asymptomatic_case",
        "red: asymptomatic infection since 2022-05-04",
        "红码：自2022-05-04起为无症状感染者",
    ),
    (
        "RED-CLOSE-CONTACT",
        TESTS,
        [close_contact()],
        "red",
        "close_contact",
        "red: close contact of a case since 2022-05-04",
        "红码：自2022-05-04起为病例的密切接触者",
    ),
    (
        "RED-ISOLATION-ORDER",
        TESTS,
        [isolation(until=datetime(2022, 5, 17, 16, 30, tzinfo=UTC))],  # 00:30 on 18 May, local
        "red",
        "isolation_order",
        "red: under a home isolation order until 2022-05-18 00:30",
        "红码：居家隔离至2022-05-18 00:30",
    ),
    (
        "RED-PEER-REGION",
        TESTS,
        [peer("red")],
        "red",
        "peer_red",
        "red: the health code of 粤康码 is red",
        "红码：粤康码健康码为红码",
    ),
    (
        "YELLOW-PEER-REGION",
        TESTS,
        [peer("yellow")],
        "yellow",
        "peer_yellow",
        "yellow: the health code of 粤康码 is yellow",
        "黄码：粤康码健康码为黄码",
    ),
    *(
        (
            f"YELLOW-DECLARED-SYMPTOMS-{suffix}",
            rules,
            [declaration()],
            "yellow",
            "declared_symptoms",
            "yellow: fever or symptoms declared on 2022-05-04",
            "黄码：于2022-05-04申报发热或有症状",
        )
        for suffix, rules in (("TESTS", TESTS), ("CHECKINS", CHECKINS))
    ),
    *(
        (
            f"YELLOW-RISK-AREA-ARRIVAL-{suffix}",
            rules,
            [arrival()],
            "yellow",
            "risk_area_arrival",
            "yellow: arrived from a medium-risk area (420106) on 2022-05-04",
            "黄码：于2022-05-04从420106（.+风险地区）抵达",
        )
        for suffix, rules in (("TESTS", TESTS), ("CHECKINS", CHECKINS))
    ),
    *(
        (
            f"YELLOW-SPATIOTEMPORAL-COMPANION-{suffix}",
            rules,
            [companion()],
            "yellow",
            "spatiotemporal_companion",
            "yellow: spatio-temporal companion of a case on 2022-05-04",
            "黄码：于2022-05-04与病例存在时空交集",
        )
        for suffix, rules in (("TESTS", TESTS), ("CHECKINS", CHECKINS))
    ),
    *(
        (
            f"YELLOW-SECONDARY-CONTACT-{suffix}",
            rules,
            [secondary()],
            "yellow",
            "secondary_contact",
            "yellow: contact of a close contact since 2022-05-04",
            "黄码：自2022-05-04起为密接的密接",
        )
        for suffix, rules in (("TESTS", TESTS), ("CHECKINS", CHECKINS))
    ),
]


def test_the_default_rule_set_has_15_rules_and_a_fires_scenario_for_each() -> None:
    identifiers = [r.identifier for r in TESTS.rules]
    assert len(identifiers) == 15
    assert sorted(row[0] for row in FIRES) == sorted(identifiers)


def test_the_default_rule_set_releases_yellow_by_tests_unless_told_otherwise() -> None:
    assert parse_ruleset(BUNDLED).parameters["yellow_release"] == "tests"


@pytest.mark.parametrize(
    ("rule_id", "rules", "facts", "color", "reason_code", "en", "zh"), FIRES, ids=[row[0] for row in FIRES]
)
def test_each_default_rule_fires_with_its_color_reason_and_local_date(
    rule_id: str, rules: RuleSet, facts: list[Fact], color: str, reason_code: str, en: str, zh: str
) -> None:
    result = status(facts, T + HOUR, rules)
    assert result.color == color
    assert fired(result) == [rule_id]
    reason = result.reasons[0]
    assert (reason.color, reason.reason_code, reason.rule_version) == (color, reason_code, "1.0.0")
    assert reason.text.en == en
    assert re.fullmatch(zh, reason.text.zh), reason.text.zh
    assert reason.release is not None
    assert reason.release.en
    assert reason.release.zh


def test_with_no_facts_the_code_is_green_without_reasons() -> None:
    result = status([], T)
    assert (result.color, result.reasons) == ("green", ())


def test_a_reason_serialises_with_both_languages_and_its_release_condition() -> None:
    reason = status([companion()], T + HOUR, CHECKINS).reasons[0]
    assert reason.as_dict() == {
        "rule_id": "YELLOW-SPATIOTEMPORAL-COMPANION-CHECKINS",
        "rule_version": "1.0.0",
        "color": "yellow",
        "reason_code": "spatiotemporal_companion",
        "text": {
            "zh-CN": "黄码：于2022-05-04与病例存在时空交集",
            "en": "yellow: spatio-temporal companion of a case on 2022-05-04",
        },
        "release": {
            "zh-CN": "连续7天健康打卡正常后转绿码（目前已连续0天）",
            "en": "turns green after 7 consecutive normal daily health check-ins (0 so far)",
        },
    }


@pytest.mark.parametrize(
    ("facts", "english"),
    [([arrival(level="medium")], "medium"), ([isolation(until=T + 14 * DAY, place="facility")], "facility")],
    ids=["arrival-level", "isolation-place"],
)
def test_zh_cn_reason_texts_contain_no_english_values(facts: list[Fact], english: str) -> None:
    reason = status(facts, T + HOUR).reasons[0]
    assert english in reason.text.en
    assert english not in reason.text.zh


def test_isolation_release_text_names_the_local_end_date() -> None:
    until = datetime(2022, 5, 17, 16, 30, tzinfo=UTC)  # 2022-05-18 00:30 in Shanghai
    release = status([isolation(until)], T + HOUR).reasons[0].release
    assert release is not None
    assert "2022-05-18" in release.en
    assert "2022-05-18" in release.zh


# --- red: cases ----------------------------------------------------------------------------------


@pytest.mark.parametrize("closing", ["recovered", "excluded"])
@pytest.mark.parametrize("classification", ["confirmed", "suspected", "asymptomatic"])
def test_case_stays_red_until_a_later_case_fact_closes_it(classification: str, closing: str) -> None:
    closed_at = T + 10 * DAY
    facts = [case(classification), case(closing, at=closed_at)]
    assert status(facts, closed_at - SECOND).color == "red"
    assert status(facts, closed_at).color == "green"
    assert status(facts, closed_at).reasons == ()


def test_a_recovery_recorded_before_the_case_does_not_release_it() -> None:
    facts = [case("recovered", at=T - DAY), case("confirmed")]
    assert fired(status(facts, T + HOUR)) == ["RED-CASE-CONFIRMED"]


def test_a_suspected_case_later_confirmed_shows_only_the_confirmed_reason() -> None:
    facts = [case("suspected"), case("confirmed", at=T + 2 * DAY)]
    assert fired(status(facts, T + 2 * DAY)) == ["RED-CASE-CONFIRMED"]
    assert fired(status(facts, T + 2 * DAY - SECOND)) == ["RED-CASE-SUSPECTED"]


# --- red: close contacts -------------------------------------------------------------------------


def test_close_contact_with_an_early_negative_test_turns_green_exactly_14_days_after_the_contact() -> None:
    facts = [close_contact(), negative_test(T + 3 * DAY)]
    assert status(facts, T + 3 * DAY).color == "red"
    assert status(facts, T + 14 * DAY - SECOND).color == "red"
    assert status(facts, T + 14 * DAY).color == "green"


def test_close_contact_stays_red_after_14_days_until_a_negative_test_then_turns_green() -> None:
    tested = T + 20 * DAY
    facts = [close_contact(), negative_test(tested)]
    assert status(facts[:1], T + 15 * DAY).color == "red"
    assert fired(status(facts, tested - SECOND)) == ["RED-CLOSE-CONTACT"]
    assert status(facts, tested).color == "green"


def test_close_contact_is_not_released_by_a_negative_test_taken_before_the_contact() -> None:
    facts = [negative_test(T - HOUR), close_contact()]
    assert status(facts, T + 30 * DAY).color == "red"


def test_close_contact_is_not_released_by_a_positive_test() -> None:
    facts = [close_contact(), negative_test(T + 15 * DAY, result="positive")]
    assert status(facts, T + 16 * DAY).color == "red"


# --- red: isolation orders -----------------------------------------------------------------------

UNTIL = local(17, 12, 0)


def test_isolation_order_is_red_until_its_end_even_with_a_negative_test() -> None:
    facts = [isolation(UNTIL), negative_test(UNTIL - 23 * HOUR)]
    assert status(facts, UNTIL - SECOND).color == "red"
    assert status(facts, UNTIL).color == "green"


def test_isolation_order_is_released_by_a_negative_test_sampled_within_24h_before_its_end() -> None:
    facts = [isolation(UNTIL), negative_test(UNTIL - 24 * HOUR)]
    assert status(facts, UNTIL).color == "green"


def test_isolation_order_is_not_released_by_a_negative_test_sampled_more_than_24h_before_its_end() -> None:
    facts = [isolation(UNTIL), negative_test(UNTIL - 25 * HOUR)]
    assert status(facts, UNTIL + 2 * DAY).color == "red"


def test_isolation_order_past_its_end_turns_green_when_a_negative_test_is_taken() -> None:
    tested = UNTIL + 2 * DAY
    facts = [isolation(UNTIL), negative_test(tested)]
    assert status(facts, tested - SECOND).color == "red"
    assert status(facts, tested).color == "green"


# --- peers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("color", "rule_id"), [("red", "RED-PEER-REGION"), ("yellow", "YELLOW-PEER-REGION")])
def test_another_regions_code_is_honoured_until_it_turns_green(color: str, rule_id: str) -> None:
    facts = [peer(color), peer("green", at=T + 3 * DAY)]
    assert fired(status(facts, T + 3 * DAY - SECOND)) == [rule_id]
    assert status(facts, T + 3 * DAY).color == "green"


def test_the_latest_peer_status_counts() -> None:
    facts = [peer("red"), peer("yellow", at=T + DAY)]
    assert fired(status(facts, T + DAY)) == ["YELLOW-PEER-REGION"]


# --- yellow, released by tests (Guangdong: two negatives >= 24 h apart within 3 days) ---------------


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_turns_green_after_two_negative_tests_24h_apart(trigger: str) -> None:
    make, rule = YELLOW[trigger]
    first, second = T + 2 * HOUR, T + 26 * HOUR
    facts = [make(T), negative_test(first), negative_test(second)]
    assert fired(status(facts, first)) == [f"{rule}-TESTS"]
    assert fired(status(facts, second - SECOND)) == [f"{rule}-TESTS"]
    assert status(facts, second).color == "green"


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_is_released_when_the_second_test_falls_on_the_last_moment_of_the_3_days(
    trigger: str,
) -> None:
    make, _ = YELLOW[trigger]
    facts = [make(T), negative_test(T + 2 * DAY), negative_test(T + 3 * DAY)]
    assert status(facts, T + 3 * DAY).color == "green"


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_stays_yellow_after_two_negative_tests_23h_apart(trigger: str) -> None:
    make, rule = YELLOW[trigger]
    facts = [make(T), negative_test(T + HOUR), negative_test(T + 24 * HOUR)]
    assert fired(status(facts, T + 2 * DAY)) == [f"{rule}-TESTS"]


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_stays_yellow_when_the_second_negative_test_is_on_day_4(trigger: str) -> None:
    make, rule = YELLOW[trigger]
    second = T + 3 * DAY + HOUR
    facts = [make(T), negative_test(T + HOUR), negative_test(second)]
    assert fired(status(facts, second + HOUR)) == [f"{rule}-TESTS"]


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_is_not_released_by_a_negative_test_taken_before_the_trigger(trigger: str) -> None:
    make, rule = YELLOW[trigger]
    facts = [negative_test(T - 30 * HOUR), make(T), negative_test(T + HOUR)]
    assert fired(status(facts, T + 2 * DAY)) == [f"{rule}-TESTS"]


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_is_not_released_by_positive_tests(trigger: str) -> None:
    make, _ = YELLOW[trigger]
    facts = [make(T), negative_test(T + HOUR, "positive"), negative_test(T + 26 * HOUR, "positive")]
    assert status(facts, T + 2 * DAY).color == "yellow"


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_released_by_checkins_ignores_negative_tests(trigger: str) -> None:
    make, rule = YELLOW[trigger]
    facts = [make(T), negative_test(T + HOUR), negative_test(T + 26 * HOUR)]
    assert fired(status(facts, T + 2 * DAY, CHECKINS)) == [f"{rule}-CHECKINS"]


# --- yellow, released by check-ins (Hangzhou: 7 consecutive normal daily check-ins) ----------------


def daily(first_day: int, last_day: int, hour: int = 9) -> list[Fact]:
    return [checkin(local(day, hour)) for day in range(first_day, last_day + 1)]


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_turns_green_after_7_consecutive_normal_daily_checkins(trigger: str) -> None:
    make, rule = YELLOW[trigger]
    facts = [make(T), *daily(5, 11)]
    assert fired(status(facts, local(11, 8, 59), CHECKINS)) == [f"{rule}-CHECKINS"]
    assert status(facts, local(11, 9), CHECKINS).color == "green"
    assert status(facts, local(11, 9), TESTS).color == "yellow"


@pytest.mark.parametrize("trigger", YELLOW)
def test_yellow_code_stays_yellow_after_6_normal_checkins_and_says_how_many(trigger: str) -> None:
    make, _ = YELLOW[trigger]
    result = status([make(T), *daily(5, 10)], local(10, 21), CHECKINS)
    assert result.color == "yellow"
    release = result.reasons[0].release
    assert release is not None
    assert "(6 so far)" in release.en
    assert "目前已连续6天" in release.zh


@pytest.mark.parametrize("trigger", YELLOW)
def test_a_checkin_on_the_day_of_the_trigger_does_not_count(trigger: str) -> None:
    make, _ = YELLOW[trigger]
    facts = [make(T), checkin(local(4, 20)), *daily(5, 10)]
    assert status(facts, local(10, 21), CHECKINS).color == "yellow"


@pytest.mark.parametrize("trigger", YELLOW)
def test_a_missed_day_breaks_the_run_of_checkins(trigger: str) -> None:
    make, _ = YELLOW[trigger]
    facts = [make(T), *daily(5, 7), *daily(9, 14)]  # no check-in on 8 May
    assert status(facts, local(14, 21), CHECKINS).color == "yellow"
    assert status([*facts, checkin(local(15, 9))], local(15, 9), CHECKINS).color == "green"


@pytest.mark.parametrize(
    "abnormal",
    [
        {"temperature": 37.3},
        {"feels_well": False},
        {"symptoms": ["cough"]},
    ],
    ids=["fever", "unwell", "symptom"],
)
def test_an_abnormal_checkin_breaks_the_run_and_is_itself_a_declared_symptom(
    abnormal: dict[str, Any],
) -> None:
    facts = [arrival(T), *daily(5, 7), checkin(local(8, 9), **abnormal), *daily(9, 14)]
    result = status(facts, local(14, 21), CHECKINS)
    assert result.color == "yellow"
    assert set(fired(result)) == {"YELLOW-RISK-AREA-ARRIVAL-CHECKINS", "YELLOW-DECLARED-SYMPTOMS-CHECKINS"}
    declared = next(r for r in result.reasons if r.reason_code == "declared_symptoms")
    assert declared.text.en == "yellow: fever or symptoms declared on 2022-05-08"
    assert status([*facts, checkin(local(15, 9))], local(15, 9), CHECKINS).color == "green"


@pytest.mark.parametrize("trigger", YELLOW)
def test_checkins_are_counted_by_local_date_not_utc_date(trigger: str) -> None:
    make, _ = YELLOW[trigger]
    # 23:50 and 00:10 local alternate: seven consecutive local days, but only four distinct UTC dates.
    times = [local(5, 23, 50), local(6, 0, 10), local(7, 23, 50), local(8, 0, 10)]
    times += [local(9, 23, 50), local(10, 0, 10), local(11, 23, 50)]
    assert len({t.astimezone(UTC).date() for t in times}) == 4
    facts = [make(T), *(checkin(t) for t in times)]
    assert status(facts, local(11, 23, 50) - SECOND, CHECKINS).color == "yellow"
    assert status(facts, local(11, 23, 50), CHECKINS).color == "green"


@pytest.mark.parametrize("trigger", YELLOW)
def test_two_checkins_on_one_local_day_count_once_even_across_a_utc_midnight(trigger: str) -> None:
    make, _ = YELLOW[trigger]
    # 00:10 and 23:50 on 5 May local are 4 and 5 May in UTC: 7 UTC dates, 6 local days.
    times = [local(5, 0, 10), *(local(day, 23, 50) for day in range(5, 11))]
    assert len({t.astimezone(UTC).date() for t in times}) == 7
    result = status([make(T), *(checkin(t) for t in times)], local(10, 23, 55), CHECKINS)
    assert result.color == "yellow"
    release = result.reasons[0].release
    assert release is not None
    assert "(6 so far)" in release.en


@pytest.mark.parametrize("trigger", YELLOW)
def test_the_run_still_counts_in_the_morning_before_todays_checkin(trigger: str) -> None:
    make, _ = YELLOW[trigger]
    facts = [make(T), *daily(5, 11, hour=21)]
    assert status(facts, local(12, 8), CHECKINS).color == "green"


@pytest.mark.parametrize("trigger", YELLOW)
def test_once_released_by_7_checkins_a_later_missed_checkin_does_not_turn_the_code_yellow_again(
    trigger: str,
) -> None:
    make, _ = YELLOW[trigger]
    facts = [make(T), *daily(5, 11)]
    assert status(facts, local(11, 9), CHECKINS).color == "green"
    assert status(facts, local(13, 9), CHECKINS).color == "green"


# --- yellow lapses by itself ----------------------------------------------------------------------


@pytest.mark.parametrize("rules", [TESTS, CHECKINS], ids=["tests", "checkins"])
@pytest.mark.parametrize("trigger", WINDOWED)
def test_yellow_code_lapses_to_green_14_days_after_the_trigger(trigger: str, rules: RuleSet) -> None:
    make, _ = YELLOW[trigger]
    facts = [make(T)]
    assert status(facts, T + 14 * DAY - SECOND, rules).color == "yellow"
    assert status(facts, T + 14 * DAY, rules).color == "green"


@pytest.mark.parametrize("rules", [TESTS, CHECKINS], ids=["tests", "checkins"])
def test_declared_symptoms_lapse_when_the_declaration_expires_after_14_days(rules: RuleSet) -> None:
    facts = [declaration(T)]
    assert status(facts, T + 14 * DAY - SECOND, rules).color == "yellow"
    assert status(facts, T + 14 * DAY, rules).color == "green"


def test_the_arrival_window_runs_from_the_arrival_not_from_when_it_was_recorded() -> None:
    arrived = T - 10 * DAY
    recorded = fact(
        FactKind.RISK_AREA_ARRIVAL, T, {"region": "420106", "level": "high", "arrived_at": iso(arrived)}
    )
    result = status([recorded], T)
    assert result.reasons[0].text.en == "yellow: arrived from a high-risk area (420106) on 2022-04-24"
    assert status([recorded], arrived + 14 * DAY).color == "green"


def test_the_latest_arrival_counts_not_the_latest_report_of_one() -> None:
    """An arrival two days ago keeps the code yellow when a stay that ended 15 days ago is reported after
    it (a transport feed's late record): the rules read the newer arrival, whichever came in last."""
    newer = arrival(T - 2 * DAY, level="high")
    late = fact(
        FactKind.RISK_AREA_ARRIVAL,
        T,
        {"region": "310101", "level": "medium", "arrived_at": iso(T - 15 * DAY)},
        expires=T - 15 * DAY + 21 * DAY,
    )
    for facts in ([newer, late], [late, newer]):
        result = status(facts, T)
        assert fired(result) == ["YELLOW-RISK-AREA-ARRIVAL-TESTS"]
        assert result.reasons[0].text.en == "yellow: arrived from a high-risk area (420106) on 2022-05-02"


# --- combining rules, ignoring facts --------------------------------------------------------------


def test_the_highest_color_wins_and_every_fired_rule_is_a_reason() -> None:
    facts = [companion(), close_contact(), arrival()]
    result = status(facts, T + HOUR)
    assert result.color == "red"
    assert fired(result) == [
        "RED-CLOSE-CONTACT",
        "YELLOW-RISK-AREA-ARRIVAL-TESTS",
        "YELLOW-SPATIOTEMPORAL-COMPANION-TESTS",
    ]
    assert [r.color for r in result.reasons] == ["red", "yellow", "yellow"]


def test_when_the_red_reason_is_released_the_yellow_one_remains() -> None:
    facts = [close_contact(), negative_test(T + DAY), arrival(T + 10 * DAY)]
    assert fired(status(facts, T + 14 * DAY)) == ["YELLOW-RISK-AREA-ARRIVAL-TESTS"]


@pytest.mark.parametrize("state", [FactState.PROPOSED, FactState.REJECTED, FactState.RETRACTED])
def test_facts_that_are_not_active_are_ignored(state: FactState) -> None:
    facts = [fact(FactKind.CASE, T, {"classification": "confirmed"}, state=state)]
    assert status(facts, T + HOUR).color == "green"


def test_an_expired_fact_is_ignored_from_its_expiry_on() -> None:
    facts = [fact(FactKind.CLOSE_CONTACT, T, {}, expires=T + 2 * DAY)]
    assert status(facts, T + 2 * DAY - SECOND).color == "red"
    assert status(facts, T + 2 * DAY).color == "green"


def test_a_fact_is_ignored_before_it_takes_effect() -> None:
    facts = [case("confirmed", at=T + DAY)]
    assert status(facts, T + DAY - SECOND).color == "green"
    assert status(facts, T + DAY).color == "red"


def test_a_rule_outside_its_validity_period_does_not_fire() -> None:
    document = copy.deepcopy(BUNDLED)
    document["rules"][0]["valid_from"] = "2022-05-10T00:00:00+08:00"
    document["rules"][1]["valid_to"] = "2022-05-01T00:00:00+08:00"
    rules = parse_ruleset(document)
    assert status([case("confirmed")], T, rules).color == "green"
    assert status([case("confirmed")], local(10), rules).color == "red"
    assert status([case("suspected")], T, rules).color == "green"


# --- review_at ------------------------------------------------------------------------------------


def test_a_green_status_is_reviewed_within_a_day() -> None:
    assert status([], T).review_at == T + REVIEW_AT_LEAST == T + 24 * HOUR


def test_a_raised_status_is_reviewed_within_an_hour() -> None:
    assert status([close_contact()], T + DAY).review_at == T + DAY + REVIEW_WHILE_RAISED


def test_a_status_is_reviewed_when_its_next_fact_expires() -> None:
    expiring = fact(FactKind.CLOSE_CONTACT, T, {}, expires=T + 30 * 60 * SECOND)
    assert status([expiring], T).review_at == T + 30 * 60 * SECOND


def test_facts_already_expired_do_not_bring_the_review_forward() -> None:
    expired = fact(FactKind.CLOSE_CONTACT, T - 2 * DAY, {}, expires=T - DAY)
    assert status([expired], T).review_at == T + REVIEW_AT_LEAST


def test_a_status_is_reviewed_when_a_future_fact_takes_effect() -> None:
    order = isolation(until=T + 10 * DAY, at=T + 3 * HOUR)
    result = status([order], T)
    assert result.color == "green"
    assert result.review_at <= T + 3 * HOUR


# --- inputs_digest --------------------------------------------------------------------------------


def test_the_inputs_digest_is_stable_for_the_same_facts_and_moment_in_any_order() -> None:
    facts = [close_contact(), arrival(), negative_test(T + HOUR)]
    first = status(facts, T + DAY)
    assert first.inputs_digest == status(list(reversed(facts)), T + DAY).inputs_digest
    assert len(first.inputs_digest) == 64


def test_the_inputs_digest_ignores_facts_the_rules_cannot_see() -> None:
    facts = [close_contact()]
    proposed = fact(FactKind.CASE, T, {"classification": "confirmed"}, state=FactState.PROPOSED)
    expired = fact(FactKind.PEER_STATUS, T - 9 * DAY, {"issuer": "x", "color": "red"}, expires=T)
    assert status([*facts, proposed, expired], T + DAY).inputs_digest == status(facts, T + DAY).inputs_digest


def test_the_inputs_digest_changes_when_the_inputs_change() -> None:
    base = status([close_contact()], T + DAY).inputs_digest
    assert status([close_contact(), negative_test(T + HOUR)], T + DAY).inputs_digest != base
    assert status([close_contact(), arrival()], T + DAY).inputs_digest != base
    assert status([close_contact()], T + DAY, CHECKINS).inputs_digest != base
    assert status([close_contact()], T + 2 * DAY).inputs_digest != base  # "now" is an input


# --- fail closed ------------------------------------------------------------------------------------


def test_a_rule_that_yields_a_value_neither_true_nor_false_raises_instead_of_deciding() -> None:
    document = copy.deepcopy(BUNDLED)
    document["rules"][0]["logic"] = {"var": "params.fever_celsius"}  # 37.3
    rules = parse_ruleset(document)
    with pytest.raises(RuleError) as raised:
        status([], T, rules)
    assert raised.value.reason == RULE_EVALUATION_FAILED
    assert "RED-CASE-CONFIRMED" in raised.value.message.en
