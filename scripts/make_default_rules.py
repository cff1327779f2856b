"""Write src/civicpass/data/rulesets/default.json, the default rule set (see docs/rules.md).

The rule set is data; this script only keeps its 15 CertLogic expressions consistent while they are
written. Run from the repository root: python scripts/make_default_rules.py
"""

import json
from pathlib import Path
from typing import Any

NOW = {"plusTime": [{"var": "now"}, 0, "day"]}
VALID_FROM = "2020-02-11T00:00:00+08:00"


def within(path: str, days: int) -> dict[str, Any]:
    return {"before": [NOW, {"plusTime": [{"var": f"{path}.since"}, days, "day"]}]}


def release_mode(mode: str) -> dict[str, Any]:
    return {"===": [{"var": "params.yellow_release"}, mode]}


RELEASE = {
    "tests": {
        "en": "turns green after two negative tests at least 24 hours apart within 3 days",
        "zh-CN": "3天内完成2次间隔至少24小时的核酸检测且结果均为阴性后转绿码",
    },
    "checkins": {
        "en": "turns green after 7 consecutive normal daily health check-ins ({path}.normal_checkins so far)",
        "zh-CN": "连续7天健康打卡正常后转绿码（目前已连续{path}.normal_checkins天）",
    },
}


def yellow(
    ident: str, path: str, reason: str, text: dict[str, str], source: str, window: int | None
) -> list[dict[str, Any]]:
    rules = []
    for mode, suffix, released in (
        ("tests", "TESTS", "tests_released"),
        ("checkins", "CHECKINS", "checkins_released"),
    ):
        condition: list[Any] = [{"var": f"{path}.active"}, release_mode(mode)]
        if window is not None:
            condition.append(within(path, window))
        condition.append({"!": [{"var": f"{path}.{released}"}]})
        release = {
            k: v.replace("{path}.normal_checkins", "{" + path + ".normal_checkins}")
            for k, v in RELEASE[mode].items()
        }
        rules.append(
            {
                "identifier": f"{ident}-{suffix}",
                "color": "yellow",
                "reason_code": reason,
                "logic": {"and": condition},
                "description": text,
                "release": release,
                "source": source
                + (
                    " Release by tests: Guangdong." if mode == "tests" else " Release by check-ins: Hangzhou."
                ),
            }
        )
    return rules


RULES: list[dict[str, Any]] = [
    {
        "identifier": "RED-CASE-CONFIRMED",
        "color": "red",
        "reason_code": "confirmed_case",
        "logic": {"===": [{"var": "case.classification"}, "confirmed"]},
        "description": {
            "en": "red: confirmed case since {case.since|date}",
            "zh-CN": "红码：自{case.since|date}起为确诊病例",
        },
        "release": {"en": "turns green when the CDC records recovery", "zh-CN": "疾控机构登记康复后转绿码"},
        "source": "Guangdong 粤康码, Hangzhou and Shanghai 随申码 rules: confirmed cases are red.",
    },
    {
        "identifier": "RED-CASE-SUSPECTED",
        "color": "red",
        "reason_code": "suspected_case",
        "logic": {"===": [{"var": "case.classification"}, "suspected"]},
        "description": {
            "en": "red: suspected case since {case.since|date}",
            "zh-CN": "红码：自{case.since|date}起为疑似病例",
        },
        "release": {
            "en": "turns green when the CDC excludes the case or records recovery",
            "zh-CN": "疾控机构排除疑似或登记康复后转绿码",
        },
        "source": "Guangdong 粤康码 and Hangzhou rules: suspected cases are red.",
    },
    {
        "identifier": "RED-CASE-ASYMPTOMATIC",
        "color": "red",
        "reason_code": "asymptomatic_case",
        "logic": {"===": [{"var": "case.classification"}, "asymptomatic"]},
        "description": {
            "en": "red: asymptomatic infection since {case.since|date}",
            "zh-CN": "红码：自{case.since|date}起为无症状感染者",
        },
        "release": {"en": "turns green when the CDC records recovery", "zh-CN": "疾控机构登记康复后转绿码"},
        "source": "Guangdong 粤康码 rules: asymptomatic infections are red.",
    },
    {
        "identifier": "RED-CLOSE-CONTACT",
        "color": "red",
        "reason_code": "close_contact",
        "logic": {
            "and": [
                {"var": "close_contact.active"},
                {"if": [{"var": "close_contact.negative_test_after"}, within("close_contact", 14), True]},
            ]
        },
        "description": {
            "en": "red: close contact of a case since {close_contact.since|date}",
            "zh-CN": "红码：自{close_contact.since|date}起为病例的密切接触者",
        },
        "release": {
            "en": "turns green 14 days after the contact, once a negative test has been taken",
            "zh-CN": "接触后满14天且核酸检测阴性后转绿码",
        },
        "source": "Hangzhou and Shanghai 随申码 rules: close contacts are red for the 14-day quarantine.",
    },
    {
        "identifier": "RED-ISOLATION-ORDER",
        "color": "red",
        "reason_code": "isolation_order",
        "logic": {
            "and": [
                {"var": "isolation.active"},
                {
                    "if": [
                        {"var": "isolation.negative_test_at_end"},
                        {"before": [NOW, {"plusTime": [{"var": "isolation.until"}, 0, "day"]}]},
                        True,
                    ]
                },
            ]
        },
        "description": {
            "en": "red: under a {isolation.place} isolation order until {isolation.until|datetime}",
            "zh-CN": "红码：{isolation.place_zh}隔离至{isolation.until|datetime}",
        },
        "release": {
            "en": "turns green after the isolation order ends on {isolation.until|date} and a negative test",
            "zh-CN": "隔离期于{isolation.until|date}结束且核酸检测阴性后转绿码",
        },
        "source": "Guangdong 粤康码 rules: people under centralised or home isolation are red until released.",
    },
    {
        "identifier": "RED-PEER-REGION",
        "color": "red",
        "reason_code": "peer_red",
        "logic": {"===": [{"var": "peer.color"}, "red"]},
        "description": {
            "en": "red: the health code of {peer.issuer} is red",
            "zh-CN": "红码：{peer.issuer}健康码为红码",
        },
        "release": {
            "en": "turns green when the other region's code does",
            "zh-CN": "随对方地区健康码转绿而转绿",
        },
        "source": "National mutual recognition of health codes (2020): another region's red code is honoured.",
    },
    {
        "identifier": "YELLOW-PEER-REGION",
        "color": "yellow",
        "reason_code": "peer_yellow",
        "logic": {"===": [{"var": "peer.color"}, "yellow"]},
        "description": {
            "en": "yellow: the health code of {peer.issuer} is yellow",
            "zh-CN": "黄码：{peer.issuer}健康码为黄码",
        },
        "release": {
            "en": "turns green when the other region's code does",
            "zh-CN": "随对方地区健康码转绿而转绿",
        },
        "source": "National mutual recognition of health codes (2020): another region's yellow code is honoured.",
    },
    *yellow(
        "YELLOW-DECLARED-SYMPTOMS",
        "declaration",
        "declared_symptoms",
        {
            "en": "yellow: fever or symptoms declared on {declaration.since|date}",
            "zh-CN": "黄码：于{declaration.since|date}申报发热或有症状",
        },
        "Hangzhou health code (2020-02): declared fever or respiratory symptoms give yellow.",
        14,
    ),
    *yellow(
        "YELLOW-RISK-AREA-ARRIVAL",
        "arrival",
        "risk_area_arrival",
        {
            "en": "yellow: arrived from a {arrival.level}-risk area ({arrival.region}) on {arrival.since|date}",
            "zh-CN": "黄码：于{arrival.since|date}从{arrival.region}（{arrival.level_zh}风险地区）抵达",
        },
        "Guangdong 粤康码 rules: arrivals from medium- and high-risk areas are yellow ('3 days, 2 tests', 三天两检).",
        14,
    ),
    *yellow(
        "YELLOW-SPATIOTEMPORAL-COMPANION",
        "companion",
        "spatiotemporal_companion",
        {
            "en": "yellow: spatio-temporal companion of a case on {companion.since|date}",
            "zh-CN": "黄码：于{companion.since|date}与病例存在时空交集",
        },
        "Guangdong and Shanghai rules (2022): spatio-temporal companions (时空伴随者) are yellow until tested.",
        14,
    ),
    *yellow(
        "YELLOW-SECONDARY-CONTACT",
        "secondary_contact",
        "secondary_contact",
        {
            "en": "yellow: contact of a close contact since {secondary_contact.since|date}",
            "zh-CN": "黄码：自{secondary_contact.since|date}起为密接的密接",
        },
        "Hangzhou and Shanghai rules: secondary contacts (密接的密接) are yellow.",
        14,
    ),
]

ORDER = (
    "identifier",
    "version",
    "valid_from",
    "valid_to",
    "description",
    "logic",
    "color",
    "reason_code",
    "release",
    "source",
)
document = {
    "identifier": "civicpass-default",
    "name": {
        "en": "civicpass default rules (modelled on Guangdong, Hangzhou and Shanghai)",
        "zh-CN": "civicpass默认赋码规则（参照广东、杭州、上海）",
    },
    "colors": ["green", "yellow", "red"],
    "parameters": {
        "yellow_release": "tests",
        "release_test_window_days": 3,
        "release_test_gap_hours": 24,
        "release_checkin_days": 7,
        "fever_celsius": 37.3,
    },
    "rules": [
        {key: {**rule, "version": "1.0.0", "valid_from": VALID_FROM, "valid_to": None}[key] for key in ORDER}
        for rule in RULES
    ],
}
path = Path("src/civicpass/data/rulesets/default.json")
path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"{len(RULES)} rules -> {path}")
