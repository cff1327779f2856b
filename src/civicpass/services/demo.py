"""A synthetic demo city (Guangzhou's districts) so a newcomer sees every screen with data.

Everything is generated from a seeded random number generator: names, valid resident ID numbers,
phones in the 199 test range, dependents with guardians, venues and one staff account per role.
Seeding is idempotent: a marker in the database says it was done.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civicpass.domain.identity import Document, DocumentType, gb11643_check_character
from civicpass.domain.residents import Guardianship, PersonalData, Relation, Resident, ResidentKind
from civicpass.domain.staff import Role
from civicpass.domain.venues import Venue, VenueKind
from civicpass.services.context import Deps
from civicpass.services.staff import NewStaff, create_staff

DEMO_CITY = "440100"
DEMO_DISTRICTS = (
    "440103",
    "440104",
    "440105",
    "440106",
    "440111",
    "440112",
    "440113",
    "440114",
    "440115",
    "440117",
    "440118",
)
MARKER = "demo_seed"
OPERATED_VENUES = 3
"""The first venues belong to the demo venue operator, so that a newcomer sees their display pages."""
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鑫斌宇浩凯健俊帆帅旭宁龙林欣佳怡晨阳雪琳晓峰文辉力梅婷倩颖慧"
_STREETS = (
    "中山路",
    "解放路",
    "天河路",
    "珠江路",
    "环市路",
    "东风路",
    "越秀路",
    "江南大道",
    "广州大道",
    "黄埔大道",
)
_VENUES = ("市场", "餐厅", "写字楼", "学校", "医院", "地铁站", "小区")


@dataclass(frozen=True)
class DemoStaff:
    username: str
    password: str
    role: Role


@dataclass(frozen=True)
class DemoReport:
    created: bool
    residents: int
    dependents: int
    venues: int
    staff: list[DemoStaff]


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _resident_id(rng: random.Random, district: str, born: date) -> str:
    first17 = f"{district}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + gb11643_check_character(first17)


def demo_staff_passwords(secret: str) -> list[DemoStaff]:
    """One account per role; passwords derive from the instance's development secret, so each start prints them."""
    return [
        DemoStaff(
            f"demo-{role.value.replace('_', '-')}",
            hashlib.sha256(f"{secret}:{role.value}".encode()).hexdigest()[:16],
            role,
        )
        for role in Role
    ]


def make_people(
    deps: Deps, rng: random.Random, residents: int, now: datetime, phone_prefix: str = "+86199"
) -> tuple[list[Resident], list[Guardianship]]:
    """``residents`` synthetic people of the demo districts (about 12% dependents with a guardian)."""
    people: list[Resident] = []
    links: list[Guardianship] = []
    used: set[str] = set()
    while len(people) < residents:
        district = rng.choice(DEMO_DISTRICTS)
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
        number = _resident_id(rng, district, born)
        if number in used:
            continue
        used.add(number)
        phone = f"{phone_prefix}{len(people):08d}"
        address = f"广州市{rng.choice(_STREETS)}{rng.randrange(1, 999)}号"
        guardian = Resident(
            deps.random.new_id(),
            deps.random.token(),
            ResidentKind.SELF,
            PersonalData(_name(rng), Document(DocumentType.RESIDENT_ID, number, "CHN"), phone, address),
            born,
            district,
            True,
            now,
        )
        people.append(guardian)
        if rng.random() < 0.12 and len(people) < residents:
            child_born = date(2012, 1, 1) + timedelta(days=rng.randrange(365 * 10))
            child = Resident(
                deps.random.new_id(),
                deps.random.token(),
                ResidentKind.DEPENDENT,
                PersonalData(_name(rng), Document(DocumentType.NONE, None), None, address),
                child_born,
                district,
                True,
                now,
            )
            people.append(child)
            links.append(Guardianship(guardian.id, child.id, Relation.PARENT.value, now))
    return people, links


def seed_demo_city(deps: Deps, residents: int, secret: str, seed: int = 2020) -> DemoReport:
    staff = demo_staff_passwords(secret)
    with deps.uow() as uow:
        missing = [account for account in staff if uow.staff.by_username(account.username) is None]
        seeded = uow.meta.get(MARKER) is not None
    for account in missing:
        create_staff(
            deps,
            None,
            NewStaff(
                account.username, account.password, account.role, DEMO_CITY, f"Demo {account.role.value}"
            ),
        )
    if seeded:
        with deps.uow() as uow:
            return DemoReport(False, uow.residents.count(), 0, uow.venues.count(), staff)
    rng = random.Random(seed)  # noqa: S311 - synthetic demo data, not security
    now = deps.clock.now()
    people, links = make_people(deps, rng, residents, now)
    dependents = len(links)
    with deps.uow() as uow:  # the demo venue operator runs the first venues (their display pages work)
        operator = uow.staff.by_username(f"demo-{Role.VENUE_OPERATOR.value.replace('_', '-')}")
    venues = [
        Venue(
            deps.random.new_id(),
            f"{rng.choice(_STREETS)}{rng.choice(_VENUES)}{i}",
            rng.choice(list(VenueKind)),
            rng.choice(DEMO_DISTRICTS),
            now,
            operator_id=operator.id if operator is not None and i < OPERATED_VENUES else None,
        )
        for i in range(max(residents // 50, 10))
    ]
    with deps.uow() as uow:
        uow.residents.add_many(people)
        uow.guardianships.add_many(links)
        uow.venues.add_many(venues)
        uow.meta.put(MARKER, now.isoformat())
        uow.commit()
    return DemoReport(True, len(people), dependents, len(venues), staff)
