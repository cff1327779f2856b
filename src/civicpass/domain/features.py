"""The data a rule sees: facts turned into one JSON document per resident (the rules' "payload").

Rules are CertLogic expressions, and CertLogic deliberately has no loops over time series. So, as the EU
DCC rules read a certificate payload, civicpass rules read this document, built by one published function
(version ``FEATURES_VERSION``, documented field by field in docs/rules.md)::

    {"now": "2022-05-03T08:00:00Z", "params": {...the rule set's parameters...},
     "case":              {"active", "classification", "since"} | null,
     "close_contact" | "secondary_contact" | "companion" | "declaration" | "arrival":
                          {"active", "since", "tests_released", "checkins_released", "normal_checkins",
                           "negative_test_after", ...} | null,
     "isolation":         {"active", "since", "until", "negative_test_at_end"} | null,
     "peer":              {"active", "color", "issuer", "since"} | null}

Times are ISO 8601 UTC strings, which CertLogic's ``plusTime`` turns into date-times. Only facts that hold
at ``now`` (active, in effect, not expired) count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from civicpass.domain.facts import CASE_CLASSES, Fact, FactKind

FEATURES_VERSION = 1
DEFAULT_PARAMETERS: dict[str, Any] = {
    "fever_celsius": 37.3,
    "release_test_window_days": 3,
    "release_test_gap_hours": 24,
    "release_checkin_days": 7,
    "yellow_release": "tests",
}
PARAMETER_CHOICES: dict[str, tuple[str, ...]] = {"yellow_release": ("tests", "checkins")}
LEVEL_ZH = {"high": "高", "medium": "中"}
PLACE_ZH = {"home": "居家", "facility": "集中"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _latest_by_kind(facts: Sequence[Fact]) -> dict[FactKind, Fact]:
    """The newest fact of each kind (by effective time, then recording time), in one pass."""
    latest: dict[FactKind, Fact] = {}
    for fact in facts:
        held = latest.get(fact.kind)
        if held is None or (fact.effective_at, fact.recorded_at) > (held.effective_at, held.recorded_at):
            latest[fact.kind] = fact
    return latest


class _Evidence:
    """Negative tests and daily check-ins, indexed once per evaluation."""

    def __init__(self, facts: Sequence[Fact], params: Mapping[str, Any], zone: tzinfo) -> None:
        fever = float(params["fever_celsius"])
        self.negatives = sorted(
            parse_time(str(f.data["sampled_at"]))
            for f in facts
            if f.kind is FactKind.TEST_RESULT and f.data.get("result") == "negative"
        )
        self.window = timedelta(days=int(params["release_test_window_days"]))
        self.gap = timedelta(hours=int(params["release_test_gap_hours"]))
        self.zone = zone
        days: dict[date, bool] = {}
        for f in facts:
            if f.kind is FactKind.DAILY_CHECKIN:
                day = f.effective_at.astimezone(zone).date()
                normal = bool(f.data.get("feels_well")) and float(f.data["temperature_c"]) < fever
                normal = normal and not f.data.get("symptoms")
                days[day] = days.get(day, True) and normal
        self.checkin_days = days

    def tests_released(self, since: datetime) -> bool:
        """Two negative samples at least ``gap`` apart, both within ``window`` after ``since``."""
        inside = [t for t in self.negatives if since <= t <= since + self.window]
        return bool(inside) and inside[-1] - inside[0] >= self.gap

    def negative_after(self, moment: datetime) -> bool:
        return any(t >= moment for t in self.negatives)

    def normal_checkins(self, since: datetime, now: datetime) -> int:
        """The current run: consecutive normal check-in days after the day of ``since``, ending today or yesterday."""
        first = since.astimezone(self.zone).date() + timedelta(days=1)
        day = now.astimezone(self.zone).date()
        if day not in self.checkin_days:
            day -= timedelta(days=1)
        count = 0
        while day >= first and self.checkin_days.get(day):
            count += 1
            day -= timedelta(days=1)
        return count

    def longest_normal_run(self, since: datetime, now: datetime) -> int:
        """The longest run of consecutive normal check-in days after the day of ``since`` up to today.

        Release is sticky: once the required run happened, a later missed day does not undo it.
        """
        first = since.astimezone(self.zone).date() + timedelta(days=1)
        last = now.astimezone(self.zone).date()
        best = run = 0
        day = first
        while day <= last:
            run = run + 1 if self.checkin_days.get(day) else 0
            best = max(best, run)
            day += timedelta(days=1)
        return best


def _trigger(
    since: datetime, evidence: _Evidence, now: datetime, params: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "active": True,
        "since": iso(since),
        "tests_released": evidence.tests_released(since),
        "normal_checkins": evidence.normal_checkins(since, now),
        "checkins_released": evidence.longest_normal_run(since, now) >= int(params["release_checkin_days"]),
        "negative_test_after": evidence.negative_after(since),
    }


def _is_abnormal(fact: Fact, fever: float) -> bool:
    if float(fact.data.get("temperature_c", 0)) >= fever or fact.data.get("symptoms"):
        return True
    return fact.kind is FactKind.DAILY_CHECKIN and fact.data.get("feels_well") is False


def build_context(
    facts: Sequence[Fact], now: datetime, parameters: Mapping[str, Any], zone: tzinfo
) -> dict[str, Any]:
    """The rules' data document for one resident at ``now``."""
    params = {**DEFAULT_PARAMETERS, **parameters}
    live = [f for f in facts if f.holds_at(now)]
    evidence = _Evidence(live, params, zone)
    context: dict[str, Any] = {"now": iso(now), "params": params}
    latest = _latest_by_kind(live)

    case = latest.get(FactKind.CASE)
    context["case"] = (
        {"active": True, "classification": case.data["classification"], "since": iso(case.effective_at)}
        if case is not None and case.data.get("classification") in CASE_CLASSES
        else None
    )
    for kind, key in (
        (FactKind.CLOSE_CONTACT, "close_contact"),
        (FactKind.SECONDARY_CONTACT, "secondary_contact"),
        (FactKind.SPATIOTEMPORAL_COMPANION, "companion"),
    ):
        fact = latest.get(kind)
        context[key] = None if fact is None else _trigger(fact.effective_at, evidence, now, params)

    fever = float(params["fever_celsius"])
    abnormal = [
        f
        for f in live
        if f.kind in (FactKind.HEALTH_DECLARATION, FactKind.DAILY_CHECKIN) and _is_abnormal(f, fever)
    ]
    declared = max(abnormal, key=lambda f: f.effective_at, default=None)
    context["declaration"] = None
    if declared is not None:
        context["declaration"] = {
            **_trigger(declared.effective_at, evidence, now, params),
            "fever": float(declared.data.get("temperature_c", 0)) >= fever,
            "symptoms": sorted(declared.data.get("symptoms") or []),
        }

    # the latest arrival, not the latest report of one: a stay a feed sends late must not hide a newer one
    arrival = max(
        (f for f in live if f.kind is FactKind.RISK_AREA_ARRIVAL),
        key=lambda f: (parse_time(str(f.data["arrived_at"])), f.effective_at, f.recorded_at),
        default=None,
    )
    context["arrival"] = None
    if arrival is not None:
        arrived = parse_time(str(arrival.data["arrived_at"]))
        context["arrival"] = {
            **_trigger(arrived, evidence, now, params),
            "level": arrival.data["level"],
            "level_zh": LEVEL_ZH[str(arrival.data["level"])],
            "region": arrival.data["region"],
        }

    order = latest.get(FactKind.ISOLATION_ORDER)
    context["isolation"] = None
    if order is not None:
        until = parse_time(str(order.data["until"]))
        context["isolation"] = {
            "active": True,
            "since": iso(order.effective_at),
            "until": iso(until),
            "place": order.data["place"],
            "place_zh": PLACE_ZH[str(order.data["place"])],
            "negative_test_at_end": evidence.negative_after(until - evidence.gap),
        }

    peer = latest.get(FactKind.PEER_STATUS)
    context["peer"] = (
        None
        if peer is None
        else {
            "active": True,
            "color": peer.data["color"],
            "issuer": peer.data["issuer"],
            "since": iso(peer.effective_at),
        }
    )
    return context
